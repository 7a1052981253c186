package config

import (
	"time"
)

// Environment is the kind of installation. Production is the default; test
// and development installations refuse production data (ENV-1).
type Environment string

const (
	Production  Environment = "production"
	Test        Environment = "test"
	Development Environment = "development"
)

// Config is everything Valv can be configured with. Each field's yaml key is
// also its flag-free environment variable: VALV_ followed by the key path in
// capitals joined by underscores (database.url → VALV_DATABASE_URL).
type Config struct {
	// Environment: production, test or development.
	Environment Environment `yaml:"environment" doc:"production, test or development; test and development refuse production data"`
	// DataDir holds the SQLite database, the TLS certificate, the root-key
	// file and the valv.addr file.
	DataDir string `yaml:"data_dir" doc:"directory for the embedded database, keys and TLS files"`
	// Listen is the HTTPS address. Port 0 picks a free port.
	Listen string `yaml:"listen" doc:"HTTPS listen address, host:port; port 0 picks a free port"`
	// RedirectListen, if set, is a plain-HTTP address that only redirects to HTTPS.
	RedirectListen string `yaml:"redirect_listen" doc:"optional plain-HTTP address that only redirects to HTTPS"`
	// PublicURL is the address users reach Valv at, used in links in mail.
	PublicURL string `yaml:"public_url" doc:"external https:// URL used in links sent by mail; defaults to the listen address"`
	// Region is where the database and data directory are (ENV-2).
	Region string `yaml:"region" doc:"where this installation's database and files are stored, as a region label (se-sto, eu-north-1); shown in measures reports and checked by valv doctor against tenants' data-residency pins"`

	TLS       TLS       `yaml:"tls"`
	Database  Database  `yaml:"database"`
	Keys      Keys      `yaml:"keys"`
	Auth      Auth      `yaml:"auth"`
	Mail      Mail      `yaml:"mail"`
	Audit     Audit     `yaml:"audit"`
	Documents Documents `yaml:"documents"`
	Retention Retention `yaml:"retention"`
	Jobs      Jobs      `yaml:"jobs"`
	Scan      Scan      `yaml:"scan"`
	Backup    Backup    `yaml:"backup"`
	Messages  Messages  `yaml:"messages"`
	Access    Access    `yaml:"access"`
	Guard     Guard     `yaml:"guard"`
	HTTP      HTTP      `yaml:"http"`
	Log       Log       `yaml:"log"`
}

// TLS configures the HTTPS listener.
type TLS struct {
	CertFile   string `yaml:"cert_file" doc:"PEM certificate chain; empty creates a self-signed certificate in data_dir/tls"`
	KeyFile    string `yaml:"key_file" doc:"PEM private key for cert_file"`
	MinVersion string `yaml:"min_version" doc:"lowest TLS version accepted: 1.2 or 1.3"`
}

// Database selects and configures the store.
type Database struct {
	Driver string `yaml:"driver" doc:"sqlite (embedded, default) or postgres"`
	// Path is the SQLite file; empty means data_dir/valv.db.
	Path string `yaml:"path" doc:"SQLite database file; defaults to data_dir/valv.db"`
	// URL is the PostgreSQL connection string.
	URL          Secret `yaml:"url" doc:"PostgreSQL connection URL (postgres://...); secret"`
	MaxOpenConns int    `yaml:"max_open_conns" doc:"PostgreSQL connection pool size; SQLite reads use this many connections"`
	AutoMigrate  bool   `yaml:"auto_migrate" doc:"apply pending schema migrations on start"`
	// AllowInsecureTransport accepts, in production, a PostgreSQL URL
	// without sslmode=verify-full.
	AllowInsecureTransport bool `yaml:"allow_insecure_transport" doc:"production: accept a PostgreSQL URL without sslmode=verify-full (plaintext or unverified TLS); only for a database reached over a private link"`
	// GroupCommit batches concurrent writes into one durable commit (SQLite).
	GroupCommit bool `yaml:"group_commit" doc:"SQLite: commit concurrent writes together (one fsync for many requests)"`
}

// Auth configures logins and sessions.
type Auth struct {
	SessionLifetime     time.Duration `yaml:"session_lifetime" doc:"absolute lifetime of a login session"`
	OperatorIdleTimeout time.Duration `yaml:"operator_idle_timeout" doc:"operators' sessions end after this long without a request"`
	MaxConcurrentHashes int           `yaml:"max_concurrent_hashes" doc:"password hashes computed at once (each uses 19 MiB); 0 for one per usable CPU (GOMAXPROCS), 2 to 16"`
}

// Mail configures outgoing e-mail.
type Mail struct {
	Transport string `yaml:"transport" doc:"smtp, or file (development: mails are written to mail.dir instead of sent)"`
	From      string `yaml:"from" doc:"sender address of Valv's mails"`
	Dir       string `yaml:"dir" doc:"directory for the file transport; defaults to data_dir/mail"`
	SMTP      SMTP   `yaml:"smtp"`
}

// SMTP is the relay for the smtp transport.
type SMTP struct {
	Host     string `yaml:"host" doc:"SMTP relay host"`
	Port     int    `yaml:"port" doc:"SMTP relay port (587 for STARTTLS, 465 for TLS)"`
	Username string `yaml:"username" doc:"SMTP user name; empty for no authentication"`
	Password Secret `yaml:"password" doc:"SMTP password; secret"`
	TLS      string `yaml:"tls" doc:"starttls (required), tls (implicit, port 465) or none (only to a relay on 127.0.0.1)"`
	CAFile   string `yaml:"ca_file" doc:"PEM CA certificates to trust for the relay, besides the system's"`
}

// Audit configures the audit trail's background work and forwarding.
type Audit struct {
	CheckpointInterval time.Duration `yaml:"checkpoint_interval" doc:"how often each chain that grew gets a signed checkpoint"`
	VerifyInterval     time.Duration `yaml:"verify_interval" doc:"how often every chain is verified (an alert is raised on a mismatch)"`
	PlatformRetention  time.Duration `yaml:"platform_retention" doc:"how long the platform chain's entries are kept (tenants set their own)"`
	ForwardFile        string        `yaml:"forward_file" doc:"append every audit entry as a JSON line to this file"`
	ForwardSyslog      string        `yaml:"forward_syslog" doc:"send every audit entry to this RFC 5424 syslog receiver over TLS (host:port)"`
	ForwardSyslogCA    string        `yaml:"forward_syslog_ca" doc:"PEM CA certificates to trust for the syslog receiver, besides the system's"`
}

// Documents configures document storage.
type Documents struct {
	MaxFileSize int64 `yaml:"max_file_size" doc:"largest uploaded file, in bytes"`
	// AllowUnscanned stores files without a malware scan when no scanner
	// is configured; not allowed in production.
	AllowUnscanned bool `yaml:"allow_unscanned" doc:"store files without a malware scan when scan.address is empty (not in production; files are marked and audited)"`
}

// Retention configures archives and culling (docs/retention.md).
type Retention struct {
	LegalYears     int           `yaml:"legal_years" doc:"calendar years after a document's year that the legal archive keeps it under the 6+1 contract (Swedish bookkeeping law: 7)"`
	StandardMonths int           `yaml:"standard_months" doc:"a new tenant's standard archive period, in months"`
	CullInterval   time.Duration `yaml:"cull_interval" doc:"time between culling runs"`
	CullBatch      int           `yaml:"cull_batch" doc:"documents culled per transaction"`
	DigestAt       string        `yaml:"digest_at" doc:"time of day (HH:MM, Swedish time) the daily review digest is mailed"`
	// TerminationGrace is how long a requested account termination waits
	// (TEN-3) before it is carried out; owners can cancel within it.
	TerminationGrace time.Duration `yaml:"termination_grace" doc:"how long a requested account termination waits, cancellable, before all the tenant's data is deleted"`
}

// Jobs configures the scheduler of background work.
type Jobs struct {
	Lease time.Duration `yaml:"lease" doc:"how long a node holds a job without renewing; a crashed node's job is resumed after it"`
	Poll  time.Duration `yaml:"poll" doc:"how often each node looks for due jobs"`
}

// Backup configures backups and restore tests (docs/operations/backup.md).
type Backup struct {
	// Targets are where every backup is written (at least two places).
	Targets []BackupTarget `yaml:"targets" doc:"where backups are written: a list of dir and s3 targets (config file only); every backup goes to each"`
	// Interval is the time between scheduled backups; 0 turns them off.
	Interval            time.Duration `yaml:"interval" doc:"time between scheduled backups (daily); 0 turns scheduled backups off"`
	Keep                time.Duration `yaml:"keep" doc:"how long backups are kept before pruning (28 days); the newest good backup is always kept"`
	KeepMonthly         int           `yaml:"keep_monthly" doc:"besides, keep the first backup of each of this many recent months (0: none)"`
	RestoreTestInterval time.Duration `yaml:"restore_test_interval" doc:"time between automatic restore tests of the latest backup on each target (weekly); 0 turns them off"`
	LedgerSyncInterval  time.Duration `yaml:"ledger_sync_interval" doc:"how often new erasure ledger entries are written to every target"`
	ScratchDir          string        `yaml:"scratch_dir" doc:"where restore tests restore to (deleted after each test); defaults to data_dir/restore-test"`
}

// Messages configures sending and receiving messages (docs/messages.md).
type Messages struct {
	RetryFor      time.Duration `yaml:"retry_for" doc:"how long a message's delivery to an endpoint is retried before it becomes a dead letter (72h)"`
	Interval      time.Duration `yaml:"interval" doc:"how often the outbox is looked at for deliveries that are due (besides right after a message is sent)"`
	Workers       int           `yaml:"workers" doc:"deliveries made at the same time by one node"`
	Timeout       time.Duration `yaml:"timeout" doc:"how long one delivery attempt may take, from connecting to the endpoint's answer"`
	MaxSize       int64         `yaml:"max_size" doc:"largest message payload in bytes, sent or received"`
	AllowNetworks []string      `yaml:"allow_networks" doc:"CIDR ranges endpoints may resolve to although they are not public (a partner's VPN; 127.0.0.0/8 in tests); public addresses are always allowed"`
	CAFile        string        `yaml:"ca_file" doc:"PEM CA certificates to trust for endpoints, besides the system's"`
}

// Access configures operators' access to tenants' data (docs/access.md).
type Access struct {
	MaxDuration time.Duration `yaml:"max_duration" doc:"longest an operator's access grant may last once approved (4h); break-glass access lasts at most 1h"`
}

// Guard configures threat protection: the WAF, rate limits and automatic
// blocking (docs/waf.md, docs/guard.md).
type Guard struct {
	ParanoiaLevel    int   `yaml:"paranoia_level" doc:"OWASP CRS paranoia level of the WAF, 1 (production default) to 4"`
	InboundThreshold int   `yaml:"inbound_threshold" doc:"CRS anomaly score at which the WAF blocks a request (5: one critical rule)"`
	TextLimit        int64 `yaml:"text_limit" doc:"most bytes of text in a JSON or form body the WAF inspects; a body with more is refused with 413 (bounds the WAF's CPU time per request: about 3.5 ms per KiB)"`
	ArgumentLimit    int   `yaml:"argument_limit" doc:"most arguments (query parameters, form fields, JSON values) the WAF inspects per request; more is refused"`

	Window         time.Duration `yaml:"window" doc:"the rate limits' fixed window"`
	AddressLimit   int           `yaml:"address_limit" doc:"requests per window from one client address (IPv6: one /64), before login; 0 for none"`
	KeyLimit       int           `yaml:"key_limit" doc:"requests per window with one API key; 0 for none"`
	UserLimit      int           `yaml:"user_limit" doc:"requests per window of one logged-in user or operator; 0 for none"`
	TenantLimit    int           `yaml:"tenant_limit" doc:"requests per window of one tenant, all its keys and users together; 0 for none"`
	SyncInterval   time.Duration `yaml:"sync_interval" doc:"how often a node adds its request counts to the shared counters in the database (0: every request, exact across nodes)"`
	Allow          []string      `yaml:"allow" doc:"networks never blocked automatically nor limited per address (CIDR), besides those added with valv guard allow"`
	BlockAfter     int           `yaml:"block_after" doc:"offence points within block_window that block a source automatically (a WAF block is 5 points, a failed authentication 1)"`
	BlockWindow    time.Duration `yaml:"block_window" doc:"the window offence points are counted in"`
	BlockFirst     time.Duration `yaml:"block_first" doc:"length of a source's first automatic block; each further one is twice as long"`
	BlockMax       time.Duration `yaml:"block_max" doc:"longest automatic block"`
	BlockForget    time.Duration `yaml:"block_forget" doc:"a source quiet this long starts over with a first block"`
	NotifyInterval time.Duration `yaml:"notify_interval" doc:"how often the security operators get a summary of WAF blocks and automatic blocks (one mail per interval, only when there was any)"`
	WebhookURL     string        `yaml:"webhook_url" doc:"optional https:// endpoint that gets each summary as a signed JSON webhook"`
	WebhookSecret  Secret        `yaml:"webhook_secret" doc:"signing secret of webhook_url (whsec_...); secret"`
}

// BackupTarget is one place backups are written to.
type BackupTarget struct {
	Name      string `yaml:"name" doc:"short name of the target, for example primary or offsite"`
	Type      string `yaml:"type" doc:"dir (a directory, typically a mounted remote volume) or s3"`
	Region    string `yaml:"region" doc:"where the target is, shown in reports (dir: a free label such as se-sto; s3: the bucket's region, used for signing, e.g. eu-north-1)"`
	Path      string `yaml:"path" doc:"dir: the directory"`
	Endpoint  string `yaml:"endpoint" doc:"s3: host:port of the S3 service"`
	Bucket    string `yaml:"bucket" doc:"s3: the bucket"`
	Prefix    string `yaml:"prefix" doc:"s3: object name prefix inside the bucket"`
	AccessKey string `yaml:"access_key" doc:"s3: access key id"`
	SecretKey Secret `yaml:"secret_key" doc:"s3: secret access key; secret"`
	Insecure  bool   `yaml:"insecure" doc:"s3: plain HTTP (only to a gateway on the loopback interface)"`
	CAFile    string `yaml:"ca_file" doc:"s3: PEM CA certificates to trust, besides the system's"`
}

// Scan configures the malware scanner (clamd).
type Scan struct {
	Address       string        `yaml:"address" doc:"clamd's socket: a unix socket path, or host:port for TCP; empty for none"`
	Policy        string        `yaml:"policy" doc:"when clamd cannot be reached: fail-closed (refuse the file with 503) or fail-open (store it unscanned, marked and audited)"`
	MaxStreamSize int64         `yaml:"max_stream_size" doc:"clamd's StreamMaxLength in bytes; larger files are refused as too large to scan"`
	Timeout       time.Duration `yaml:"timeout" doc:"how long to wait for clamd's verdict on a file"`
}

// Keys configures the root key and the key cache.
type Keys struct {
	Provider string `yaml:"provider" doc:"root-key provider: file (development default), shamir (split among key holders) or pkcs11 (HSM)"`
	// File is the root key file of the file provider.
	File     string        `yaml:"file" doc:"root key file of the file provider; defaults to data_dir/root.key"`
	CacheTTL time.Duration `yaml:"cache_ttl" doc:"how long a node uses an unwrapped tenant keyset before re-checking it (rotation on other nodes)"`
	PKCS11   PKCS11        `yaml:"pkcs11"`
}

// PKCS11 configures the HSM provider (a build with -tags pkcs11).
type PKCS11 struct {
	Module     string `yaml:"module" doc:"path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so"`
	TokenLabel string `yaml:"token_label" doc:"label of the HSM token that holds the root key"`
	PIN        Secret `yaml:"pin" doc:"user PIN of the token; secret"`
	KeyLabel   string `yaml:"key_label" doc:"label of the AES-256 root key on the token"`
}

// HTTP holds the server's limits and timeouts.
type HTTP struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" doc:"time allowed to read request headers"`
	ReadTimeout       time.Duration `yaml:"read_timeout" doc:"time allowed to read a whole request (uploads get more)"`
	WriteTimeout      time.Duration `yaml:"write_timeout" doc:"time allowed to write a response (downloads get more)"`
	IdleTimeout       time.Duration `yaml:"idle_timeout" doc:"keep-alive idle timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout" doc:"grace period for in-flight requests on shutdown"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes" doc:"largest request header block accepted"`
	MaxBodyBytes      int64         `yaml:"max_body_bytes" doc:"largest JSON request body accepted"`
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies" doc:"addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is trusted"`
}

// Log configures the server log.
type Log struct {
	Level  string `yaml:"level" doc:"debug, info, warn or error"`
	Format string `yaml:"format" doc:"json or text"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Environment: Production,
		DataDir:     "data",
		Listen:      "127.0.0.1:8443",
		TLS:         TLS{MinVersion: "1.2"},
		Database: Database{
			Driver:       "sqlite",
			MaxOpenConns: 8,
			AutoMigrate:  true,
			GroupCommit:  true,
		},
		Keys: Keys{
			Provider: "file",
			CacheTTL: 5 * time.Second,
			PKCS11:   PKCS11{KeyLabel: "valv-root-key"},
		},
		Audit:     Audit{CheckpointInterval: time.Minute, VerifyInterval: 24 * time.Hour, PlatformRetention: 365 * 24 * time.Hour},
		Documents: Documents{MaxFileSize: 50 << 20},
		Retention: Retention{LegalYears: 7, StandardMonths: 24, CullInterval: 24 * time.Hour, CullBatch: 2000, DigestAt: "07:00", TerminationGrace: 30 * 24 * time.Hour},
		Jobs:      Jobs{Lease: 5 * time.Minute, Poll: 5 * time.Second},
		Scan:      Scan{Policy: "fail-closed", MaxStreamSize: 100 << 20, Timeout: time.Minute},
		Backup: Backup{Interval: 24 * time.Hour, Keep: 28 * 24 * time.Hour, RestoreTestInterval: 7 * 24 * time.Hour,
			LedgerSyncInterval: 5 * time.Minute},
		Messages: Messages{RetryFor: 72 * time.Hour, Interval: 10 * time.Second, Workers: 8, Timeout: 30 * time.Second, MaxSize: 10 << 20},
		Access:   Access{MaxDuration: 4 * time.Hour},
		Guard: Guard{ParanoiaLevel: 1, InboundThreshold: 5, TextLimit: 256 << 10, ArgumentLimit: 2048,
			Window: time.Minute, AddressLimit: 600, KeyLimit: 1200, UserLimit: 600, TenantLimit: 6000, SyncInterval: time.Second,
			Allow: []string{"127.0.0.0/8", "::1/128"}, BlockAfter: 20, BlockWindow: 10 * time.Minute, BlockFirst: 15 * time.Minute,
			BlockMax: 24 * time.Hour, BlockForget: 7 * 24 * time.Hour, NotifyInterval: 15 * time.Minute},
		Auth: Auth{SessionLifetime: 12 * time.Hour, OperatorIdleTimeout: 2 * time.Hour},
		Mail: Mail{Transport: "file", From: "valv@localhost", SMTP: SMTP{Port: 587, TLS: "starttls"}},
		HTTP: HTTP{
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   15 * time.Second,
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      1 << 20,
		},
		Log: Log{Level: "info", Format: "json"},
	}
}
