package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteHidesCause(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
	}{
		{"plain error is internal", errors.New("pq: relation secret_table does not exist"), 500, "internal_error"},
		{"wrapped problem keeps its kind", fmt.Errorf("ctx: %w", NotFound("tenant_not_found", "No such tenant.")), 404, "tenant_not_found"},
		{"cause not shown", Wrap(errors.New("/var/lib/valv/db: permission denied"), KindUnavailable, "storage_unavailable", "Storage is unavailable."), 503, "storage_unavailable"},
		{"invalid with fields", Invalid("invalid_input", "Bad input.", Field("/name", "required", "Name is required.")), 400, "invalid_input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, "req123", tt.err)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			var env Envelope
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if env.Error.Code != tt.wantCode || env.Error.RequestID != "req123" {
				t.Fatalf("envelope = %+v", env)
			}
			body := rec.Body.String()
			for _, leak := range []string{"secret_table", "/var/lib", "permission denied"} {
				if strings.Contains(body, leak) {
					t.Fatalf("body leaks %q: %s", leak, body)
				}
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
		})
	}
}

func TestIsByCode(t *testing.T) {
	err := fmt.Errorf("outer: %w", NotFound("tenant_not_found", "x"))
	if !errors.Is(err, NotFound("tenant_not_found", "")) {
		t.Fatal("errors.Is by code failed")
	}
	if errors.Is(err, NotFound("user_not_found", "")) {
		t.Fatal("errors.Is matched another code")
	}
}
