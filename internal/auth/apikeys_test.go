package auth

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAPIKey(t *testing.T) {
	key, id, _ := newAPIKey()
	if len(key) != apiKeyLen || !strings.HasPrefix(key, "valv_") {
		t.Fatalf("key %q", key)
	}
	gotID, secret, err := ParseAPIKey(key)
	if err != nil || gotID != id || len(secret) != apiKeySecretLen {
		t.Fatalf("ParseAPIKey = %q %q %v", gotID, secret, err)
	}
	bad := []string{"", "valv_", key[:len(key)-1], key + "x", strings.Replace(key, "valv_", "vault", 1),
		key[:5] + "!" + key[6:], key[:21] + "-" + key[22:], key[:30] + "*" + key[31:]}
	for _, b := range bad {
		if _, _, err := ParseAPIKey(b); err == nil {
			t.Errorf("accepted %q", b)
		}
	}
}

func TestAllowlist(t *testing.T) {
	list, err := ParseAllowlist([]string{"192.0.2.7", "10.0.0.0/8", "2001:db8::/32", "::ffff:198.51.100.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip    string
		allow bool
	}{
		{"192.0.2.7", true}, {"192.0.2.8", false}, {"10.200.3.4", true}, {"11.0.0.1", false},
		{"2001:db8:1::5", true}, {"2001:db9::1", false}, {"198.51.100.1", true}, {"::ffff:10.1.2.3", true},
	}
	for _, tt := range tests {
		if got := list.Allows(netip.MustParseAddr(tt.ip)); got != tt.allow {
			t.Errorf("%s: allows = %v", tt.ip, got)
		}
	}
	if !(Allowlist{}).Allows(netip.MustParseAddr("203.0.113.1")) {
		t.Error("an empty list must allow any address")
	}
	for _, bad := range [][]string{{"10.0.0.1/8"}, {"not-an-ip"}, {"fe80::1%eth0"}, {"10.0.0.0/33"}, {""}} {
		if _, err := ParseAllowlist(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseAPIKey(f *testing.F) {
	key, _, _ := newAPIKey()
	f.Add(key)
	f.Add("valv_0000000000000000_" + strings.Repeat("A", 43))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseAPIKey(s)
		if err == nil && "valv_"+id+"_"+secret != s {
			t.Fatalf("parse does not round-trip: %q", s)
		}
	})
}

func FuzzAllowlist(f *testing.F) {
	f.Add("10.0.0.0/8", "10.1.2.3")
	f.Add("2001:db8::1", "2001:db8::1")
	f.Add("::ffff:1.2.3.4/128", "1.2.3.4")
	f.Fuzz(func(t *testing.T, entry, ip string) {
		list, err := ParseAllowlist([]string{entry})
		a, perr := netip.ParseAddr(ip)
		if err != nil || perr != nil {
			return
		}
		// An address always matches the list made of itself.
		if self, err := ParseAllowlist([]string{a.Unmap().String()}); err == nil && a.Zone() == "" && !self.Allows(a) {
			t.Fatalf("%s does not match itself", a)
		}
		_ = list.Allows(a)
	})
}
