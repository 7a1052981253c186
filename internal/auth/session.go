package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// CookieName is the session cookie.
const CookieName = "valv_session"

// NewSession is a session just created: the token goes into the cookie.
type NewSession struct {
	Token     string
	PublicID  string
	ExpiresAt time.Time
	Principal authz.Principal
}

// clientInfo is what a user sees in their session list; sealed at rest.
type clientInfo struct {
	UserAgent string `json:"user_agent,omitempty"`
	IP        string `json:"ip,omitempty"`
}

func sessionLocation(publicID string) seal.Location {
	return seal.Location{Table: "sessions", Row: publicID, Field: "client"}
}

// startSession creates a session for an account after a complete login.
// It is always a new id (so a fixated id cannot survive a login).
func (s *Service) startSession(ctx context.Context, acc store.AccountRow, method string, mfa bool) (NewSession, error) {
	idle := s.opIdle
	if acc.Kind == string(authz.User) {
		pol, err := s.policies.LoginPolicy(ctx, acc.TenantID)
		if err != nil {
			return NewSession{}, err
		}
		if !pol.Active {
			return NewSession{}, ErrTenantSuspended
		}
		idle = pol.IdleTimeout
	}
	token, id := newToken()
	pub := publicID()
	now := s.now().UTC()
	info := call.From(ctx)
	ci := clientInfo{UserAgent: info.UserAgent}
	if info.ClientIP.IsValid() {
		ci.IP = info.ClientIP.String()
	}
	sealer, err := s.keys.Sealer(ctx, acc.TenantID)
	if err != nil {
		return NewSession{}, err
	}
	raw, _ := json.Marshal(ci)
	client, err := sealer.Seal(raw, sessionLocation(pub))
	if err != nil {
		return NewSession{}, err
	}
	row := store.SessionRow{ID: id, PublicID: pub, AccountID: acc.ID, TenantID: acc.TenantID, Method: method, MFA: mfa,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.lifetime), IdleSeconds: int64(idle / time.Second), Client: client}
	p := principalOf(acc, pub, mfa)
	audit.SetActor(ctx, p)
	audit.Detail(ctx, "method", method)
	err = s.change(ctx, "auth.login", "session", pub, acc.TenantID, func(tx *store.Tx) error {
		if err := tx.InsertSession(ctx, row); err != nil {
			return err
		}
		return tx.RecordLogin(ctx, acc.TenantID, acc.ID, now)
	})
	if err != nil {
		return NewSession{}, fmt.Errorf("start session: %w", err)
	}
	return NewSession{Token: token, PublicID: pub, ExpiresAt: row.ExpiresAt, Principal: p}, nil
}

func principalOf(acc store.AccountRow, session string, mfa bool) authz.Principal {
	p := authz.Principal{Kind: authz.Kind(acc.Kind), ID: acc.ID, Role: authz.Role(acc.Role), Session: session, MFA: mfa}
	if acc.Kind == string(authz.User) {
		p.TenantID = acc.TenantID
	}
	return p
}

// touchInterval is how stale last_seen may get before a request writes it:
// a write per request would make every read a write. The idle timeout is
// therefore enforced to within this interval.
func touchInterval(idle time.Duration) time.Duration {
	d := idle / 20
	if d > time.Minute {
		d = time.Minute
	}
	return d
}

// Authenticate checks a session token and returns its principal. It reads
// the session, account and tenant on every call, so a revoked session, a
// disabled account, a changed role or a suspended tenant take effect on the
// next request.
func (s *Service) Authenticate(ctx context.Context, token string) (authz.Principal, error) {
	if !validTokenForm(token) {
		return authz.Principal{}, ErrUnauthenticated
	}
	id := hashToken(token)
	row, err := s.db.Reader().SessionForAuth(ctx, id)
	if isNotFound(err) {
		return authz.Principal{}, ErrSessionExpired
	}
	if err != nil {
		return authz.Principal{}, err
	}
	now := s.now()
	idle := time.Duration(row.IdleSeconds) * time.Second
	if !now.Before(row.ExpiresAt) || !now.Before(row.LastSeenAt.Add(idle)) {
		_ = s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, id) })
		return authz.Principal{}, ErrSessionExpired
	}
	if row.AccountStatus != "active" || (row.Kind == string(authz.User) && row.TenantStatus != "active") {
		return authz.Principal{}, ErrSessionExpired
	}
	if now.Sub(row.LastSeenAt) >= touchInterval(idle) {
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.TouchSession(ctx, id, now.UTC()) }); err != nil {
			return authz.Principal{}, err
		}
	}
	p := authz.Principal{Kind: authz.Kind(row.Kind), ID: row.AccountID, Role: authz.Role(row.Role), Session: row.PublicID, MFA: row.MFA}
	if row.Kind == string(authz.User) {
		p.TenantID = row.TenantID
	}
	return p, nil
}

// Logout ends the session of token.
func (s *Service) Logout(ctx context.Context, token string) error {
	if !validTokenForm(token) {
		return nil
	}
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, hashToken(token)) })
}

// LogoutEverywhere ends every session of the principal's account,
// including the current one, and returns how many ended.
func (s *Service) LogoutEverywhere(ctx context.Context, p authz.Principal) (int64, error) {
	var n int64
	err := s.change(ctx, "auth.logout_everywhere", "account", p.ID, tenantKey(p.TenantID), func(tx *store.Tx) error {
		var err error
		n, err = tx.DeleteAccountSessions(ctx, tenantKey(p.TenantID), p.ID, nil)
		return err
	})
	return n, err
}

// SessionView is a session as its owner sees it.
type SessionView struct {
	ID         string    `json:"id"`
	Current    bool      `json:"current"`
	Method     string    `json:"method"`
	MFA        bool      `json:"mfa"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent,omitempty"`
	IP         string    `json:"ip,omitempty"`
}

// Sessions lists the principal's own sessions.
func (s *Service) Sessions(ctx context.Context, p authz.Principal) ([]SessionView, error) {
	if err := s.requireSelf(p, authz.SelfSessions); err != nil {
		return nil, err
	}
	tk := tenantKey(p.TenantID)
	rows, err := s.db.Reader().Sessions(ctx, tk, p.ID)
	if err != nil {
		return nil, err
	}
	sealer, err := s.keys.Sealer(ctx, tk)
	if err != nil {
		return nil, err
	}
	out := make([]SessionView, 0, len(rows))
	for _, r := range rows {
		v := SessionView{ID: r.PublicID, Current: r.PublicID == p.Session, Method: r.Method, MFA: r.MFA,
			CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt, ExpiresAt: r.ExpiresAt}
		if raw, err := sealer.Open(r.Client, sessionLocation(r.PublicID)); err == nil {
			var ci clientInfo
			if json.Unmarshal(raw, &ci) == nil {
				v.UserAgent, v.IP = ci.UserAgent, ci.IP
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// RevokeSession ends one of the principal's own sessions.
func (s *Service) RevokeSession(ctx context.Context, p authz.Principal, publicID string) error {
	if err := s.requireSelf(p, authz.SelfSessions); err != nil {
		return err
	}
	err := s.change(ctx, "session.revoke", "session", publicID, tenantKey(p.TenantID), func(tx *store.Tx) error {
		return tx.DeleteSessionByPublicID(ctx, tenantKey(p.TenantID), p.ID, publicID)
	})
	if isNotFound(err) {
		return problemNotFound("session_not_found", "No such session.")
	}
	return err
}

// RevokeAccountSessions ends every session of an account (used when its
// role changes or it is disabled). It needs no principal: callers decide.
func (s *Service) RevokeAccountSessions(ctx context.Context, tx *store.Tx, tenantID, accountID string) error {
	_, err := tx.DeleteAccountSessions(ctx, tenantKey(tenantID), accountID, nil)
	return err
}

func (s *Service) requireSelf(p authz.Principal, a authz.Action) error {
	d := authz.Decide(p, a, authz.Resource{TenantID: p.TenantID, Owner: p.ID}, s.now())
	if !d.Allowed {
		return ErrUnauthenticated
	}
	return nil
}
