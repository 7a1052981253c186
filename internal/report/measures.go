package report

import "time"

// FormatV1 names the JSON form of a measures report. A reader refuses a
// report whose format it does not know.
const FormatV1 = "valv-measures-v1"

// Measures is the technical-and-organisational-measures report of one
// tenant (EVD-1, GDPR art. 28 and 32): every figure is read from the
// running installation when the report is made, never typed in. It is the
// report's JSON form; the HTML and PDF forms show the same content.
//
// Times are UTC. A nil time means "never" (no backup yet, no restore test
// yet); it is shown as such, never as a zero date.
type Measures struct {
	Format       string    `json:"format"`
	Installation string    `json:"installation"`
	Environment  string    `json:"environment"`
	Version      string    `json:"version"`
	Tenant       Tenant    `json:"tenant"`
	Generated    time.Time `json:"generated"`
	// PeriodFrom and PeriodTo bound the figures that count events
	// (operator accesses, WAF refusals, completed requests).
	PeriodFrom time.Time `json:"period_from"`
	PeriodTo   time.Time `json:"period_to"`

	Transport      Transport      `json:"transport"`
	Encryption     Encryption     `json:"encryption"`
	Identity       Identity       `json:"identity"`
	APIKeys        APIKeys        `json:"api_keys"`
	Backups        Backups        `json:"backups"`
	Audit          AuditTrail     `json:"audit"`
	Retention      Retention      `json:"retention"`
	Firewall       Firewall       `json:"firewall"`
	Scanner        Scanner        `json:"scanner"`
	OperatorAccess OperatorAccess `json:"operator_access"`
	Requests       Requests       `json:"data_subject_requests"`
	Residency      Residency      `json:"residency"`
}

// Tenant names the tenant the report is about.
type Tenant struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// Transport is how connections to Valv are protected (ENC-5).
type Transport struct {
	// MinVersion is the lowest TLS version accepted ("1.2" or "1.3").
	MinVersion string `json:"min_version"`
	// Versions are the TLS versions accepted, e.g. ["TLS 1.2", "TLS 1.3"].
	Versions []string `json:"versions"`
	// CipherSuites are the TLS 1.2 suites accepted, by IANA name; TLS 1.3's
	// suites are fixed by the protocol and listed too.
	CipherSuites []string `json:"cipher_suites"`
	// HSTS is the Strict-Transport-Security header sent.
	HSTS        string      `json:"hsts"`
	Certificate Certificate `json:"certificate"`
}

// Certificate describes the server certificate in use.
type Certificate struct {
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	NotAfter   time.Time `json:"not_after"`
	SelfSigned bool      `json:"self_signed"`
	SHA256     string    `json:"sha256"`
}

// Encryption is encryption at rest and the key hierarchy (ENC-1 to ENC-4).
type Encryption struct {
	// Algorithm is the authenticated encryption of stored values.
	Algorithm string `json:"algorithm"`
	// Hierarchy lists the key levels from the root down.
	Hierarchy []string `json:"hierarchy"`
	// RootProvider is file, shamir or pkcs11.
	RootProvider string `json:"root_provider"`
	// KeyHolders and Threshold: with shamir, the root key is split among
	// KeyHolders people and any Threshold of them unseal it; with file or
	// pkcs11 both are 1 (one file or one HSM holds it).
	KeyHolders int `json:"key_holders"`
	Threshold  int `json:"threshold"`
	// RootKeyCreated is when the current root key was made (its last
	// rotation).
	RootKeyCreated *time.Time `json:"root_key_created"`
	// TenantKeys is how many keys the tenant's keyset holds (old ones
	// stay until no value uses them); TenantKeyCreated is when its
	// primary key was made (the last rotation of the tenant's keys).
	TenantKeys       int        `json:"tenant_keys"`
	TenantKeyCreated *time.Time `json:"tenant_key_created"`
	// BlindIndex is how identifiers are made searchable without being
	// stored in plain text.
	BlindIndex string `json:"blind_index"`
}

// Identity is logins and sessions of the tenant's users (AUTH-1 to AUTH-5).
type Identity struct {
	Users int `json:"users"`
	// UsersWithSecondFactor have a TOTP app or a passkey (an e-mailed
	// code is always available and not counted).
	UsersWithSecondFactor  int `json:"users_with_second_factor"`
	UsersWithPasskey       int `json:"users_with_passkey"`
	Admins                 int `json:"admins"`
	AdminsWithSecondFactor int `json:"admins_with_second_factor"`
	// RequireTwoFactor is the tenant's setting: every login needs a
	// second factor.
	RequireTwoFactor bool `json:"require_two_factor"`
	// IdleTimeoutSeconds ends a session after this long without a
	// request.
	IdleTimeoutSeconds int64  `json:"idle_timeout_seconds"`
	PasswordHash       string `json:"password_hash"`
}

// APIKeys is the tenant's active API keys (AUTH-6).
type APIKeys struct {
	Active           int `json:"active"`
	WithAllowlist    int `json:"with_ip_allowlist"`
	WithoutAllowlist int `json:"without_ip_allowlist"`
	WithExpiry       int `json:"with_expiry"`
}

// Backups is the installation's backups (BAK-1 to BAK-3).
type Backups struct {
	IntervalSeconds            int64          `json:"interval_seconds"`
	KeepSeconds                int64          `json:"keep_seconds"`
	RestoreTestIntervalSeconds int64          `json:"restore_test_interval_seconds"`
	Targets                    []BackupTarget `json:"targets"`
}

// BackupTarget is one place backups are written to.
type BackupTarget struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Region string `json:"region"`
	// LastBackup is the newest complete backup on this target.
	LastBackup *time.Time `json:"last_backup"`
	// LastRestoreTest is the newest restore test of this target and
	// RestoreTestOK whether it passed.
	LastRestoreTest *time.Time `json:"last_restore_test"`
	RestoreTestOK   bool       `json:"restore_test_ok"`
	// LastSuccessfulRestoreTest is the newest passed restore test.
	LastSuccessfulRestoreTest *time.Time `json:"last_successful_restore_test"`
}

// AuditTrail is the tenant's audit chain (AUD-1 to AUD-5).
type AuditTrail struct {
	Entries int64 `json:"entries"`
	// LastVerified is the last verification of every chain and Verified
	// whether it found them intact.
	LastVerified *time.Time `json:"last_verified"`
	Verified     bool       `json:"verified"`
	// Checkpoint is the tenant chain's latest signed checkpoint, in the
	// signed-note format, and CheckpointSize the entries it covers.
	Checkpoint     string     `json:"checkpoint"`
	CheckpointSize int64      `json:"checkpoint_size"`
	CheckpointTime *time.Time `json:"checkpoint_time"`
	// VerifierKey checks the checkpoint and this report's signature.
	VerifierKey    string `json:"verifier_key"`
	PayloadHistory bool   `json:"payload_history"`
	RetentionDays  int    `json:"retention_days"`
}

// Retention is the archive rules in force for the tenant (RET-1 to RET-5).
type Retention struct {
	LegalArchive   bool            `json:"legal_archive"`
	LegalYears     int             `json:"legal_years"`
	StandardMonths int             `json:"standard_months"`
	Rules          []RetentionRule `json:"rules"`
	LegalHolds     int             `json:"legal_holds"`
	// LastCull is the last culling run over every tenant.
	LastCull *time.Time `json:"last_cull"`
}

// RetentionRule is one rule: documents of a type kept this long.
type RetentionRule struct {
	Type    string `json:"type"`
	Archive string `json:"archive"`
	Months  int    `json:"months"`
}

// Firewall is the web application firewall and rate limits (GRD-1, GRD-2).
type Firewall struct {
	// Mode is blocking, or detect-only when the anomaly threshold is so
	// high (100 or more) that in effect nothing is blocked: "detection".
	Mode             string `json:"mode"`
	RuleSet          string `json:"rule_set"`
	ParanoiaLevel    int    `json:"paranoia_level"`
	InboundThreshold int    `json:"inbound_threshold"`
	// Detection is the share of the CRS regression corpus's attack tests
	// the tuned rule set detects, relative to the stock one, as measured
	// by Valv's test suite.
	Detection float64 `json:"detection"`
	// RefusedInPeriod counts requests the WAF refused in the period, over
	// the whole installation.
	RefusedInPeriod int `json:"refused_in_period"`
	// Rate limits: requests per window, 0 for none.
	WindowSeconds int64 `json:"window_seconds"`
	AddressLimit  int   `json:"address_limit"`
	KeyLimit      int   `json:"key_limit"`
	UserLimit     int   `json:"user_limit"`
	TenantLimit   int   `json:"tenant_limit"`
	AutoBlock     bool  `json:"auto_block"`
}

// Scanner is the malware scanner (DOC-2).
type Scanner struct {
	Enabled bool `json:"enabled"`
	// Reachable: clamd answered when the report was made.
	Reachable bool `json:"reachable"`
	// Version is clamd's version line: engine, signature version and date.
	Version string `json:"version"`
	// Policy is fail-closed or fail-open.
	Policy string `json:"policy"`
}

// OperatorAccess is the operators' accesses to the tenant's data in the
// period (AZ-4, OPS-1 to OPS-3).
type OperatorAccess struct {
	ConsentRequired bool           `json:"consent_required"`
	Accesses        []AccessRecord `json:"accesses"`
}

// AccessRecord is one access request in the period.
type AccessRecord struct {
	ID         string     `json:"id"`
	Scope      string     `json:"scope"`
	Status     string     `json:"status"`
	BreakGlass bool       `json:"break_glass"`
	Requested  time.Time  `json:"requested"`
	Expires    *time.Time `json:"expires"`
}

// Requests is the tenant's data-subject requests (GDPR-1 to GDPR-5).
type Requests struct {
	Open              []OpenRequest `json:"open"`
	CompletedInPeriod int           `json:"completed_in_period"`
}

// OpenRequest is a request not yet completed (or failed, and so still
// owed) and its legal deadline. It names no one, and not even the request:
// the report's readers include auditors and operators, who may not read
// requests.
type OpenRequest struct {
	Kind     string    `json:"kind"`
	Received time.Time `json:"received"`
	Deadline time.Time `json:"deadline"`
	Overdue  bool      `json:"overdue"`
}

// Residency is where the tenant's data is (ENV-2).
type Residency struct {
	// Pin is the region the tenant's data must stay in ("eu-eea"), or ""
	// when the tenant is not pinned.
	Pin       string            `json:"pin"`
	Locations []ResidencyTarget `json:"locations"`
}

// ResidencyTarget is one place the tenant's data is stored or sent.
type ResidencyTarget struct {
	// Kind is storage, backup or endpoint.
	Kind string `json:"kind"`
	// Name is the target's name, or an endpoint's id (its name and host
	// are the tenant's own words, kept out of the report).
	Name   string `json:"name"`
	Region string `json:"region"`
	// Country is the ISO 3166 code the region is in, "" when unknown.
	Country string `json:"country"`
	// Allowed: the location is inside the tenant's pin (always true when
	// unpinned).
	Allowed bool `json:"allowed"`
}
