package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/call"
)

// The audit trail's background work (AUD-3, AUD-5, AUD-6): signed
// checkpoints and forwarding every checkpoint_interval, a full verification
// every verify_interval, and once a day the pruning of entries and payload
// history past their retention.

// auditSinks builds the configured forwarding sinks.
func (a *App) auditSinks() ([]audit.Sink, error) {
	var sinks []audit.Sink
	if a.cfg.Audit.ForwardFile != "" {
		sinks = append(sinks, &audit.FileSink{Path: a.cfg.Audit.ForwardFile})
	}
	if a.cfg.Audit.ForwardSyslog != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if a.cfg.Audit.ForwardSyslogCA != "" {
			pem, err := os.ReadFile(a.cfg.Audit.ForwardSyslogCA)
			if err != nil {
				return nil, fmt.Errorf("audit.forward_syslog_ca: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("audit.forward_syslog_ca: %s holds no PEM certificate", a.cfg.Audit.ForwardSyslogCA)
			}
		}
		host, _ := os.Hostname()
		sinks = append(sinks, &audit.SyslogSink{Address: a.cfg.Audit.ForwardSyslog, RootCAs: pool, Hostname: host})
	}
	return sinks, nil
}

// systemContext is the context of a job: the system principal, a job
// channel and an audit record of the job's action.
func (a *App) systemContext(ctx context.Context, action string) context.Context {
	ctx = call.With(ctx, call.Info{Channel: call.ChannelJob, RequestID: call.NewRequestID(), Start: a.now()})
	ctx = authz.WithPrincipal(ctx, authz.Principal{Kind: authz.System})
	ctx, _ = audit.Begin(ctx, action)
	return ctx
}

// CheckpointAudit signs a checkpoint of every chain that grew and forwards
// new entries to the configured sinks.
func (a *App) CheckpointAudit(ctx context.Context, sinks []audit.Sink) error {
	if a.Keys.Sealed() {
		return nil
	}
	var errs []error
	if _, err := a.Trail.CheckpointAll(ctx); err != nil {
		errs = append(errs, fmt.Errorf("audit checkpoints: %w", err))
	}
	if len(sinks) > 0 {
		if _, err := a.Trail.Forward(ctx, sinks); err != nil {
			errs = append(errs, fmt.Errorf("audit forwarding: %w", err))
		}
	}
	return errors.Join(errs...)
}

// VerifyAudit verifies every chain. A chain that does not verify raises an
// alert: an error in the log, the valv_audit_verifications_total{result=
// "failed"} metric, an audit entry and a mail to the security operators
// and, for a tenant's chain, to the tenant's security contact. It returns
// the failed reports.
func (a *App) VerifyAudit(ctx context.Context) ([]audit.Report, error) {
	if a.Keys.Sealed() {
		return nil, nil
	}
	bad, total, err := a.Trail.VerifyAll(ctx)
	if err != nil {
		return bad, fmt.Errorf("verify the audit trail: %w", err)
	}
	a.log.Info("audit trail verified", "entries", total, "failed_chains", len(bad))
	for _, rep := range bad {
		a.auditAlert(ctx, rep)
	}
	return bad, nil
}

func (a *App) auditAlert(ctx context.Context, rep audit.Report) {
	f := rep.Finding
	a.log.Error("AUDIT TRAIL DOES NOT VERIFY", "chain", rep.Chain, "first_bad_entry", f.Seq, "kind", f.Kind)
	jctx := a.systemContext(ctx, "audit.verify")
	tenantID := ""
	if rep.Chain != audit.Platform {
		tenantID = rep.Chain
	}
	audit.Describe(jctx, audit.Description{TenantID: tenantID, ResourceType: "audit_chain", ResourceID: rep.Chain})
	audit.Detail(jctx, "first_bad_entry", fmt.Sprint(f.Seq))
	audit.Detail(jctx, "kind", f.Kind)
	if err := a.Trail.Finish(jctx, 500, errors.New("audit chain does not verify")); err != nil {
		a.log.Error("the failed verification could not be recorded", "error", err)
	}

	now := a.now()
	to, err := a.securityOperators(ctx)
	if err != nil {
		a.log.Error("security operators not found for the alert", "error", err)
	}
	if len(to) > 0 {
		title, lines := verifyAlertText("en", rep)
		if err := a.mail.SecurityAlert(ctx, to, "en", "Valv (platform)", title, lines, now); err != nil {
			a.log.Error("audit alert not sent to the security operators", "error", err)
		}
	}
	if tenantID != "" {
		pol, err := a.Tenants.LoginPolicy(ctx, tenantID)
		if err == nil && pol.SecurityContact != "" {
			st, _ := a.Tenants.SettingsOf(ctx, tenantID)
			title, lines := verifyAlertText(st.Language, rep)
			if err := a.mail.SecurityAlert(ctx, []string{pol.SecurityContact}, st.Language, pol.Name, title, lines, now); err != nil {
				a.log.Error("audit alert not sent to the tenant's security contact", "tenant", tenantID, "error", err)
			}
		}
	}
}

// verifyAlertText is the title and lines of a failed verification's alert.
func verifyAlertText(lang string, rep audit.Report) (string, []string) {
	f := rep.Finding
	if lang == "sv" {
		return "granskningsloggen stämmer inte", []string{
			"Kedja: " + rep.Chain,
			fmt.Sprintf("Första posten som inte stämmer: %d (%s)", f.Seq, f.Kind),
			f.Message,
			"Poster kan ha ändrats eller tagits bort direkt i databasen. Valvs driftansvariga har larmats; 'valv audit verify' visar detaljerna.",
		}
	}
	return "the audit trail does not verify", []string{
		"Chain: " + rep.Chain,
		fmt.Sprintf("First entry that does not match: %d (%s)", f.Seq, f.Kind),
		f.Message,
		"Entries may have been changed or deleted directly in the database. Valv's operators have been alerted; 'valv audit verify' shows the details.",
	}
}

// securityOperators are the addresses of the active security operators.
func (a *App) securityOperators(ctx context.Context) ([]string, error) {
	var to []string
	cursor := ""
	for {
		accs, next, err := a.Auth.ListAccounts(ctx, "", cursor, 500)
		if err != nil {
			return to, err
		}
		for _, acc := range accs {
			if acc.Role == string(authz.RoleSecurity) && acc.Status == "active" {
				to = append(to, acc.Email)
			}
		}
		if next == "" {
			return to, nil
		}
		cursor = next
	}
}

// PruneAudit removes entries past their chain's retention (whole
// checkpointed segments) and payload history past 12 months.
func (a *App) PruneAudit(ctx context.Context) error {
	if a.Keys.Sealed() {
		return nil
	}
	var errs []error
	now := a.now()
	if _, err := a.Trail.Prune(ctx, audit.Platform, now.Add(-a.cfg.Audit.PlatformRetention)); err != nil {
		errs = append(errs, err)
	}
	after := ""
	for {
		rows, err := a.db.Reader().Tenants(ctx, after, 200)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, t := range rows {
			st, err := a.Tenants.SettingsOf(ctx, t.ID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			keep := time.Duration(st.AuditRetentionDays) * 24 * time.Hour
			if n, err := a.Trail.Prune(ctx, t.ID, now.Add(-keep)); err != nil {
				errs = append(errs, fmt.Errorf("prune tenant %s: %w", t.ID, err))
			} else if n > 0 {
				a.log.Info("pruned audit entries past retention", "tenant", t.ID, "entries", n)
			}
		}
		if len(rows) < 200 {
			break
		}
		after = rows[len(rows)-1].ID
	}
	if n, err := a.Trail.ExpireHistory(ctx); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		a.log.Info("removed payload history older than 12 months", "payloads", n)
	}
	return errors.Join(errs...)
}
