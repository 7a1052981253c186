package message_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/problem"
)

// FuzzCheckURL feeds CheckURL arbitrary text. It must never panic; every
// refusal is a *problem.Error on /url; and a host it returns is a lowercase
// DNS name that no parser reads as an IP address, which CheckURL accepts
// again unchanged.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://partner.example.com/inbox?token=x",
		"https://Partner.Example.COM.:8443/a",
		"https://127.0.0.1/",
		"https://[::ffff:127.0.0.1]:443/",
		"https://2130706433/",
		"https://0x7f.1/",
		"https://0177.0.0.1/",
		"https://user:pass@partner.example.com/",
		"https://partner.example.com/#x",
		"https://partner.example.com:65536/",
		"https://localhost./",
		"https://a.localhost/",
		"https://%31%32%37.0.0.1/",
		"https://xn--rksmrgs-5wao1o.se/",
		"http://partner.example.com/",
		"https:partner.example.com",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		host, err := message.CheckURL(raw)
		if err != nil {
			var p *problem.Error
			if !errors.As(err, &p) || p.Code != "invalid_url" || len(p.Fields) != 1 || p.Fields[0].Field != "/url" {
				t.Fatalf("CheckURL(%q) error = %v, want invalid_url on /url", raw, err)
			}
			if host != "" {
				t.Fatalf("CheckURL(%q) = %q with an error", raw, host)
			}
			return
		}
		if host == "" {
			t.Fatalf("CheckURL(%q) accepted without a host", raw)
		}
		if _, perr := netip.ParseAddr(host); perr == nil {
			t.Fatalf("CheckURL(%q) = %q, an IP address", raw, host)
		}
		if host != strings.ToLower(host) || strings.HasSuffix(host, ".") {
			t.Fatalf("CheckURL(%q) = %q, not lowercase without a trailing dot", raw, host)
		}
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			t.Fatalf("CheckURL(%q) = %q, localhost", raw, host)
		}
		if strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" {
			t.Fatalf("CheckURL(%q) = %q, not a DNS name", raw, host)
		}
		labels := strings.Split(host, ".")
		if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" ||
			strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
			t.Fatalf("CheckURL(%q) = %q, ends in a number", raw, host)
		}
		if len(raw) > message.MaxURLLen || !strings.HasPrefix(strings.ToLower(raw), "https://") ||
			strings.ContainsAny(raw, "#\\ ") {
			t.Fatalf("CheckURL(%q) accepted", raw)
		}
		authority := raw[len("https://"):]
		if i := strings.IndexAny(authority, "/?"); i >= 0 {
			authority = authority[:i]
		}
		if strings.ContainsAny(authority, "@[]%") {
			t.Fatalf("CheckURL(%q) accepted userinfo, an IPv6 literal or an escape", raw)
		}
		if again, err := message.CheckURL("https://" + host + "/"); err != nil || again != host {
			t.Fatalf("CheckURL of the host %q again = %q, %v", host, again, err)
		}
	})
}
