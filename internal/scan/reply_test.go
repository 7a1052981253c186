package scan

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		reply   string
		want    Result
		wantErr error
	}{
		{"stream: OK", Result{Clean: true}, nil},
		{"stream: Win.Test.EICAR_HDB-1 FOUND", Result{Signature: "Win.Test.EICAR_HDB-1"}, nil},
		{"stream: Valv-Test-EICAR.UNOFFICIAL FOUND", Result{Signature: "Valv-Test-EICAR.UNOFFICIAL"}, nil},
		{"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", Result{Signature: "Heuristics.Limits.Exceeded.MaxFileSize"}, nil},
		// Whatever the name, FOUND is infected; the name is made printable.
		{"stream: Odd Name\x01 FOUND", Result{Signature: "Odd Name?"}, nil},
		{"stream: " + strings.Repeat("S", 300) + " FOUND", Result{Signature: strings.Repeat("S", maxSignatureLen)}, nil},
		{"INSTREAM size limit exceeded. ERROR", Result{}, ErrTooLarge},
		{"stream: Can't create temporary file ERROR", Result{}, ErrUnavailable},
		{"stream: OK ERROR", Result{}, ErrUnavailable},
		{"stream:  FOUND", Result{}, ErrUnavailable},
		{"stream: FOUND", Result{}, ErrUnavailable},
		{"stream: OK\n", Result{}, ErrUnavailable},
		{"stream: ok", Result{}, ErrUnavailable},
		{"OK", Result{}, ErrUnavailable},
		{"PONG", Result{}, ErrUnavailable},
		{"UNKNOWN COMMAND", Result{}, ErrUnavailable},
		{"COMMAND READ TIMED OUT", Result{}, ErrUnavailable},
		{"", Result{}, ErrUnavailable},
		{"1: stream: OK", Result{}, ErrUnavailable},
	}
	for _, tt := range tests {
		got, err := parseReply(tt.reply)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("parseReply(%q) = %+v, %v; want %+v, %v", tt.reply, got, err, tt.want, tt.wantErr)
		}
	}
}

// FuzzParseReply checks the parser's contract on any input: a nil error
// comes with a well-formed verdict, an error with no verdict, clean only for
// the one exact reply, and a FOUND reply is never taken for clean.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"stream: OK", "stream: Eicar-Signature FOUND", "INSTREAM size limit exceeded. ERROR",
		"stream: x ERROR", "stream:  FOUND", "UNKNOWN COMMAND", "", "stream: \xff\x00 FOUND",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		res, err := parseReply(reply)
		if err != nil {
			if res != (Result{}) {
				t.Fatalf("parseReply(%q) = %+v with error %v", reply, res, err)
			}
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("parseReply(%q) error %v is neither ErrTooLarge nor ErrUnavailable", reply, err)
			}
			return
		}
		if res.Clean {
			if reply != "stream: OK" || res.Signature != "" {
				t.Fatalf("parseReply(%q) = %+v: clean for a reply other than stream: OK", reply, res)
			}
			return
		}
		if res.Signature == "" || !printable(res.Signature) || len(res.Signature) > maxSignatureLen || strings.TrimSpace(res.Signature) == "" {
			t.Fatalf("parseReply(%q) signature %q is not well-formed", reply, res.Signature)
		}
		if !strings.HasPrefix(reply, "stream: ") || !strings.HasSuffix(reply, " FOUND") {
			t.Fatalf("parseReply(%q) = infected for a reply that is not a FOUND verdict", reply)
		}
		if showable(res.Signature) && !strings.Contains(Infected(res.Signature).Message, res.Signature) {
			t.Fatalf("Infected(%q) message does not name it", res.Signature)
		}
	})
}
