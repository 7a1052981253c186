package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/valvhq/valv/internal/region"
	"time"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	Key     string // yaml key path
	Message string // what is wrong
	Fix     string // what to do about it
}

func (p Problem) String() string {
	s := p.Key + ": " + p.Message
	if p.Fix != "" {
		s += " (" + p.Fix + ")"
	}
	return s
}

// Problems is a list of configuration problems; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return "invalid configuration: " + strings.Join(parts, "; ")
}

// Validate checks cfg and returns every problem found, or nil.
func (cfg *Config) Validate() error {
	var ps Problems
	add := func(key, msg, fix string) { ps = append(ps, Problem{key, msg, fix}) }

	switch cfg.Environment {
	case Production, Test, Development:
	default:
		add("environment", fmt.Sprintf("%q is not an environment", cfg.Environment), "use production, test or development")
	}
	if strings.TrimSpace(cfg.DataDir) == "" {
		add("data_dir", "is empty", "set a directory Valv may write to")
	}
	if msg := checkHostPort(cfg.Listen); msg != "" {
		add("listen", msg, "use host:port, for example 127.0.0.1:8443")
	}
	if cfg.RedirectListen != "" {
		if msg := checkHostPort(cfg.RedirectListen); msg != "" {
			add("redirect_listen", msg, "use host:port, for example 127.0.0.1:8080, or leave empty")
		}
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			add("public_url", "is not an https:// URL", "use the address users reach Valv at, for example https://valv.example.se")
		}
	}
	switch cfg.TLS.MinVersion {
	case "1.2", "1.3":
	default:
		add("tls.min_version", fmt.Sprintf("%q is not allowed", cfg.TLS.MinVersion), "use 1.2 or 1.3")
	}
	if (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == "") {
		add("tls.cert_file", "cert_file and key_file must be set together", "set both, or neither for a self-signed certificate")
	}
	if cfg.Region != "" && region.Country(cfg.Region) == "" {
		add("region", fmt.Sprintf("%q is not a place Valv knows", cfg.Region),
			"use a cloud region such as eu-north-1, or a label that starts with its country code, such as se-sto")
	}
	switch cfg.Database.Driver {
	case "sqlite":
		if cfg.Database.URL != "" {
			add("database.url", "is set but the driver is sqlite", "set database.driver to postgres, or remove database.url")
		}
	case "postgres":
		u, err := url.Parse(cfg.Database.URL.Reveal())
		if cfg.Database.URL == "" || err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			add("database.url", "is not a postgres:// URL", "set database.url to postgres://user@host:5432/valv?sslmode=verify-full")
		} else if cfg.Environment == Production && !cfg.Database.AllowInsecureTransport && !verifiedTLS(u) {
			add("database.url", "connects without verified TLS (sslmode="+u.Query().Get("sslmode")+"): in production every connection between systems is encrypted and the server authenticated",
				"add sslmode=verify-full&sslrootcert=/path/to/ca.crt (the cluster's CA), or set database.allow_insecure_transport for a database reached only over a private link")
		}
	default:
		add("database.driver", fmt.Sprintf("%q is not a driver", cfg.Database.Driver), "use sqlite or postgres")
	}
	if cfg.Database.MaxOpenConns < 1 || cfg.Database.MaxOpenConns > 1000 {
		add("database.max_open_conns", "must be between 1 and 1000", "")
	}
	switch cfg.Keys.Provider {
	case "file", "shamir":
	case "pkcs11":
		if cfg.Keys.PKCS11.Module == "" {
			add("keys.pkcs11.module", "is required for the pkcs11 provider", "give the path of the module, e.g. /usr/lib/softhsm/libsofthsm2.so")
		}
		if cfg.Keys.PKCS11.TokenLabel == "" {
			add("keys.pkcs11.token_label", "is required for the pkcs11 provider", "give the label of the token that holds the root key")
		}
		if cfg.Keys.PKCS11.KeyLabel == "" {
			add("keys.pkcs11.key_label", "is required for the pkcs11 provider", "")
		}
	default:
		add("keys.provider", fmt.Sprintf("%q is not a provider", cfg.Keys.Provider), "use file, shamir or pkcs11")
	}
	if cfg.Auth.SessionLifetime < 5*time.Minute || cfg.Auth.SessionLifetime > 30*24*time.Hour {
		add("auth.session_lifetime", "must be between 5m and 720h", "")
	}
	if cfg.Auth.OperatorIdleTimeout < time.Minute || cfg.Auth.OperatorIdleTimeout > 12*time.Hour {
		add("auth.operator_idle_timeout", "must be between 1m and 12h", "")
	}
	if cfg.Auth.MaxConcurrentHashes < 0 || cfg.Auth.MaxConcurrentHashes > 64 {
		add("auth.max_concurrent_hashes", "must be between 0 (one per CPU core) and 64", "each running hash holds 19 MiB")
	}
	if _, err := mail.ParseAddress(cfg.Mail.From); err != nil {
		add("mail.from", "is not an e-mail address", "for example valv@example.se")
	}
	switch cfg.Mail.Transport {
	case "file":
	case "smtp":
		if cfg.Mail.SMTP.Host == "" {
			add("mail.smtp.host", "is required for the smtp transport", "")
		}
		if cfg.Mail.SMTP.Port < 1 || cfg.Mail.SMTP.Port > 65535 {
			add("mail.smtp.port", "is not a port", "use 587 (STARTTLS) or 465 (TLS)")
		}
		switch cfg.Mail.SMTP.TLS {
		case "starttls", "tls":
		case "none":
			if cfg.Mail.SMTP.Host != "127.0.0.1" && cfg.Mail.SMTP.Host != "::1" {
				add("mail.smtp.tls", "none is allowed only for a relay on this machine", "use starttls or tls")
			}
		default:
			add("mail.smtp.tls", fmt.Sprintf("%q is not allowed", cfg.Mail.SMTP.TLS), "use starttls, tls or none")
		}
	default:
		add("mail.transport", fmt.Sprintf("%q is not a transport", cfg.Mail.Transport), "use smtp or file")
	}
	if cfg.Audit.CheckpointInterval < time.Second || cfg.Audit.CheckpointInterval > 24*time.Hour {
		add("audit.checkpoint_interval", "must be between 1s and 24h", "")
	}
	if cfg.Audit.VerifyInterval < time.Minute || cfg.Audit.VerifyInterval > 30*24*time.Hour {
		add("audit.verify_interval", "must be between 1m and 720h", "")
	}
	if cfg.Audit.PlatformRetention < 24*time.Hour {
		add("audit.platform_retention", "must be at least 24h", "entries are pruned by whole checkpoint segments")
	}
	if cfg.Audit.ForwardSyslog != "" {
		if msg := checkHostPort(cfg.Audit.ForwardSyslog); msg != "" {
			add("audit.forward_syslog", msg, "use host:port of an RFC 5425 (TLS) syslog receiver")
		}
	}
	if cfg.Documents.MaxFileSize < 1 || cfg.Documents.MaxFileSize > 4<<30 {
		add("documents.max_file_size", "must be between 1 byte and 4 GiB", "")
	}
	if cfg.Documents.AllowUnscanned && cfg.Environment == Production {
		add("documents.allow_unscanned", "is not allowed in production", "configure scan.address (clamd)")
	}
	if cfg.Retention.LegalYears < 7 || cfg.Retention.LegalYears > 100 {
		add("retention.legal_years", "must be between 7 and 100", "Swedish bookkeeping law requires at least 7")
	}
	if cfg.Retention.StandardMonths < 1 || cfg.Retention.StandardMonths > 1200 {
		add("retention.standard_months", "must be between 1 and 1200", "")
	}
	if cfg.Retention.CullInterval < time.Minute || cfg.Retention.CullInterval > 7*24*time.Hour {
		add("retention.cull_interval", "must be between 1m and 168h", "")
	}
	if cfg.Retention.CullBatch < 1 || cfg.Retention.CullBatch > 5000 {
		add("retention.cull_batch", "must be between 1 and 5000", "")
	}
	if cfg.Retention.TerminationGrace < 24*time.Hour || cfg.Retention.TerminationGrace > 365*24*time.Hour {
		add("retention.termination_grace", fmt.Sprintf("%s is out of range", cfg.Retention.TerminationGrace), "use 24h to 8760h (default 720h, 30 days)")
	}
	if _, err := time.Parse("15:04", cfg.Retention.DigestAt); err != nil {
		add("retention.digest_at", fmt.Sprintf("%q is not a time of day", cfg.Retention.DigestAt), "use HH:MM, for example 07:00")
	}
	if cfg.Jobs.Lease < 10*time.Second || cfg.Jobs.Lease > time.Hour {
		add("jobs.lease", "must be between 10s and 1h", "")
	}
	if cfg.Jobs.Poll < 100*time.Millisecond || cfg.Jobs.Poll > 10*time.Minute {
		add("jobs.poll", "must be between 100ms and 10m", "")
	}
	switch cfg.Scan.Policy {
	case "fail-closed", "fail-open":
	default:
		add("scan.policy", fmt.Sprintf("%q is not a policy", cfg.Scan.Policy), "use fail-closed or fail-open")
	}
	if cfg.Scan.Address != "" && !strings.HasPrefix(cfg.Scan.Address, "/") {
		if msg := checkHostPort(cfg.Scan.Address); msg != "" {
			add("scan.address", msg, "use a unix socket path or host:port")
		}
	}
	if cfg.Scan.MaxStreamSize < cfg.Documents.MaxFileSize && cfg.Scan.Address != "" {
		add("scan.max_stream_size", "is smaller than documents.max_file_size", "raise clamd's StreamMaxLength and this, or lower the file size limit")
	}
	if cfg.Scan.Timeout <= 0 {
		add("scan.timeout", "must be a positive duration", "for example 1m")
	}
	cfg.validateBackup(add)
	cfg.validateMessages(add)
	if d := cfg.Access.MaxDuration; d < 5*time.Minute || d > 7*24*time.Hour {
		add("access.max_duration", "must be between 5m and 168h", "the default is 4h")
	}
	cfg.validateGuard(add)
	if cfg.Keys.CacheTTL < 0 || cfg.Keys.CacheTTL > time.Minute {
		add("keys.cache_ttl", "must be between 0 and 1m", "rotation on other nodes is seen within this time")
	}
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"http.read_header_timeout", cfg.HTTP.ReadHeaderTimeout},
		{"http.read_timeout", cfg.HTTP.ReadTimeout},
		{"http.write_timeout", cfg.HTTP.WriteTimeout},
		{"http.idle_timeout", cfg.HTTP.IdleTimeout},
		{"http.shutdown_timeout", cfg.HTTP.ShutdownTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			add(p.key, "must be a positive duration", "for example 30s")
		}
	}
	if cfg.HTTP.MaxHeaderBytes < 4<<10 || cfg.HTTP.MaxHeaderBytes > 1<<20 {
		add("http.max_header_bytes", "must be between 4096 and 1048576", "")
	}
	if cfg.HTTP.MaxBodyBytes < 1<<10 || cfg.HTTP.MaxBodyBytes > 64<<20 {
		add("http.max_body_bytes", "must be between 1 KiB and 64 MiB", "file uploads have their own limit")
	}
	for i, p := range cfg.HTTP.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			add("http.trusted_proxies["+strconv.Itoa(i)+"]", fmt.Sprintf("%q is not an address or CIDR range", p), "for example 10.0.0.0/8 or 192.0.2.10")
		}
	}
	switch cfg.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", fmt.Sprintf("%q is not a level", cfg.Log.Level), "use debug, info, warn or error")
	}
	switch cfg.Log.Format {
	case "json", "text":
	default:
		add("log.format", fmt.Sprintf("%q is not a format", cfg.Log.Format), "use json or text")
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

// ParsePrefix parses an address or CIDR range; a bare address is a /32 or /128.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func checkHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("port %q is not a number from 0 to 65535", port)
	}
	_ = host // empty host means all interfaces, which is allowed but not the default
	return ""
}

// RootKeyFile is the file provider's key file.
func (cfg *Config) RootKeyFile() string {
	if cfg.Keys.File != "" {
		return cfg.Keys.File
	}
	return filepath.Join(cfg.DataDir, "root.key")
}

// MailDir is the file transport's directory.
func (cfg *Config) MailDir() string {
	if cfg.Mail.Dir != "" {
		return cfg.Mail.Dir
	}
	return filepath.Join(cfg.DataDir, "mail")
}

// PublicBaseURL is the address users reach Valv at: public_url, or the
// listen address (with "localhost" for a loopback address, which WebAuthn
// accepts as a relying party while it refuses IP addresses).
func (cfg *Config) PublicBaseURL(listenAddr string) string {
	if cfg.PublicURL != "" {
		return strings.TrimSuffix(cfg.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "https://localhost"
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && (ip.IsLoopback() || ip.IsUnspecified())) {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// SQLitePath is the SQLite database file the configuration selects.
func (cfg *Config) SQLitePath() string {
	if cfg.Database.Path != "" {
		return cfg.Database.Path
	}
	return filepath.Join(cfg.DataDir, "valv.db")
}

func (cfg *Config) validateMessages(add func(key, msg, fix string)) {
	m := cfg.Messages
	if m.RetryFor < time.Minute || m.RetryFor > 30*24*time.Hour {
		add("messages.retry_for", "must be between 1m and 720h", "the default is 72h")
	}
	if m.Interval < time.Second || m.Interval > time.Hour {
		add("messages.interval", "must be between 1s and 1h", "the default is 10s")
	}
	if m.Workers < 1 || m.Workers > 256 {
		add("messages.workers", "must be between 1 and 256", "the default is 8")
	}
	if m.Timeout < time.Second || m.Timeout > 5*time.Minute {
		add("messages.timeout", "must be between 1s and 5m", "the default is 30s")
	}
	if m.MaxSize < 1<<10 || m.MaxSize > 1<<30 {
		add("messages.max_size", "must be between 1 KiB and 1 GiB", "the default is 10485760 (10 MiB)")
	}
	for i, n := range m.AllowNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			add(fmt.Sprintf("messages.allow_networks[%d]", i), fmt.Sprintf("%q is not a CIDR range", n), "write a range such as 10.20.0.0/16")
		}
	}
	if m.CAFile != "" {
		if _, err := os.Stat(m.CAFile); err != nil {
			add("messages.ca_file", "cannot be read", "give the path of a PEM file of CA certificates")
		}
	}
}

func (cfg *Config) validateBackup(add func(key, msg, fix string)) {
	b := cfg.Backup
	if b.Interval != 0 && (b.Interval < time.Hour || b.Interval > 7*24*time.Hour) {
		add("backup.interval", "must be 0 (off) or between 1h and 168h", "the default is 24h (daily, BAK-1)")
	}
	if b.Keep < 24*time.Hour {
		add("backup.keep", "must be at least 24h", "the default is 672h (four weeks)")
	}
	if b.KeepMonthly < 0 || b.KeepMonthly > 120 {
		add("backup.keep_monthly", "must be between 0 and 120", "")
	}
	if b.RestoreTestInterval != 0 && b.RestoreTestInterval < time.Hour {
		add("backup.restore_test_interval", "must be 0 (off) or at least 1h", "the default is 168h (weekly)")
	}
	if b.LedgerSyncInterval < 10*time.Second || b.LedgerSyncInterval > 24*time.Hour {
		add("backup.ledger_sync_interval", "must be between 10s and 24h", "the default is 5m")
	}
	names := map[string]bool{}
	for i, t := range b.Targets {
		key := fmt.Sprintf("backup.targets[%d]", i)
		if !validTargetName(t.Name) {
			add(key+".name", fmt.Sprintf("%q is not a target name", t.Name), "use 1 to 32 lower-case letters, digits and dashes")
		} else if names[t.Name] {
			add(key+".name", fmt.Sprintf("%q is used twice", t.Name), "give each target its own name")
		}
		names[t.Name] = true
		if region.Country(t.Region) == "" {
			add(key+".region", fmt.Sprintf("%q is not a place Valv knows", t.Region),
				"label where the target is: a cloud region such as eu-north-1, or a label that starts with its country code, such as se-sto (docs/environments.md)")
		}
		switch t.Type {
		case "dir":
			if strings.TrimSpace(t.Path) == "" {
				add(key+".path", "is empty", "set the directory backups are written to")
			}
		case "s3":
			if msg := checkHostPort(t.Endpoint); msg != "" {
				add(key+".endpoint", msg, "use host:port of the S3 service")
			}
			if t.Bucket == "" {
				add(key+".bucket", "is empty", "name the bucket")
			}
			if t.AccessKey == "" || t.SecretKey == "" {
				add(key+".secret_key", "access_key and secret_key are both needed", "")
			}
			if t.Insecure && !isLoopbackHostPort(t.Endpoint) {
				add(key+".insecure", "plain HTTP is only allowed to a gateway on the loopback interface", "use TLS (and ca_file for a private CA)")
			}
		default:
			add(key+".type", fmt.Sprintf("%q is not a target type", t.Type), "use dir or s3")
		}
	}
}

func validTargetName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func isLoopbackHostPort(hp string) bool {
	host, _, err := net.SplitHostPort(hp)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (cfg Config) validateGuard(add func(key, msg, hint string)) {
	g := cfg.Guard
	if g.ParanoiaLevel < 1 || g.ParanoiaLevel > 4 {
		add("guard.paranoia_level", "must be 1, 2, 3 or 4", "1 is meant for production without tuning higher levels")
	}
	if g.InboundThreshold < 1 || g.InboundThreshold > 100 {
		add("guard.inbound_threshold", "must be between 1 and 100", "the default 5 is one critical rule")
	}
	if g.TextLimit < 4<<10 || g.TextLimit > 8<<20 {
		add("guard.text_limit", "must be between 4 KiB and 8 MiB", "the default is 256 KiB")
	}
	if g.ArgumentLimit < 64 || g.ArgumentLimit > 65536 {
		add("guard.argument_limit", "must be between 64 and 65536", "the default is 2048")
	}
	if g.Window < time.Second || g.Window > time.Hour {
		add("guard.window", "must be between 1s and 1h", "the default is 1m")
	}
	for key, n := range map[string]int{"guard.address_limit": g.AddressLimit, "guard.key_limit": g.KeyLimit, "guard.user_limit": g.UserLimit, "guard.tenant_limit": g.TenantLimit} {
		if n < 0 {
			add(key, "cannot be negative", "0 means no limit")
		}
	}
	if g.SyncInterval < 0 || g.SyncInterval > g.Window {
		add("guard.sync_interval", "must be between 0 and guard.window", "the default is 1s")
	}
	for i, p := range g.Allow {
		if _, err := ParsePrefix(p); err != nil {
			add("guard.allow["+strconv.Itoa(i)+"]", fmt.Sprintf("%q is not an address or CIDR range", p), "for example 10.0.0.0/8")
		}
	}
	if g.BlockAfter < 1 {
		add("guard.block_after", "must be at least 1", "the default is 20")
	}
	if g.BlockWindow < time.Second || g.BlockFirst < time.Second || g.BlockMax < g.BlockFirst || g.BlockForget < g.BlockWindow {
		add("guard.block_window", "block_window and block_first must be at least 1s, block_max at least block_first, block_forget at least block_window", "")
	}
	if g.NotifyInterval < time.Minute || g.NotifyInterval > 24*time.Hour {
		add("guard.notify_interval", "must be between 1m and 24h", "the default is 15m")
	}
	if g.WebhookURL != "" {
		u, err := url.Parse(g.WebhookURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			add("guard.webhook_url", "must be an https:// URL", "")
		}
		if g.WebhookSecret == "" {
			add("guard.webhook_secret", "is required with guard.webhook_url", "whsec_ and then 24 to 64 random bytes in base64")
		}
	}
}

// verifiedTLS reports whether a PostgreSQL URL encrypts and authenticates
// the server (sslmode=verify-full), or connects over a Unix socket on this
// host, where TLS does not apply.
func verifiedTLS(u *url.URL) bool {
	q := u.Query()
	if h := q.Get("host"); strings.HasPrefix(h, "/") || (u.Host == "" && h == "") {
		return true
	}
	return q.Get("sslmode") == "verify-full"
}
