package document

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/tenant"
)

// fakeTrail records what would be kept (the real trail is tested in
// internal/audit and end to end in internal/app).
type fakeTrail struct{ kept [][]byte }

func (f *fakeTrail) PreparePayload(_ context.Context, _, _, _, _ string, payload []byte) (*audit.Payload, error) {
	f.kept = append(f.kept, payload)
	return &audit.Payload{}, nil
}

func (f *fakeTrail) Do(_ context.Context, _ audit.Description, _ func(tx *store.Tx) error) error {
	return nil
}

type fixedSettings tenant.Settings

func (s fixedSettings) SettingsOf(context.Context, string) (tenant.Settings, error) {
	return tenant.Settings(s), nil
}

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestValidate(t *testing.T) {
	v := New(Options{Trail: &fakeTrail{}, Settings: fixedSettings{PayloadHistory: false}, Now: func() time.Time { return now }})
	member := authz.Principal{Kind: authz.User, ID: "u", TenantID: "t", Role: authz.Member}
	for _, tc := range []struct {
		typ, value, norm, code string
	}{
		{TypeIBAN, "se45 5000 0000 0583 9825 7466", "SE4550000000058398257466", ""},
		{TypeIBAN, "SE4550000000058398257467", "", "invalid_iban_checksum"},
		{TypeBIC, "eSSESESS", "ESSESESS", ""},
		{TypePersonnummer, "811218-9876", "198112189876", ""},
		{TypePersonnummer, "811218-9875", "", "invalid_luhn"},
		{TypeOrganisationsnummer, "556036-0793", "5560360793", ""},
		{TypeBankgiro, "5050-1055", "5050-1055", ""},
		{TypeEmail, "Anna@Example.se", "anna@example.se", ""},
		{TypePhone, "not a phone", "", "invalid_phone_format"},
		{TypeCustomerNumber, "  K-1001 ", "K-1001", ""},
	} {
		res, err := v.Validate(context.Background(), member, Request{Fields: []Field{{Name: "f", Type: tc.typ, Value: tc.value}}}, nil)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.typ, tc.value, err)
		}
		r := res.Results[0]
		if tc.code == "" && (!r.Valid || !res.Valid || r.Normalised != tc.norm) {
			t.Errorf("%s %q = %+v, want valid %q", tc.typ, tc.value, r, tc.norm)
		}
		if tc.code != "" && (r.Valid || res.Valid || r.Code != tc.code || r.Message == "" || strings.Contains(r.Message, tc.value)) {
			t.Errorf("%s %q = %+v, want invalid %s without the value in the message", tc.typ, tc.value, r, tc.code)
		}
		if r.Name != "f" || res.PayloadKept {
			t.Errorf("%s: name %q kept %v", tc.typ, r.Name, res.PayloadKept)
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	v := New(Options{Trail: &fakeTrail{}, Settings: fixedSettings{}})
	member := authz.Principal{Kind: authz.User, ID: "u", TenantID: "t", Role: authz.Member}
	many := make([]Field, MaxFields+1)
	for i := range many {
		many[i] = Field{Type: TypeIBAN, Value: "x"}
	}
	for _, tc := range []struct {
		name string
		p    authz.Principal
		req  Request
		kind problem.Kind
		code string
	}{
		{"anonymous", authz.Principal{}, Request{Fields: []Field{{Type: TypeIBAN}}}, problem.KindUnauthenticated, "unauthenticated"},
		{"operator", authz.Principal{Kind: authz.Operator, ID: "o", Role: authz.RoleSecurity}, Request{Fields: []Field{{Type: TypeIBAN}}}, problem.KindForbidden, "forbidden"},
		{"key without scope", authz.Principal{Kind: authz.APIKey, ID: "k", TenantID: "t", Scopes: []authz.Scope{authz.ScopeAuditRead}}, Request{Fields: []Field{{Type: TypeIBAN}}}, problem.KindForbidden, "forbidden"},
		{"no fields", member, Request{}, problem.KindInvalid, "no_fields"},
		{"too many", member, Request{Fields: many}, problem.KindInvalid, "too_many_fields"},
		{"unknown type", member, Request{Fields: []Field{{Type: "shoe_size", Value: "42"}}}, problem.KindInvalid, "invalid_request"},
		{"long value", member, Request{Fields: []Field{{Type: TypeEmail, Value: strings.Repeat("a", MaxValueBytes+1)}}}, problem.KindInvalid, "invalid_request"},
	} {
		_, err := v.Validate(context.Background(), tc.p, tc.req, nil)
		p, ok := problem.As(err)
		if !ok || p.Kind != tc.kind || p.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	keyWithScope := authz.Principal{Kind: authz.APIKey, ID: "k", TenantID: "t", Scopes: []authz.Scope{authz.ScopeValidate}}
	if _, err := v.Validate(context.Background(), keyWithScope, Request{Fields: []Field{{Type: TypeBIC, Value: "ESSESESS"}}}, nil); err != nil {
		t.Errorf("key with the validate scope: %v", err)
	}
}

func TestValidateKeepsPayloadOnlyWithHistory(t *testing.T) {
	member := authz.Principal{Kind: authz.User, ID: "u", TenantID: "t", Role: authz.Member}
	req := Request{Fields: []Field{{Type: TypeBIC, Value: "ESSESESS"}}}
	for _, on := range []bool{false, true} {
		tr := &fakeTrail{}
		v := New(Options{Trail: tr, Settings: fixedSettings{PayloadHistory: on}})
		res, err := v.Validate(context.Background(), member, req, []byte(`{"fields":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		if res.PayloadKept != on || (len(tr.kept) == 1) != on {
			t.Errorf("history %v: kept %v, prepared %d", on, res.PayloadKept, len(tr.kept))
		}
	}
}
