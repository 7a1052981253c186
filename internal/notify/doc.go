// Package notify sends Valv's outgoing notifications: e-mail over SMTP and
// signed webhooks.
//
// Mail: a [Message] is rendered from one of the embedded templates with
// [Render] (Swedish and English, subject + plain text + HTML) and handed to a
// [Mailer]: [SMTP] in production, [Log] during development, [Discard] where
// mail does not matter. [SMTP] speaks STARTTLS by default and refuses to send
// when the server does not offer it.
//
// Webhooks follow the Standard Webhooks specification
// (https://www.standardwebhooks.com): [Sign] and [Verify] the
// webhook-id/webhook-timestamp/webhook-signature headers, with secrets in the
// whsec_ form, and [WebhookSender] posts signed JSON over HTTPS.
//
// Invariants:
//   - Errors and log lines MUST NOT contain personal data or secrets: no
//     recipient address, subject or body of a mail, no SMTP password, no
//     webhook URL path or query. [SendError] scrubs anything that looks like an
//     address from the server's replies, and [Log] records only the template
//     name, language and number of recipients.
//   - Every value put into an HTML template is escaped by html/template; the
//     templates never use template.HTML or other trusted-content types.
//   - Every template exists in Swedish and English and renders with its sample
//     data; a test enforces both. An unknown language falls back to English.
//   - Mail is sent over TLS (STARTTLS or implicit TLS, TLS 1.2 or newer,
//     certificate verified) unless the operator explicitly chose the "none"
//     policy, which is accepted only for a loopback address.
//   - Webhook signatures are compared in constant time, and a timestamp outside
//     the tolerance (5 minutes by default) is refused. Webhooks go only to
//     https:// URLs, with TLS 1.2 or newer, and redirects are not followed.
//
// notify is a leaf: it imports no Valv package but config (for the Secret
// type).
package notify
