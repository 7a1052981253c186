package guard

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3/types"
	"go.yaml.in/yaml/v3"
)

// fpCase is one legitimate request of testdata/legitimate.yaml.
type fpCase struct {
	Name        string            `yaml:"name"`
	Method      string            `yaml:"method"`
	Target      string            `yaml:"target"`
	Proto       string            `yaml:"proto"`
	Headers     map[string]string `yaml:"headers"`
	Cookie      string            `yaml:"cookie"`
	JSON        any               `yaml:"json"`
	Form        [][2]string       `yaml:"form"`
	Raw         string            `yaml:"raw"`
	ContentType string            `yaml:"content_type"`
}

var base64Placeholder = regexp.MustCompile(`\{\{base64 (\d+)\}\}`)

// body returns the case's body and content type.
func (c fpCase) body(t *testing.T) ([]byte, string) {
	t.Helper()
	switch {
	case c.JSON != nil:
		b, err := json.Marshal(c.JSON)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		rng := rand.New(rand.NewChaCha8([32]byte{'v', 'a', 'l', 'v'}))
		b = base64Placeholder.ReplaceAllFunc(b, func(m []byte) []byte {
			n, _ := strconv.Atoi(string(base64Placeholder.FindSubmatch(m)[1]))
			raw := make([]byte, n)
			for i := range raw {
				raw[i] = byte(rng.Uint32())
			}
			return []byte(base64.StdEncoding.EncodeToString(raw))
		})
		return b, "application/json"
	case c.Form != nil:
		var parts []string
		for _, kv := range c.Form {
			parts = append(parts, url.QueryEscape(kv[0])+"="+url.QueryEscape(kv[1]))
		}
		return []byte(strings.Join(parts, "&")), "application/x-www-form-urlencoded"
	case c.Raw != "":
		return []byte(c.Raw), c.ContentType
	}
	return nil, ""
}

func (c fpCase) request(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	body, ct := c.body(t)
	r := apiRequest(c.Method, c.Target, nil)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if c.Proto == "HTTP/2.0" {
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
		r.Header.Del("Content-Length")
		r.ContentLength = -1
	}
	if c.Cookie != "" {
		// A browser on the portal, not an API client.
		r.Header.Del("Authorization")
		r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
		r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		r.Header.Set("Cookie", c.Cookie)
		r.Header.Set("Origin", "https://valv.example.se")
		r.Header.Set("Referer", "https://valv.example.se/portal")
	}
	for k, v := range c.Headers {
		r.Header.Set(k, v)
	}
	return r, body
}

func loadLegitimate(t *testing.T) []fpCase {
	t.Helper()
	data, err := os.ReadFile("testdata/legitimate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []fpCase
	if err := yaml.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases in testdata/legitimate.yaml")
	}
	return cases
}

// TestFalsePositivesStock runs the same requests through the stock CRS,
// for comparison (it is not expected to pass them all).
func TestFalsePositivesStock(t *testing.T) {
	if testing.Short() {
		t.Skip("informational; not in -short")
	}
	w := mustWAF(t, Options{Stock: true})
	var matched []Match
	w.observe = func(_ *http.Request, tx types.Transaction) { matched = w.event(tx, "", netip.Addr{}).Rules }
	blocked := 0
	cases := loadLegitimate(t)
	for _, c := range cases {
		r, _ := c.request(t)
		rec := httptest.NewRecorder()
		matched = nil
		w.Middleware(okHandler).ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			blocked++
			t.Logf("stock blocks %q: %d %v", c.Name, rec.Code, Event{Rules: matched}.RuleIDs())
		}
	}
	t.Logf("stock CRS blocks %d of %d legitimate requests", blocked, len(cases))
}

// TestFalsePositives sends every legitimate request through the tuned
// WAF: none may be blocked, and the handler must get the body unchanged.
// Rules that matched without blocking are logged, to show how close a
// case came.
func TestFalsePositives(t *testing.T) {
	w := mustWAF(t, Options{})
	var matched []Match
	w.observe = func(_ *http.Request, tx types.Transaction) { matched = w.event(tx, "", netip.Addr{}).Rules }
	for _, c := range loadLegitimate(t) {
		t.Run(c.Name, func(t *testing.T) {
			r, body := c.request(t)
			var got []byte
			h := w.Middleware(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
			}))
			rec := httptest.NewRecorder()
			matched = nil
			h.ServeHTTP(rec, r)
			var fired []string
			for _, m := range matched {
				fired = append(fired, strconv.Itoa(m.ID)+" "+m.Message)
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("blocked: status %d, rules: %q", rec.Code, fired)
			}
			if !bytes.Equal(got, body) {
				t.Errorf("handler got %d bytes of body, want the %d sent", len(got), len(body))
			}
			if len(fired) > 0 {
				t.Logf("passed, but rules matched: %q", fired)
			}
		})
	}
}
