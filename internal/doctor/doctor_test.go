package doctor

import (
	"testing"
	"time"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// good is a well-configured production installation.
func good() Facts {
	return Facts{
		Now: now, Production: true, Installed: now.AddDate(-1, 0, 0),
		KeyProvider: "shamir", KeyHolders: 5, Threshold: 3,
		TLSMinVersion: "1.2", CertNotAfter: now.AddDate(0, 6, 0),
		Targets: []Target{
			{Name: "primary", Region: "se-sto", LastBackup: now.Add(-3 * time.Hour), LastGoodRestoreTest: now.Add(-48 * time.Hour)},
			{Name: "offsite", Region: "eu-north-1", LastBackup: now.Add(-3 * time.Hour), LastGoodRestoreTest: now.Add(-50 * time.Hour)},
		},
		BackupInterval: 24 * time.Hour, RestoreTestInterval: 7 * 24 * time.Hour,
		Pin: "eu-eea", StorageRegion: "se-got",
		WAFThreshold:      5,
		ScannerConfigured: true, ScannerReachable: true, ScanPolicy: "fail-closed",
		AuditLastVerify: now.Add(-2 * time.Hour), AuditVerified: true, VerifyInterval: 24 * time.Hour,
		ClockSkew: 300 * time.Millisecond, ClockSkewSource: "the database server's clock",
		MailTransport: "smtp",
	}
}

func TestCleanInstallation(t *testing.T) {
	if got := Check(good()); len(got) != 0 {
		t.Fatalf("a well-configured installation has findings: %+v", got)
	}
	if ExitStatus(nil) != 0 || Worst(nil) != OK {
		t.Fatal("no findings is not exit 0")
	}
}

func TestPlantedWeaknesses(t *testing.T) {
	tests := []struct {
		name     string
		plant    func(*Facts)
		check    string
		severity string
	}{
		{"root key in a file in production", func(f *Facts) { f.KeyProvider = "file" }, "root_key_file", Critical},
		{"root key in a file in development", func(f *Facts) { f.KeyProvider, f.Production = "file", false }, "root_key_file", Info},
		{"one key holder", func(f *Facts) { f.KeyHolders, f.Threshold = 1, 1 }, "single_key_holder", Warning},
		{"threshold of one", func(f *Facts) { f.Threshold = 1 }, "single_key_holder", Warning},
		{"TLS below 1.2", func(f *Facts) { f.TLSMinVersion = "1.0" }, "tls_version", Critical},
		{"expired certificate", func(f *Facts) { f.CertNotAfter = now.Add(-time.Hour) }, "tls_certificate", Critical},
		{"certificate about to expire", func(f *Facts) { f.CertNotAfter = now.AddDate(0, 0, 10) }, "tls_certificate", Warning},
		{"self-signed in production", func(f *Facts) { f.CertSelfSigned = true }, "tls_self_signed", Warning},
		{"no backup target", func(f *Facts) { f.Targets = nil }, "backup_targets", Critical},
		{"a single backup target", func(f *Facts) { f.Targets = f.Targets[:1] }, "backup_targets", Warning},
		{"backup target outside the EEA", func(f *Facts) { f.Targets[1].Region = "us-east-1" }, "backup_region", Critical},
		{"backup target without a region", func(f *Facts) { f.Targets[1].Region = "" }, "backup_region", Critical},
		{"backup target outside Sweden for a se pin", func(f *Facts) { f.Pin, f.StorageRegion, f.Targets[1].Region = "se", "se-sto", "europe-north1" }, "backup_region", Critical},
		{"backups off", func(f *Facts) { f.BackupInterval = 0 }, "backup_schedule", Warning},
		{"restore tests off", func(f *Facts) { f.RestoreTestInterval = 0 }, "restore_test_schedule", Warning},
		{"stale backup", func(f *Facts) { f.Targets[0].LastBackup = now.Add(-4 * 24 * time.Hour) }, "backup_stale", Warning},
		{"restore test older than its schedule", func(f *Facts) { f.Targets[1].LastGoodRestoreTest = now.Add(-10 * 24 * time.Hour) }, "restore_test_stale", Warning},
		{"never a restore test", func(f *Facts) { f.Targets[0].LastGoodRestoreTest = time.Time{} }, "restore_test_stale", Warning},
		{"storage region unknown", func(f *Facts) { f.StorageRegion = "" }, "storage_region", Warning},
		{"storage outside the pin", func(f *Facts) { f.StorageRegion = "uksouth" }, "storage_region", Critical},
		{"WAF detect-only", func(f *Facts) { f.WAFThreshold = 10000 }, "waf_detect_only", Critical},
		{"WAF lenient", func(f *Facts) { f.WAFThreshold = 15 }, "waf_lenient", Warning},
		{"scanner off", func(f *Facts) { f.ScannerConfigured = false }, "scanner_off", Critical},
		{"scanner down", func(f *Facts) { f.ScannerReachable = false }, "scanner_unreachable", Critical},
		{"scanner fail-open", func(f *Facts) { f.ScanPolicy = "fail-open" }, "scanner_fail_open", Warning},
		{"admins without 2FA", func(f *Facts) { f.TenantsWeak2FA = []string{"acme"} }, "admins_without_2fa", Warning},
		{"audit verify failing", func(f *Facts) { f.AuditVerified = false }, "audit_verify", Critical},
		{"audit never verified", func(f *Facts) { f.AuditLastVerify = time.Time{} }, "audit_verify_stale", Warning},
		{"clock a bit off", func(f *Facts) { f.ClockSkew = -5 * time.Minute }, "clock_skew", Warning},
		{"clock far off", func(f *Facts) { f.ClockSkew = time.Hour }, "clock_skew", Critical},
		{"mail to files in production", func(f *Facts) { f.MailTransport = "file" }, "mail_not_sent", Warning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good()
			f.Targets = append([]Target(nil), f.Targets...)
			tt.plant(&f)
			got := Check(f)
			found := false
			for _, x := range got {
				if x.Check == tt.check {
					found = true
					if x.Severity != tt.severity {
						t.Errorf("%s: severity %s, want %s", tt.check, x.Severity, tt.severity)
					}
					if x.Problem == "" || x.Fix == "" || x.Requirement == "" {
						t.Errorf("%s: finding without problem, fix or requirement: %+v", tt.check, x)
					}
				}
			}
			if !found {
				t.Fatalf("planted %q not found; findings: %+v", tt.check, got)
			}
			want := map[string]int{Info: 0, Warning: 3, Critical: 4}[tt.severity]
			if Worst(got) == tt.severity && ExitStatus(got) != want {
				t.Errorf("exit status %d, want %d", ExitStatus(got), want)
			}
		})
	}
}

func TestYoungInstallationIsNotStale(t *testing.T) {
	f := good()
	f.Installed = now.Add(-time.Hour)
	for i := range f.Targets {
		f.Targets[i].LastBackup, f.Targets[i].LastGoodRestoreTest = time.Time{}, time.Time{}
	}
	f.AuditLastVerify = time.Time{}
	if got := Check(f); len(got) != 0 {
		t.Fatalf("an hour-old installation has findings: %+v", got)
	}
}

func TestWorstFirst(t *testing.T) {
	f := good()
	f.MailTransport, f.KeyProvider = "file", "file"
	got := Check(f)
	if len(got) != 2 || got[0].Severity != Critical || got[1].Severity != Warning {
		t.Fatalf("findings not worst first: %+v", got)
	}
	if c := Count(got); c[Critical] != 1 || c[Warning] != 1 {
		t.Fatalf("Count = %v", c)
	}
}
