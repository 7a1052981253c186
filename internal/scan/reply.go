package scan

import (
	"fmt"
	"strings"
)

// maxSignatureLen bounds a signature name kept from a verdict. ClamAV's
// names are well under 100 characters.
const maxSignatureLen = 256

// parseReply reads clamd's answer to INSTREAM (without its terminating NUL):
//
//	stream: OK                          → clean
//	stream: <signature> FOUND           → infected
//	INSTREAM size limit exceeded. ERROR → ErrTooLarge
//	<anything else> ERROR               → ErrUnavailable (no verdict)
//
// Anything else is not a verdict and matches ErrUnavailable. A nil error
// always comes with a verdict: Clean with no signature, or not Clean with a
// signature that is printable ASCII, not blank, and at most maxSignatureLen
// bytes long.
func parseReply(reply string) (Result, error) {
	const prefix, found, failed = "stream: ", " FOUND", " ERROR"
	switch {
	case reply == prefix+"OK":
		return Result{Clean: true}, nil
	case strings.HasSuffix(reply, failed):
		msg := strings.TrimSuffix(reply, failed)
		if strings.Contains(msg, "size limit exceeded") {
			return Result{}, fmt.Errorf("scan: clamd: %s: %w", truncate(msg), ErrTooLarge)
		}
		return Result{}, &unavailableError{op: "scan", err: fmt.Errorf("clamd: %s", truncate(msg))}
	case len(reply) >= len(prefix)+len(found) && strings.HasPrefix(reply, prefix) && strings.HasSuffix(reply, found):
		// clamd found something: whatever the name looks like, the stream
		// is infected. The name is only made safe to show and log.
		sig := sanitize(reply[len(prefix) : len(reply)-len(found)])
		if strings.TrimSpace(sig) == "" {
			return Result{}, &unavailableError{op: "scan", err: fmt.Errorf("verdict without a signature: %q", truncate(reply))}
		}
		return Result{Signature: sig}, nil
	default:
		return Result{}, &unavailableError{op: "scan", err: fmt.Errorf("not a verdict: %q", truncate(reply))}
	}
}

// printable reports whether s is non-empty printable ASCII.
func printable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// sanitize makes a signature name printable ASCII of bounded length.
func sanitize(s string) string {
	if len(s) > maxSignatureLen {
		s = s[:maxSignatureLen]
	}
	if printable(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const n = 120
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
