package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/access"
	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/authz"
)

// newAccessCmd is operator access at the console (OPS-1): the console's
// operator is a security operator named by the OS user, so two people at
// the console can each approve the other's request, never their own.
func newAccessCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "access",
		Short: "Request, approve, deny, revoke and list operators' access to tenants' data",
	}
	var in access.RequestInput
	var scope string
	var glass, reqJSON bool
	request := &cobra.Command{
		Use:   "request",
		Short: "Ask for time-boxed read access to one scope of a tenant's data",
		Long: `Ask for read access to a tenant's data: the documents of one type
(--scope documents_of_type --type invoice), one document (--scope document
--document <id>), the audit trail (--scope audit) or messages (--scope
messages). A security operator other than you approves or denies it; where
the tenant asks for consent, its owner consents too. With --break-glass a
security operator takes emergency access at once: at most one hour, and every
security operator and the tenant's owners are mailed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in.Scope = authz.GrantScope(scope)
			return e.withApp(cmd, func(a *app.App) error {
				file := a.Access.File
				if glass {
					file = a.Access.BreakGlass
				}
				r, err := file(cmd.Context(), e.principal(), in)
				if err != nil {
					return err
				}
				if reqJSON {
					return json.NewEncoder(e.Stdout).Encode(r)
				}
				if glass {
					fmt.Fprintf(e.Stdout, "Break-glass access %s is active until %s. Security operators and the tenant's owners have been told.\n",
						r.ID, r.Expires.Format(time.RFC3339))
					return nil
				}
				fmt.Fprintf(e.Stdout, "Access request %s filed; it waits for another security operator's decision.\n", r.ID)
				return nil
			})
		},
	}
	f := request.Flags()
	f.StringVar(&in.Tenant, "tenant", "", "the tenant's id (valv tenant list)")
	f.StringVar(&scope, "scope", "", "documents_of_type, document, audit or messages")
	f.StringVar(&in.DocumentType, "type", "", "the document type, for --scope documents_of_type")
	f.StringVar(&in.DocumentID, "document", "", "the document's id, for --scope document")
	f.StringVar(&in.Reason, "reason", "", "why the access is needed (the tenant sees it)")
	f.StringVar(&in.Ticket, "ticket", "", "a reference to the support case")
	f.StringVar(&in.Duration, "duration", "1h", "how long the grant lasts once active")
	f.BoolVar(&glass, "break-glass", false, "emergency access at once, without an approval (at most 1h)")
	f.BoolVar(&reqJSON, "json", false, "print the request as JSON")
	for _, name := range []string{"tenant", "scope", "reason"} {
		_ = request.MarkFlagRequired(name)
	}

	decide := func(verdict string) *cobra.Command {
		var comment string
		c := &cobra.Command{
			Use:   verdict + " <request-id>",
			Short: map[string]string{"approve": "Approve another operator's pending request", "deny": "Deny another operator's pending request"}[verdict],
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return e.withApp(cmd, func(a *app.App) error {
					r, err := a.Access.Decide(cmd.Context(), e.principal(), args[0], access.Decision{Decision: verdict, Comment: comment})
					if err != nil {
						return err
					}
					fmt.Fprintf(e.Stdout, "Request %s is now %s.\n", r.ID, r.State)
					return nil
				})
			},
		}
		c.Flags().StringVar(&comment, "comment", "", "why (kept in the audit trail; the tenant sees it)")
		_ = c.MarkFlagRequired("comment")
		return c
	}

	var revokeComment string
	revoke := &cobra.Command{
		Use:   "revoke <request-id>",
		Short: "End a grant, or withdraw a request; access stops on the operator's next request",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				r, err := a.Access.Revoke(cmd.Context(), e.principal(), args[0], access.Revocation{Comment: revokeComment})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "Request %s is now %s.\n", r.ID, r.State)
				return nil
			})
		},
	}
	revoke.Flags().StringVar(&revokeComment, "comment", "", "why (kept in the audit trail)")

	var lf access.Filter
	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List access requests, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				var all []access.Request
				cursor := ""
				for {
					page, next, err := a.Access.List(cmd.Context(), e.principal(), lf, cursor, access.MaxPage)
					if err != nil {
						return err
					}
					all = append(all, page...)
					if next == "" {
						break
					}
					cursor = next
				}
				if listJSON {
					return json.NewEncoder(e.Stdout).Encode(all)
				}
				tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTENANT\tREQUESTER\tSCOPE\tSTATE\tEXPIRES\tREASON")
				for _, r := range all {
					sc := string(r.Scope)
					if r.DocumentType != "" || r.DocumentID != "" {
						sc += ":" + r.DocumentType + r.DocumentID
					}
					if r.BreakGlass {
						sc += " (break-glass)"
					}
					exp := "-"
					if r.Expires != nil {
						exp = r.Expires.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.TenantID, r.Requester, sc, r.State, exp, oneLine(r.Reason, 60))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&lf.Tenant, "tenant", "", "only requests for this tenant")
	list.Flags().StringVar(&lf.State, "state", "", "only requests in this state (pending, awaiting_consent, active, ...)")
	list.Flags().BoolVar(&listJSON, "json", false, "print the requests as JSON")

	cmd.AddCommand(request, decide("approve"), decide("deny"), revoke, list)
	return cmd
}

// oneLine shortens s to n runes on one line, for a table.
func oneLine(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' || c == '\r' || c == '\t' {
			r[i] = ' '
		}
	}
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}
