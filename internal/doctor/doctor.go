// Package doctor checks an installation for weak configuration and for
// safeguards that stopped working (EVD-2): a root key in a plain file in
// production, one key holder, backups to one place or outside the allowed
// region, stale restore tests, a lenient WAF, no malware scanner, admins
// without a second factor, an audit trail that does not verify, a wrong
// clock. It is pure: the app gathers Facts, Check judges them, so every
// check is table-tested.
package doctor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/region"
)

// Severities, in rising order.
const (
	OK       = "ok"
	Info     = "info"
	Warning  = "warning"
	Critical = "critical"
)

var rank = map[string]int{OK: 0, Info: 1, Warning: 2, Critical: 3}

// Finding is one weakness and how to fix it.
type Finding struct {
	// Check names the check, e.g. root_key_file.
	Check    string `json:"check"`
	Severity string `json:"severity"`
	// Problem says what is wrong; Fix what to do about it.
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
	// Requirement is the requirement the weakness undermines (SPEC ids).
	Requirement string `json:"requirement"`
}

// Target is a backup target with its newest backup and restore test.
type Target struct {
	Name   string
	Region string
	// LastBackup is its newest complete, verified backup.
	LastBackup time.Time
	// LastGoodRestoreTest is its newest passed restore test.
	LastGoodRestoreTest time.Time
}

// Facts are what the checks look at: the configuration and the state of
// the running installation.
type Facts struct {
	Now         time.Time
	Production  bool
	Installed   time.Time // when the installation was made
	KeyProvider string    // file, shamir, pkcs11
	KeyHolders  int
	Threshold   int

	TLSMinVersion  string
	CertSelfSigned bool
	CertNotAfter   time.Time

	Targets             []Target
	BackupInterval      time.Duration
	RestoreTestInterval time.Duration
	// Pin is the strictest data-residency pin of the tenants;
	// StorageRegion where the database and files are.
	Pin           string
	StorageRegion string

	WAFThreshold int

	ScannerConfigured bool
	ScannerReachable  bool
	ScanPolicy        string

	// TenantsWeak2FA are the slugs of tenants that do not require a second
	// factor and have an owner or admin without one.
	TenantsWeak2FA []string

	// AuditLastVerify is the last verification of every chain (zero:
	// never) and AuditVerified whether it passed.
	AuditLastVerify time.Time
	AuditVerified   bool
	VerifyInterval  time.Duration

	// ClockSkew is how far this machine's clock is behind another clock
	// Valv trusts (the database server's, or the newest audit entry's);
	// negative when ahead.
	ClockSkew       time.Duration
	ClockSkewSource string

	MailTransport string
}

// Check runs every check and returns the findings, worst first.
func Check(f Facts) []Finding {
	var out []Finding
	add := func(check, sev, req, problem, fix string) {
		out = append(out, Finding{Check: check, Severity: sev, Requirement: req, Problem: problem, Fix: fix})
	}
	prodOr := func(prod, other string) string {
		if f.Production {
			return prod
		}
		return other
	}
	// Keys (ENC-2, ENC-3).
	switch {
	case f.KeyProvider == "file":
		add("root_key_file", prodOr(Critical, Info), "ENC-3",
			"The root key is a plain file on this machine: anyone who can read it can read all data.",
			"Split the root key among key holders (keys.provider: shamir, then 'valv operator init --shares 5 --threshold 3'), or keep it in an HSM (keys.provider: pkcs11).")
	case f.KeyProvider == "shamir" && f.KeyHolders < 2:
		add("single_key_holder", prodOr(Warning, Info), "ENC-3",
			"The root key has a single key holder: one person (or one lost share) decides whether Valv can be unsealed.",
			"Rekey with more holders: 'valv operator rekey --shares 5 --threshold 3'.")
	case f.KeyProvider == "shamir" && f.Threshold < 2:
		add("single_key_holder", prodOr(Warning, Info), "ENC-3",
			fmt.Sprintf("Any one of the %d key holders can unseal Valv alone (threshold 1).", f.KeyHolders),
			"Rekey with a threshold of at least 2: 'valv operator rekey --shares 5 --threshold 3'.")
	}
	// Transport (ENC-5).
	if f.TLSMinVersion != "1.2" && f.TLSMinVersion != "1.3" {
		add("tls_version", Critical, "ENC-5", fmt.Sprintf("TLS %q is accepted: versions below 1.2 are broken.", f.TLSMinVersion),
			"Set tls.min_version to 1.2 or 1.3.")
	}
	switch {
	case !f.CertNotAfter.IsZero() && !f.CertNotAfter.After(f.Now):
		add("tls_certificate", Critical, "ENC-5", "The server certificate expired on "+f.CertNotAfter.UTC().Format(time.DateOnly)+".",
			"Renew it and point tls.cert_file and tls.key_file at the new one.")
	case !f.CertNotAfter.IsZero() && f.CertNotAfter.Sub(f.Now) < 21*24*time.Hour:
		add("tls_certificate", Warning, "ENC-5", "The server certificate expires on "+f.CertNotAfter.UTC().Format(time.DateOnly)+".",
			"Renew it before then.")
	}
	if f.CertSelfSigned && f.Production {
		add("tls_self_signed", Warning, "ENC-5", "The server uses a self-signed certificate: clients cannot tell it from an impostor's.",
			"Configure a certificate from a CA the clients trust (tls.cert_file, tls.key_file).")
	}
	// Backups (BAK-1 to BAK-3) and residency (ENV-2).
	switch len(f.Targets) {
	case 0:
		add("backup_targets", prodOr(Critical, Info), "BAK-1", "No backup target is configured: nothing is backed up.",
			"Add at least two targets in different places to backup.targets (docs/operations/backup.md).")
	case 1:
		add("backup_targets", prodOr(Warning, Info), "BAK-1", "Backups go to a single target: losing that place loses every backup.",
			"Add a second target in another place (another site or an S3 bucket) to backup.targets.")
	}
	for _, t := range f.Targets {
		if err := region.Check(f.Pin, t.Region); err != nil {
			add("backup_region", Critical, "ENV-2", fmt.Sprintf("Backup target %s: %v, where tenants' data must stay; backups to it are refused.", t.Name, err),
				"Move the target into "+region.Describe(f.Pin)+" and label it with its region (backup.targets[].region).")
		}
	}
	if len(f.Targets) > 0 {
		if f.BackupInterval <= 0 {
			add("backup_schedule", prodOr(Warning, Info), "BAK-1", "Scheduled backups are off (backup.interval is 0).", "Set backup.interval, e.g. 24h.")
		}
		if f.RestoreTestInterval <= 0 {
			add("restore_test_schedule", prodOr(Warning, Info), "BAK-3", "Scheduled restore tests are off (backup.restore_test_interval is 0).",
				"Set backup.restore_test_interval, e.g. 168h.")
		}
	}
	for _, t := range f.Targets {
		if f.BackupInterval > 0 && stale(f, t.LastBackup, f.BackupInterval) {
			add("backup_stale", Warning, "BAK-1", fmt.Sprintf("Target %s's newest backup is %s.", t.Name, age(f.Now, t.LastBackup)),
				"See why backups fail with 'valv backup status'; take one with 'valv backup run'.")
		}
		if f.RestoreTestInterval > 0 && stale(f, t.LastGoodRestoreTest, f.RestoreTestInterval) {
			add("restore_test_stale", Warning, "BAK-3",
				fmt.Sprintf("Target %s's newest passed restore test is %s, longer ago than its schedule (%s).", t.Name, age(f.Now, t.LastGoodRestoreTest), f.RestoreTestInterval),
				"See why with 'valv backup status'; run one with 'valv backup test'.")
		}
	}
	switch {
	case strings.TrimSpace(f.StorageRegion) == "":
		add("storage_region", prodOr(Warning, Info), "ENV-2", "Where the database and files are is not stated, so reports cannot show it.",
			"Set region to where they are stored, e.g. se-sto or eu-north-1.")
	case region.Check(f.Pin, f.StorageRegion) != nil:
		add("storage_region", Critical, "ENV-2", fmt.Sprintf("The database and files are stored in %s, outside %s where tenants' data must stay.", f.StorageRegion, region.Describe(f.Pin)),
			"Move the installation into the region, or have the tenants change their pin (settings region).")
	}
	// Firewall (GRD-1).
	switch {
	case f.WAFThreshold >= 100:
		add("waf_detect_only", Critical, "GRD-1", fmt.Sprintf("The WAF blocks only at anomaly score %d: in effect it only detects.", f.WAFThreshold),
			"Set guard.inbound_threshold to 5 (the default: one critical rule blocks).")
	case f.WAFThreshold > 5:
		add("waf_lenient", Warning, "GRD-1", fmt.Sprintf("The WAF blocks only at anomaly score %d: an attack that matches one critical rule passes.", f.WAFThreshold),
			"Set guard.inbound_threshold to 5.")
	}
	// Malware scanning (DOC-2).
	switch {
	case !f.ScannerConfigured:
		add("scanner_off", prodOr(Critical, Info), "DOC-2", "No malware scanner is configured: uploaded files are not scanned.",
			"Run clamd and set scan.address to its socket.")
	case !f.ScannerReachable:
		add("scanner_unreachable", Critical, "DOC-2", "clamd does not answer: uploads are refused (fail-closed) or stored unscanned (fail-open).",
			"Start clamd, or fix scan.address.")
	}
	if f.ScannerConfigured && f.ScanPolicy == "fail-open" && f.Production {
		add("scanner_fail_open", Warning, "DOC-2", "When clamd is down, files are stored unscanned (scan.policy: fail-open).",
			"Set scan.policy to fail-closed.")
	}
	// Identity (AUTH-2).
	if n := len(f.TenantsWeak2FA); n > 0 {
		add("admins_without_2fa", Warning, "AUTH-2",
			fmt.Sprintf("%d organisation(s) do not require a second factor and have an owner or admin without one: %s.", n, listSome(f.TenantsWeak2FA, 10)),
			"Ask their owners to switch on 'require two-factor' (settings require_2fa) or to enrol TOTP or a passkey.")
	}
	// Audit (AUD-2).
	switch {
	case !f.AuditLastVerify.IsZero() && !f.AuditVerified:
		add("audit_verify", Critical, "AUD-2", "The last verification of the audit trail failed: entries may have been changed or removed.",
			"Run 'valv audit verify' to see the first entry that does not match, and treat it as an incident.")
	case f.VerifyInterval > 0 && stale(f, f.AuditLastVerify, f.VerifyInterval):
		add("audit_verify_stale", Warning, "AUD-2", "The audit trail was last verified "+age(f.Now, f.AuditLastVerify)+".",
			"Check that the server runs its jobs ('valv serve'); run 'valv audit verify' now.")
	}
	// Clock.
	skew := f.ClockSkew
	if skew < 0 {
		skew = -skew
	}
	switch {
	case skew > 10*time.Minute:
		add("clock_skew", Critical, "AUD-1", fmt.Sprintf("This machine's clock is %s off %s: audit times, TOTP codes and deadlines are wrong.", skew.Round(time.Second), f.ClockSkewSource),
			"Synchronise the clock with NTP (timedatectl set-ntp true, or chrony).")
	case skew > 2*time.Minute:
		add("clock_skew", Warning, "AUD-1", fmt.Sprintf("This machine's clock is %s off %s.", skew.Round(time.Second), f.ClockSkewSource),
			"Synchronise the clock with NTP (timedatectl set-ntp true, or chrony).")
	}
	// Mail.
	if f.MailTransport == "file" && f.Production {
		add("mail_not_sent", Warning, "AUTH-2", "Mail is written to files, not sent: login codes, invitations and security alerts never reach anyone.",
			"Configure mail.transport: smtp and mail.smtp.")
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return rank[b.Severity] - rank[a.Severity] })
	return out
}

// stale reports whether t (zero: never) is longer ago than interval and a
// quarter; an installation younger than that is not yet stale.
func stale(f Facts, t time.Time, interval time.Duration) bool {
	limit := interval + interval/4
	if t.IsZero() {
		return !f.Installed.IsZero() && f.Now.Sub(f.Installed) > limit
	}
	return f.Now.Sub(t) > limit
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "never made"
	}
	return "from " + t.UTC().Format("2006-01-02 15:04 UTC") + " (" + now.Sub(t).Round(time.Minute).String() + " ago)"
}

func listSome(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:n], ", ") + fmt.Sprintf(" and %d more", len(list)-n)
}

// Worst is the highest severity among findings (OK when there are none).
func Worst(findings []Finding) string {
	w := OK
	for _, f := range findings {
		if rank[f.Severity] > rank[w] {
			w = f.Severity
		}
	}
	return w
}

// ExitStatus is valv doctor's exit status: 0 when nothing worse than info
// was found, 3 for warnings, 4 for critical findings (1 and 2 stay the
// CLI's: the command failed, or was called wrongly).
func ExitStatus(findings []Finding) int {
	switch Worst(findings) {
	case Critical:
		return 4
	case Warning:
		return 3
	default:
		return 0
	}
}

// Count returns how many findings have each severity.
func Count(findings []Finding) map[string]int {
	out := map[string]int{Info: 0, Warning: 0, Critical: 0}
	for _, f := range findings {
		out[f.Severity]++
	}
	return out
}
