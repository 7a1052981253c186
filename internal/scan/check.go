package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/valvhq/valv/internal/problem"
)

// Errors, checked with errors.Is.
var (
	// ErrInfected: clamd found malware. Scan reports it as a Result, Check
	// as an error (a *problem.Error whose cause is an *InfectedError).
	ErrInfected = errors.New("scan: malware found")
	// ErrTooLarge: the stream is longer than Config.MaxStreamSize or than
	// clamd's StreamMaxLength.
	ErrTooLarge = errors.New("scan: stream too large to scan")
	// ErrUnavailable: clamd could not be reached, or gave no verdict (a
	// timeout, a lost connection, an ERROR reply, a reply that is not
	// clamd's).
	ErrUnavailable = errors.New("scan: clamd unavailable")
	// ErrNotScanned: under FailOpen, Check could not reach clamd at all. The
	// error still also matches ErrUnavailable, so a caller that does not
	// test for ErrNotScanned fails closed.
	ErrNotScanned = errors.New("scan: file not scanned (fail-open policy)")
)

// Codes of the problems Check returns.
const (
	CodeMalwareDetected    = "malware_detected"
	CodeScannerUnavailable = "scanner_unavailable"
	CodeTooLargeToScan     = "file_too_large_to_scan"
)

// unavailableError is an ErrUnavailable with what failed.
type unavailableError struct {
	op  string
	err error
	// unreached is true when no connection to clamd was made, so no byte of
	// the file was sent. Only then may FailOpen apply.
	unreached bool
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("scan: clamd unavailable: %s: %v", e.op, e.err)
}

func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// InfectedError is the cause of Check's malware_detected problem, for the
// log and the audit trail.
type InfectedError struct {
	Signature string
}

func (e *InfectedError) Error() string { return "scan: malware found: " + e.Signature }

// Is makes an *InfectedError match ErrInfected.
func (e *InfectedError) Is(target error) bool { return target == ErrInfected }

// Policy says what Check does when clamd cannot be reached.
type Policy int

const (
	// FailClosed refuses the file (503 scanner_unavailable). The default.
	FailClosed Policy = iota
	// FailOpen lets the caller store the file unscanned: Check's error then
	// also matches ErrNotScanned. Callers that store such a file MUST audit
	// it. It applies only when clamd could not be connected to at all.
	FailOpen
)

func (p Policy) String() string {
	switch p {
	case FailClosed:
		return "fail-closed"
	case FailOpen:
		return "fail-open"
	default:
		return fmt.Sprintf("policy(%d)", int(p))
	}
}

// Scanner is what an upload path needs: nil for a clean file, or an error
// to return (a *problem.Error, or the reader's or the context's error).
type Scanner interface {
	Check(ctx context.Context, r io.Reader) error
}

// Check scans r and turns the outcome into what the HTTP edge shows:
//
//   - clean: nil;
//   - infected: Infected (422 malware_detected), matching ErrInfected;
//   - too large: TooLarge (413 file_too_large_to_scan), matching ErrTooLarge;
//   - clamd unavailable: Unavailable (503 scanner_unavailable), matching
//     ErrUnavailable and, under FailOpen when clamd was not reached, also
//     ErrNotScanned;
//   - otherwise Scan's error: the reader's or the context's.
//
// A caller with FailOpen configured stores the file on ErrNotScanned only,
// and MUST audit that it did:
//
//	err := sc.Check(ctx, f)
//	if errors.Is(err, scan.ErrNotScanned) {
//		// audit "stored unscanned", then go on
//	} else if err != nil {
//		return err
//	}
func (c *Clamd) Check(ctx context.Context, r io.Reader) error {
	res, err := c.Scan(ctx, r)
	switch {
	case err == nil && res.Clean:
		return nil
	case err == nil:
		return Infected(res.Signature)
	case errors.Is(err, ErrTooLarge):
		return TooLarge(err)
	case errors.Is(err, ErrUnavailable):
		var ue *unavailableError
		if c.cfg.Policy == FailOpen && errors.As(err, &ue) && ue.unreached {
			err = fmt.Errorf("%w: %w", ErrNotScanned, err)
		}
		return Unavailable(err, c.cfg.RetryAfter)
	default:
		return err
	}
}

// Infected is the problem for a file in which clamd found malware: 422
// malware_detected. The message names the signature when it is made of
// plain characters, and never the file.
func Infected(signature string) *problem.Error {
	msg := "The file was rejected: the malware scanner found malware in it."
	if showable(signature) {
		msg = "The file was rejected: the malware scanner found " + signature + " in it."
	}
	return problem.Wrap(&InfectedError{Signature: signature}, problem.KindUnprocessable, CodeMalwareDetected, msg)
}

// TooLarge is the problem for a file larger than the scanner accepts: 413
// file_too_large_to_scan.
func TooLarge(cause error) *problem.Error {
	return problem.Wrap(cause, problem.KindTooLarge, CodeTooLargeToScan,
		"The file is too large to be scanned for malware, so it was not stored.")
}

// Unavailable is the problem for a scanner that is down: 503
// scanner_unavailable, with Retry-After (at least one second).
func Unavailable(cause error, retryAfter time.Duration) *problem.Error {
	p := problem.Wrap(cause, problem.KindUnavailable, CodeScannerUnavailable,
		"The malware scanner is unavailable, so the file was not stored. Try again later.")
	secs := math.Ceil(retryAfter.Seconds())
	p.RetryAfter = int(max(1, min(secs, 24*3600)))
	return p
}

// showable reports whether a signature name may go into a client-facing
// message: short, and only the characters ClamAV's names use.
func showable(sig string) bool {
	if sig == "" || len(sig) > 100 {
		return false
	}
	for i := 0; i < len(sig); i++ {
		switch c := sig[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == '_' || c == ':' || c == '/' || c == '+':
		default:
			return false
		}
	}
	return true
}
