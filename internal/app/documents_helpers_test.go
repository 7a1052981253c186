package app

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"

	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/valvtest"
)

// withClamd gives the server a real clamd (with the EICAR test signature).
func withClamd(t *testing.T) serverOption {
	s := valvtest.ClamdWith(t, valvtest.ClamdOptions{})
	return func(c *config.Config, _ *Options) {
		c.Scan.Address = s.Addr
		c.Scan.MaxStreamSize = s.StreamMaxLength
	}
}

// multipartBody builds a create request: the document's JSON part, then
// the file part.
func multipartBody(t testing.TB, doc any, name, ctype string, file io.Reader) (io.Reader, string) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="document"`)
		h.Set("Content-Type", "application/json")
		w, err := mw.CreatePart(h)
		if err == nil {
			err = json.NewEncoder(w).Encode(doc)
		}
		if err == nil && file != nil {
			h = textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
			if ctype != "" {
				h.Set("Content-Type", ctype)
			}
			if w, err = mw.CreatePart(h); err == nil {
				_, err = io.Copy(w, file)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

// upload creates a document with a file.
func (c *client) upload(doc any, name, ctype string, file []byte, header http.Header) response {
	c.t.Helper()
	body, ct := multipartBody(c.t, doc, name, ctype, bytes.NewReader(file))
	return c.send("POST", "/api/v1/documents", body, ct, header)
}

// send does a request with a raw body.
func (c *client) send(method, path string, body io.Reader, ctype string, header http.Header) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: data, Header: resp.Header}
}
