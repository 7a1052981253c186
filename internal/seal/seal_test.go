package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

var update = flag.Bool("update", false, "rewrite testdata/v1_fixture.json (never for an existing format!)")

func newSealer(t testing.TB, tenant string) (*Sealer, Keysets) {
	t.Helper()
	ks, err := NewKeysets()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tenant, ks)
	if err != nil {
		t.Fatal(err)
	}
	return s, ks
}

var loc = Location{Table: "documents", Row: "doc-1", Field: "data"}

func TestRoundTrip(t *testing.T) {
	s, _ := newSealer(t, "tenant-a")
	for _, pt := range [][]byte{nil, {}, []byte("x"), []byte("19811218-9876"), bytes.Repeat([]byte("å"), 70000)} {
		ct, err := s.Seal(pt, loc)
		if err != nil {
			t.Fatal(err)
		}
		if len(ct) != len(pt)+Overhead {
			t.Fatalf("overhead = %d, want %d", len(ct)-len(pt), Overhead)
		}
		got, err := s.Open(ct, loc)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v", got, err)
		}
		id, err := KeyID(ct)
		if err != nil || id != s.PrimaryKeyID() {
			t.Fatalf("KeyID = %d, %v; primary %d", id, err, s.PrimaryKeyID())
		}
	}
}

// TestConfidentiality: the sealed bytes never contain the plaintext, and
// sealing the same value twice gives different ciphertexts.
func TestConfidentiality(t *testing.T) {
	s, _ := newSealer(t, "tenant-a")
	secret := []byte("Åsa Öberg 19811218-9876 asa@example.se")
	a, _ := s.Seal(secret, loc)
	b, _ := s.Seal(secret, loc)
	if bytes.Equal(a, b) {
		t.Fatal("sealing is deterministic")
	}
	for _, part := range [][]byte{secret, []byte("19811218"), []byte("Öberg"), []byte("example.se")} {
		if bytes.Contains(a, part) {
			t.Fatalf("ciphertext contains %q", part)
		}
	}
}

// TestIntegrity: every single flipped bit makes Open fail.
func TestIntegrity(t *testing.T) {
	s, _ := newSealer(t, "tenant-a")
	ct, _ := s.Seal([]byte("invoice total 1200 SEK"), loc)
	for i := 0; i < len(ct)*8; i++ {
		bad := bytes.Clone(ct)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := s.Open(bad, loc); err == nil {
			t.Fatalf("bit %d flipped and Open succeeded", i)
		}
	}
}

// TestRelocation: a ciphertext copied to another tenant, table, row or
// field does not open.
func TestRelocation(t *testing.T) {
	s, ks := newSealer(t, "tenant-a")
	ct, _ := s.Seal([]byte("secret"), loc)
	moves := []Location{
		{Table: "messages", Row: loc.Row, Field: loc.Field},
		{Table: loc.Table, Row: "doc-2", Field: loc.Field},
		{Table: loc.Table, Row: loc.Row, Field: "metadata"},
		// Boundaries between parts are unambiguous.
		{Table: "documentsd", Row: "oc-1", Field: "data"},
	}
	for _, l := range moves {
		if _, err := s.Open(ct, l); !errors.Is(err, ErrOpen) {
			t.Errorf("opened at %+v: %v", l, err)
		}
	}
	// The same keys under another tenant id (as if a row were copied
	// between tenants that somehow shared keys) still fail.
	other, err := New("tenant-b", ks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(ct, loc); !errors.Is(err, ErrOpen) {
		t.Errorf("opened under another tenant: %v", err)
	}
	// A different tenant's own keys fail too.
	third, _ := newSealer(t, "tenant-a")
	if _, err := third.Open(ct, loc); !errors.Is(err, ErrOpen) {
		t.Errorf("opened with another keyset: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	s, _ := newSealer(t, "tenant-a")
	ct, _ := s.Seal([]byte("hello"), loc)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short", ct[:Overhead-1], ErrTruncated},
		{"truncated body", ct[:len(ct)-1], ErrOpen},
		{"unknown version", append([]byte{0x02}, ct[1:]...), ErrFormat},
		{"garbage", bytes.Repeat([]byte{0x01}, 64), ErrOpen},
	}
	for _, tt := range tests {
		if _, err := s.Open(tt.in, loc); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := s.Seal([]byte("x"), Location{Table: "t", Row: "", Field: "f"}); err == nil {
		t.Error("empty row accepted")
	}
	if _, err := s.Seal([]byte("x"), Location{Table: strings.Repeat("t", 300), Row: "r", Field: "f"}); err == nil {
		t.Error("oversized table accepted")
	}
}

// TestRotation: after a new primary key is added, old values open, new
// values use the new key.
func TestRotation(t *testing.T) {
	_, ks := newSealer(t, "tenant-a")
	s1, _ := New("tenant-a", ks)
	old, _ := s1.Seal([]byte("before"), loc)
	m := keyset.NewManagerFromHandle(ks.AEAD)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPrimary(id); err != nil {
		t.Fatal(err)
	}
	ks.AEAD, _ = m.Handle()
	s2, _ := New("tenant-a", ks)
	if got, err := s2.Open(old, loc); err != nil || string(got) != "before" {
		t.Fatalf("old value after rotation: %q %v", got, err)
	}
	nw, _ := s2.Seal([]byte("after"), loc)
	if kid, _ := KeyID(nw); kid != id || kid == s1.PrimaryKeyID() {
		t.Fatalf("new value sealed with key %d, want %d", kid, id)
	}
}

func TestBlindIndex(t *testing.T) {
	a, _ := newSealer(t, "tenant-a")
	b, _ := newSealer(t, "tenant-b")
	x1, _ := a.BlindIndex("personnummer", "198112189876")
	x2, _ := a.BlindIndex("personnummer", "198112189876")
	y, _ := a.BlindIndex("personnummer", "198112189877")
	z, _ := a.BlindIndex("orgnr", "198112189876")
	w, _ := b.BlindIndex("personnummer", "198112189876")
	if !bytes.Equal(x1, x2) || len(x1) != BlindIndexSize {
		t.Fatal("blind index not deterministic")
	}
	for _, other := range [][]byte{y, z, w} {
		if bytes.Equal(x1, other) {
			t.Fatal("blind index collides across value, kind or tenant")
		}
	}
	// kind/value boundary is unambiguous
	p, _ := a.BlindIndex("ab", "c")
	q, _ := a.BlindIndex("a", "bc")
	if bytes.Equal(p, q) {
		t.Fatal("kind and value run together")
	}
}

func TestStream(t *testing.T) {
	s, _ := newSealer(t, "tenant-a")
	data := make([]byte, 3<<20+123)
	_, _ = rand.Read(data)
	var buf bytes.Buffer
	w, err := s.EncryptStream(&buf, loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ct := buf.Bytes()
	if bytes.Contains(ct, data[1000:1064]) {
		t.Fatal("stream ciphertext contains plaintext")
	}
	r, err := s.DecryptStream(bytes.NewReader(ct), loc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip failed: %v", err)
	}
	// Tampering, truncation and relocation are all caught.
	for name, mut := range map[string][]byte{
		"flipped": func() []byte { c := bytes.Clone(ct); c[len(c)/2] ^= 1; return c }(),
		"cut":     ct[:len(ct)-4096],
		"header":  ct[:10],
	} {
		r, err := s.DecryptStream(bytes.NewReader(mut), loc)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if err == nil {
			t.Errorf("%s stream decrypted", name)
		}
	}
	r, err = s.DecryptStream(bytes.NewReader(ct), Location{Table: "documents", Row: "doc-2", Field: "data"})
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Error("relocated stream decrypted")
	}
}

// fixture is a committed v1 ciphertext with its (test-only) keys. It must
// open forever: a change that breaks it breaks every stored value.
type fixture struct {
	AEAD, PRF, Stream string // cleartext keysets, JSON
	Tenant            string
	Location          Location
	Plaintext         string
	Ciphertext        []byte
	BlindIndex        []byte
}

func TestV1Fixture(t *testing.T) {
	const path = "testdata/v1_fixture.json"
	if *update {
		s, ks := newSealer(t, "fixture-tenant")
		enc := func(h *keyset.Handle) string {
			var b bytes.Buffer
			if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&b)); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
		f := fixture{AEAD: enc(ks.AEAD), PRF: enc(ks.PRF), Stream: enc(ks.Stream), Tenant: "fixture-tenant",
			Location: loc, Plaintext: "Valv v1 fixture: 19811218-9876"}
		f.Ciphertext, _ = s.SealString(f.Plaintext, loc)
		f.BlindIndex, _ = s.BlindIndex("personnummer", "198112189876")
		data, _ := json.MarshalIndent(f, "", "  ")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	read := func(s string) *keyset.Handle {
		h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(strings.NewReader(s)))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	s, err := New(f.Tenant, Keysets{AEAD: read(f.AEAD), PRF: read(f.PRF), Stream: read(f.Stream)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.OpenString(f.Ciphertext, f.Location)
	if err != nil || got != f.Plaintext {
		t.Fatalf("v1 fixture does not open: %q %v", got, err)
	}
	bi, _ := s.BlindIndex("personnummer", "198112189876")
	if !bytes.Equal(bi, f.BlindIndex) {
		t.Fatal("blind index of the v1 fixture changed: every stored index would be lost")
	}
}

func FuzzOpen(f *testing.F) {
	s, _ := newSealer(f, "tenant-a")
	ct, _ := s.Seal([]byte("seed"), loc)
	f.Add(ct)
	f.Add([]byte{})
	f.Add([]byte{0x01})
	f.Add(bytes.Repeat([]byte{0x01, 0}, 40))
	f.Fuzz(func(t *testing.T, in []byte) {
		pt, err := s.Open(in, loc)
		if err == nil && !bytes.Equal(in, ct) {
			t.Fatalf("forged ciphertext opened: %q", pt)
		}
		_, _ = KeyID(in)
		r, err := s.DecryptStream(bytes.NewReader(in), loc)
		if err == nil {
			_, _ = io.ReadAll(r)
		}
	})
}

func benchSizes() []struct {
	name string
	n    int
} {
	return []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}
}

func BenchmarkSeal(b *testing.B) {
	s, _ := newSealer(b, "tenant-a")
	for _, sz := range benchSizes() {
		pt := make([]byte, sz.n)
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			for i := 0; i < b.N; i++ {
				if _, err := s.Seal(pt, loc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	s, _ := newSealer(b, "tenant-a")
	for _, sz := range benchSizes() {
		ct, _ := s.Seal(make([]byte, sz.n), loc)
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			for i := 0; i < b.N; i++ {
				if _, err := s.Open(ct, loc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawAESGCM is the baseline: the standard library's AES-256-GCM
// with a random nonce, no envelope.
func BenchmarkRawAESGCM(b *testing.B) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCMWithRandomNonce(block)
	for _, sz := range benchSizes() {
		pt := make([]byte, sz.n)
		b.Run("seal-"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			for i := 0; i < b.N; i++ {
				_ = g.Seal(nil, nil, pt, []byte("ad"))
			}
		})
		ct := g.Seal(nil, nil, pt, []byte("ad"))
		b.Run("open-"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			for i := 0; i < b.N; i++ {
				if _, err := g.Open(nil, nil, ct, []byte("ad")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	s, _ := newSealer(b, "tenant-a")
	for i := 0; i < b.N; i++ {
		if _, err := s.BlindIndex("personnummer", "198112189876"); err != nil {
			b.Fatal(err)
		}
	}
}
