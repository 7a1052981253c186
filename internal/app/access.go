package app

import (
	"context"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/access"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/notify"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// buildAccess builds operator access (OPS-1..3).
func (a *App) buildAccess() {
	a.Access = access.New(access.Options{DB: a.db, Keys: a.Keys, Trail: a.Trail, Tenants: accessTenants{a}, Notifier: accessNotices{a},
		MaxDuration: a.cfg.Access.MaxDuration, Logger: a.log, Now: a.now})
}

// withGrants puts an operator's access grants in force now on the
// principal: read on every request, so that an expired or revoked grant
// stops at the next one. Other principals are returned as they are.
func (a *App) withGrants(ctx context.Context, p authz.Principal) (authz.Principal, error) {
	if p.Kind != authz.Operator {
		return p, nil
	}
	gs, err := a.Access.ActiveGrants(ctx, p.ID)
	if err != nil {
		return p, err
	}
	p.Grants = gs
	return p, nil
}

// accessTenants adapts the tenant service to the access service's view.
type accessTenants struct{ a *App }

func (t accessTenants) AccessTenant(ctx context.Context, id string) (access.Tenant, error) {
	pol, err := t.a.Tenants.LoginPolicy(ctx, id)
	if err != nil {
		return access.Tenant{}, err
	}
	st, err := t.a.Tenants.SettingsOf(ctx, id)
	if err != nil {
		return access.Tenant{}, err
	}
	return access.Tenant{Name: pol.Name, Consent: st.OperatorAccessConsent}, nil
}

// accessNotices mails the people a request concerns, each in their own
// language, in the background.
type accessNotices struct{ a *App }

// recipient is an address and its language.
type recipient struct{ email, lang string }

// accountsWithRole lists the active accounts of a tenant (or the
// platform's operators) with a role, but skip, with their addresses opened.
func (n accessNotices) accountsWithRole(ctx context.Context, tenantID, role, skip string) []recipient {
	rows, err := n.a.db.Reader().ActiveAccountsWithRole(ctx, tenantID, role)
	if err != nil {
		n.a.log.Warn("access notice: cannot list recipients", "error", err)
		return nil
	}
	var out []recipient
	sealers := map[string]*seal.Sealer{}
	for _, r := range rows {
		if r.ID == skip {
			continue
		}
		s, ok := sealers[r.TenantID]
		if !ok {
			var err error
			if s, err = n.a.Keys.Sealer(ctx, r.TenantID); err != nil {
				continue
			}
			sealers[r.TenantID] = s
		}
		if email, err := s.OpenString(r.Email, seal.Location{Table: "accounts", Row: r.ID, Field: "email"}); err == nil {
			out = append(out, recipient{email, r.Language})
		}
	}
	return out
}

// operatorName is how an operator is named in a notice: their address, or
// the console user.
func (n accessNotices) operatorName(ctx context.Context, id string) string {
	if strings.HasPrefix(id, "cli:") {
		return id + " (server console)"
	}
	acc, err := n.a.Auth.GetAccount(ctx, store.PlatformTenant, id)
	if err != nil {
		return id
	}
	return acc.Email
}

func (n accessNotices) send(ctx context.Context, to []recipient, kind notify.AccessNoticeKind, r access.Request) {
	if len(to) == 0 {
		return
	}
	a := n.a
	ctx = context.WithoutCancel(ctx)
	go func() {
		name := r.TenantID
		if t, err := (accessTenants{a}).AccessTenant(ctx, r.TenantID); err == nil {
			name = t.Name
		}
		d := notify.AccessNotice{Kind: kind, Organisation: name, Request: r.ID, Operator: n.operatorName(ctx, r.Requester),
			Scope: string(r.Scope), Target: r.DocumentType + r.DocumentID, Reason: r.Reason, Duration: time.Duration(r.Duration),
			State: r.State, Link: a.Auth.PublicURL() + "/access-requests/" + r.ID, At: a.now()}
		byLang := map[string][]string{}
		for _, t := range to {
			byLang[t.lang] = append(byLang[t.lang], t.email)
		}
		for lang, emails := range byLang {
			if err := a.mail.deliver(ctx, emails, notify.TemplateAccessNotice, lang, d); err != nil {
				a.log.Warn("access notice not sent", "request", r.ID, "kind", string(kind), "error", err)
			}
		}
	}()
}

func (n accessNotices) Filed(ctx context.Context, r access.Request) {
	n.send(ctx, n.accountsWithRole(ctx, store.PlatformTenant, string(authz.RoleSecurity), r.Requester), notify.AccessFiled, r)
}

func (n accessNotices) ConsentWanted(ctx context.Context, r access.Request) {
	n.send(ctx, n.accountsWithRole(ctx, r.TenantID, string(authz.Owner), ""), notify.AccessConsent, r)
}

func (n accessNotices) Decided(ctx context.Context, r access.Request) {
	if strings.HasPrefix(r.Requester, "cli:") {
		return // the console user has no address
	}
	acc, err := n.a.Auth.GetAccount(ctx, store.PlatformTenant, r.Requester)
	if err != nil || acc.Status != "active" {
		return
	}
	n.send(ctx, []recipient{{acc.Email, acc.Language}}, notify.AccessDecided, r)
}

func (n accessNotices) BreakGlass(ctx context.Context, r access.Request) {
	to := n.accountsWithRole(ctx, store.PlatformTenant, string(authz.RoleSecurity), "")
	to = append(to, n.accountsWithRole(ctx, r.TenantID, string(authz.Owner), "")...)
	if pol, err := n.a.Tenants.LoginPolicy(ctx, r.TenantID); err == nil && pol.SecurityContact != "" {
		st, _ := n.a.Tenants.SettingsOf(ctx, r.TenantID)
		to = append(to, recipient{pol.SecurityContact, st.Language})
	}
	n.send(ctx, to, notify.AccessBreakGlass, r)
}
