package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver ("pgx")
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // SQLite driver ("sqlite")

	"github.com/google/uuid"
	"github.com/valvhq/valv/internal/access"
	"github.com/valvhq/valv/internal/api"
	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/backup"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/gdpr"
	"github.com/valvhq/valv/internal/guard"
	"github.com/valvhq/valv/internal/jobs"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/scan"
	"github.com/valvhq/valv/internal/server"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/tenant"
)

// Options configures Open.
type Options struct {
	Config config.Config
	Logger *slog.Logger
	// Out receives messages for the person running Valv.
	Out io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Migrate applies pending migrations even when auto_migrate is off.
	Migrate bool
	// SkipMigrations opens the database without applying or checking
	// migrations (for 'valv migrate' itself). It also skips the keys.
	SkipMigrations bool
	// Unseal, if set, is asked for shares when the root key is split
	// (one-shot CLI commands); the server starts sealed instead.
	Unseal UnsealPrompt
	// HTTPClient reaches outside services (OIDC providers); nil for default.
	HTTPClient *http.Client
	// Root, if set, unseals with this root key instead of the configured
	// provider (a restored copy opened with the key it was restored with).
	Root keyring.RootKey
	// Version is this build's version, recorded in backups.
	Version string
	// Resolver, if set, resolves message endpoints' host names (tests);
	// nil means the system's resolver.
	Resolver message.Resolver
}

// App is a built Valv.
type App struct {
	cfg        config.Config
	log        *slog.Logger
	out        io.Writer
	now        func() time.Time
	db         *store.DB
	registry   *prometheus.Registry
	closers    []func() error
	httpClient *http.Client
	mail       mailer

	Installation store.InstallationRow
	Keys         *keyring.Keyring
	Auth         *auth.Service
	Tenants      *tenant.Service
	Trail        *audit.Trail
	Documents    *document.Service
	Archive      *archive.Service
	GDPR         *gdpr.Service
	Backups      *backup.Service
	Messages     *message.Service
	Access       *access.Service
	Jobs         *jobs.Scheduler
	Guard        *guard.Gate

	jobsRegistered bool
	backupMetrics  *backupMetrics
	doctorMetrics  *doctorMetrics
	version        string
	resolver       message.Resolver
	msgKick        chan struct{}
	msgTransport   *message.Transport
	webhookRoots   *x509.CertPool // messages.ca_file: endpoints' and the guard webhook's roots
	shield         shield
	guardHookKey   []byte
	// served is the certificate the server serves, once it is built.
	served atomic.Pointer[servedCert]
}

// servedCert is the certificate in use and whether Valv made it.
type servedCert struct {
	leaf       *x509.Certificate
	selfSigned bool
}

// policies adapts the tenant service to authentication's view of it.
type policies func(ctx context.Context, tenantID string) (auth.Policy, error)

func (f policies) LoginPolicy(ctx context.Context, tenantID string) (auth.Policy, error) {
	return f(ctx, tenantID)
}

// Open validates the configuration, opens the database (migrating it when
// configured to) and builds the services.
func Open(ctx context.Context, opts Options) (*App, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := ensureDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := checkDataDirMarker(cfg); err != nil {
		return nil, err
	}
	db, err := openStore(ctx, cfg, opts.Logger)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: opts.Logger, out: opts.Out, now: opts.Now, db: db, registry: prometheus.NewRegistry(), httpClient: opts.HTTPClient,
		version: opts.Version, resolver: opts.Resolver, msgKick: make(chan struct{}, 1)}
	if err := a.prepareSchema(ctx, opts); err != nil {
		db.Close()
		return nil, err
	}
	a.Keys = keyring.New(keyring.Options{DB: db, Provider: cfg.Keys.Provider, Logger: opts.Logger, Now: opts.Now, CacheTTL: cfg.Keys.CacheTTL})
	if !opts.SkipMigrations {
		if err := a.ensureInstallation(ctx); err != nil {
			a.Close()
			return nil, err
		}
		unlock := func() error { return a.openRoot(ctx, opts.Unseal) }
		if opts.Root != nil {
			unlock = func() error { return a.Keys.Unlock(ctx, opts.Root) }
		}
		if err := unlock(); err != nil {
			a.Close()
			return nil, err
		}
	}
	if err := a.buildServices(); err != nil {
		a.Close()
		return nil, err
	}
	if !opts.SkipMigrations {
		a.loadBackupMetrics(ctx)
	}
	return a, nil
}

func (a *App) buildServices() error {
	mailer, err := a.mailer()
	if err != nil {
		return err
	}
	a.mail = mailer
	a.Trail, err = audit.New(audit.Options{DB: a.db, Keys: a.Keys, Logger: a.log, Now: a.now,
		Installation: a.Installation.ID, Registry: a.registry})
	if err != nil {
		return err
	}
	a.Auth, err = auth.New(auth.Options{
		DB:                  a.db,
		Keys:                a.Keys,
		Policies:            policies(func(ctx context.Context, id string) (auth.Policy, error) { return a.Tenants.LoginPolicy(ctx, id) }),
		Mailer:              mailer,
		Logger:              a.log,
		Now:                 a.now,
		PublicURL:           a.cfg.PublicBaseURL(a.cfg.Listen),
		SessionLifetime:     a.cfg.Auth.SessionLifetime,
		OperatorIdleTimeout: a.cfg.Auth.OperatorIdleTimeout,
		Hasher:              auth.NewHasher(auth.DefaultParams, hashSlots(a.cfg.Auth.MaxConcurrentHashes)),
		HTTPClient:          a.httpClient,
		Audit:               a.Trail,
	})
	if err != nil {
		return err
	}
	a.Tenants = tenant.NewService(a.db, a.Keys, a.Auth, a.Auth, a.Trail, a.now)
	a.Tenants.CheckPinsWith(a.pinKept)
	scanner, err := a.scanner()
	if err != nil {
		return err
	}
	a.Jobs = jobs.New(jobs.Options{DB: a.db, Lease: a.cfg.Jobs.Lease, Poll: a.cfg.Jobs.Poll, Ready: func() bool { return !a.Keys.Sealed() },
		Now: a.now, Logger: a.log})
	a.Archive = archive.New(archive.Options{DB: a.db, Keys: a.Keys, Trail: a.Trail, Jobs: a.Jobs, Subjects: subjects{a}, Directory: directory{a},
		Mail: mailer, LegalYears: a.cfg.Retention.LegalYears, StandardMonths: a.cfg.Retention.StandardMonths, CullBatch: a.cfg.Retention.CullBatch,
		ReviewLink: func() string { return a.Auth.PublicURL() + "/api/v1/reviews/due" }, Now: a.now, Logger: a.log})
	a.Documents = document.New(document.Options{DB: a.db, Keys: a.Keys, Trail: a.Trail, Settings: a.Tenants, Scanner: scanner,
		AllowUnscanned: a.cfg.Documents.AllowUnscanned || a.cfg.Scan.Policy == "fail-open", Alerts: alerts{a},
		Logger: a.log, Now: a.now, MaxFileSize: a.cfg.Documents.MaxFileSize, Policies: a.Archive})
	targets, err := backupTargets(a.cfg.Backup)
	if err != nil {
		return err
	}
	a.Backups = backup.New(backup.Options{DB: a.db, Keys: a.Keys, Targets: targets, Keep: a.cfg.Backup.Keep,
		KeepMonthly: a.cfg.Backup.KeepMonthly, Version: a.version, Environment: string(a.cfg.Environment), Pin: a.strictestPin,
		Now: a.now, Logger: a.log})
	a.backupMetrics = newBackupMetrics(a.registry)
	a.doctorMetrics = newDoctorMetrics(a.registry)
	a.GDPR = gdpr.New(gdpr.Options{DB: a.db, Keys: a.Keys, Documents: a.Documents, Trail: a.Trail, Jobs: a.Jobs, Law: a.Archive,
		Grace: a.cfg.Retention.TerminationGrace, Now: a.now, Logger: a.log})
	a.buildAccess()
	if err := a.buildMessages(); err != nil {
		return err
	}
	return a.buildGuard()
}

// scanner builds the clamd client, or nil when none is configured.
func (a *App) scanner() (document.Scanner, error) {
	c := a.cfg.Scan
	if c.Address == "" {
		return nil, nil
	}
	network := "tcp"
	if strings.HasPrefix(c.Address, "/") {
		network = "unix"
	}
	policy := scan.FailClosed
	if c.Policy == "fail-open" {
		policy = scan.FailOpen
	}
	cl, err := scan.New(scan.Config{Network: network, Address: c.Address, MaxStreamSize: c.MaxStreamSize, VerdictTimeout: c.Timeout, Policy: policy})
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return cl, nil
}

func (a *App) mailer() (mailer, error) {
	t, err := newTransport(a.cfg)
	if err != nil {
		return mailer{}, err
	}
	return mailer{send: t}, nil
}

func ensureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, errors.Unwrap(err))
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	probe, err := os.CreateTemp(dir, ".valv-write-probe-*")
	if err != nil {
		return fmt.Errorf("data directory %s is not writable", dir)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.DB, error) {
	opts := store.Options{
		MaxOpenConns: cfg.Database.MaxOpenConns,
		GroupCommit:  cfg.Database.GroupCommit,
		Logger:       log,
	}
	switch cfg.Database.Driver {
	case "postgres":
		opts.Engine, opts.URL = store.Postgres, cfg.Database.URL.Reveal()
	default:
		opts.Engine, opts.Path = store.SQLite, cfg.SQLitePath()
	}
	return store.Open(ctx, opts)
}

func (a *App) prepareSchema(ctx context.Context, opts Options) error {
	// Before any migration: another environment's database is refused
	// untouched (ENV-1), also by 'valv migrate'.
	if inst, err := a.db.Reader().Installation(ctx); err == nil {
		if err := environmentMismatch(inst.Environment, a.cfg.Environment, "the database"); err != nil {
			return err
		}
	}
	if opts.SkipMigrations {
		return nil
	}
	if opts.Migrate || a.cfg.Database.AutoMigrate {
		applied, err := a.db.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			a.log.Info("applied schema migrations", "count", len(applied))
		}
		return nil
	}
	return a.db.CheckSchema(ctx)
}

func (a *App) ensureInstallation(ctx context.Context) error {
	want := store.InstallationRow{
		ID:          uuid.Must(uuid.NewV7()).String(),
		Environment: string(a.cfg.Environment),
		CreatedAt:   a.now().UTC(),
	}
	err := a.db.Write(ctx, func(tx *store.Tx) error {
		got, err := tx.EnsureInstallation(ctx, want)
		a.Installation = got
		return err
	})
	if err != nil {
		return err
	}
	if err := environmentMismatch(a.Installation.Environment, a.cfg.Environment, "the database"); err != nil {
		return err
	}
	return writeDataDirMarker(a.cfg, a.Installation)
}

// Close releases everything the app holds.
func (a *App) Close() error {
	var errs []error
	if a.Keys != nil {
		a.Keys.Close()
	}
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	errs = append(errs, a.db.Close())
	return errors.Join(errs...)
}

// Config returns the configuration the app was built from.
func (a *App) Config() config.Config { return a.cfg }

// Migrate applies pending migrations and returns their names.
func (a *App) Migrate(ctx context.Context) ([]string, error) { return a.db.Migrate(ctx) }

// SchemaVersion reports the applied and latest schema versions.
func (a *App) SchemaVersion(ctx context.Context) (int64, int64, error) {
	return a.db.SchemaVersion(ctx)
}

// Routes are every HTTP route the app serves besides the server's own:
// the API, the portal and the operator console.
func (a *App) Routes() ([]server.Route, error) {
	rs := api.New(api.Deps{Logger: a.log, Seal: sealControl{a.Keys, a.Trail}, Auth: a.Auth, Tenants: a.Tenants, Trail: a.Trail,
		Documents: a.Documents, Archive: a.Archive, GDPR: a.GDPR, Messages: a.Messages, Access: a.Access, CheckJSON: a.checkJSON, Reports: a, Now: a.now}).ServerRoutes()
	w, err := a.portal()
	if err != nil {
		return nil, err
	}
	return append(rs, w.Routes()...), nil
}

// Server builds the HTTPS server.
func (a *App) Server() (*server.Server, server.Certificate, error) {
	cert, err := server.LoadCertificate(a.cfg.TLS.CertFile, a.cfg.TLS.KeyFile, a.cfg.DataDir, certificateHosts(a.cfg.Listen), a.now())
	if err != nil {
		return nil, server.Certificate{}, err
	}
	if leaf, err := x509.ParseCertificate(cert.TLS.Certificate[0]); err == nil {
		a.served.Store(&servedCert{leaf: leaf, selfSigned: cert.SelfSigned})
	}
	if _, err := a.firewall(); err != nil {
		return nil, server.Certificate{}, err
	}
	routes, err := a.Routes()
	if err != nil {
		return nil, server.Certificate{}, err
	}
	srv, err := server.New(server.Options{
		Config:       a.cfg,
		Logger:       a.log,
		Certificate:  cert,
		Routes:       routes,
		Checks:       a.readinessChecks(),
		Sealed:       a.Keys.Sealed,
		Authenticate: a.authenticate,
		Audit:        a.Trail.HTTP,
		Guard:        a.shield,
		Registry:     a.registry,
		Out:          a.out,
		Now:          a.now,
	})
	return srv, cert, err
}

// Serve runs the HTTPS server until ctx ends.
func (a *App) Serve(ctx context.Context) error {
	srv, cert, err := a.Server()
	if err != nil {
		return err
	}
	if a.cfg.Keys.Provider == keyring.ProviderFile && a.cfg.Environment == config.Production {
		fmt.Fprintf(a.out, "WARNING: the root key is a plain file (%s). Anyone who can read it can read all data.\n", a.cfg.RootKeyFile())
		fmt.Fprintf(a.out, "         In production, split it among key holders (keys.provider: shamir) or keep it in an HSM (pkcs11).\n")
		a.log.Warn("root key is a plain file in production", "provider", "file")
	}
	if a.Keys.Sealed() {
		fmt.Fprintf(a.out, "Valv is SEALED. Key holders unseal it with 'valv operator unseal' (%s).\n", "one share each")
	}
	ln, err := srv.Listen()
	if err != nil {
		return err
	}
	public := a.cfg.PublicBaseURL(ln.Addr().String())
	if err := a.Auth.SetPublicURL(public); err != nil {
		ln.Close()
		return err
	}
	if !a.Keys.Sealed() {
		link, err := a.Auth.BootstrapLink(ctx)
		if err != nil {
			ln.Close()
			return err
		}
		if link != "" {
			fmt.Fprintf(a.out, "No operator exists yet. Create the first one (a security operator) here, within 24 hours:\n  %s\n", link)
			fmt.Fprintf(a.out, "  (or run 'valv operator create --email you@example.se')\n")
		} else {
			fmt.Fprintf(a.out, "Log in at %s/ with your e-mail address and password.\n", public)
		}
	}
	if a.cfg.Scan.Address == "" {
		if a.cfg.Documents.AllowUnscanned {
			fmt.Fprintf(a.out, "WARNING: no malware scanner (scan.address): uploaded files are stored unscanned.\n")
		} else {
			fmt.Fprintf(a.out, "No malware scanner is configured (scan.address): file uploads are refused.\n")
		}
	}
	if a.cfg.Mail.Transport == "file" {
		fmt.Fprintf(a.out, "Mail is not sent: it is written to %s (set mail.transport: smtp to send it).\n", a.cfg.MailDir())
	}
	switch {
	case cert.Created:
		fmt.Fprintf(a.out, "Created a self-signed TLS certificate: %s\n", cert.Path)
		fmt.Fprintf(a.out, "Its SHA-256 fingerprint is %s\n", cert.Fingerprint)
	case cert.SelfSigned:
		fmt.Fprintf(a.out, "Using the self-signed TLS certificate %s (SHA-256 %s)\n", cert.Path, cert.Fingerprint)
	}
	sinks, err := a.auditSinks()
	if err != nil {
		ln.Close()
		return err
	}
	if err := a.RegisterJobs(ctx, sinks); err != nil {
		ln.Close()
		return err
	}
	jobsCtx, stopJobs := context.WithCancel(ctx)
	waitJobs := a.Jobs.Start(jobsCtx)
	waitDeliveries := a.startDeliveries(jobsCtx)
	err = srv.Serve(ctx, ln)
	stopJobs()
	waitJobs()
	waitDeliveries()
	// A last checkpoint, so that what was written is covered on stop.
	if cerr := a.CheckpointAudit(context.WithoutCancel(ctx), sinks); cerr != nil {
		a.log.Warn("final audit checkpoint failed", "error", cerr)
	}
	for _, s := range sinks {
		if c, ok := s.(interface{ Close() error }); ok {
			c.Close()
		}
	}
	return err
}

func (a *App) readinessChecks() []server.Check {
	return []server.Check{
		{Name: "database", Fn: func(ctx context.Context) error {
			if err := a.db.Ping(ctx); err != nil {
				return errors.New("the database does not answer")
			}
			return nil
		}},
		{Name: "keys", Fn: func(ctx context.Context) error {
			if a.Keys.Sealed() {
				return errors.New("sealed")
			}
			return nil
		}},
		{Name: "audit", Fn: a.Trail.Check},
		{Name: "schema", Fn: func(ctx context.Context) error {
			if err := a.db.CheckSchema(ctx); err != nil {
				return errors.New("schema migrations are pending or newer than this build")
			}
			return nil
		}},
	}
}

// certificateHosts are the names a self-signed certificate covers.
func certificateHosts(listen string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		dup := false
		for _, x := range hosts {
			dup = dup || x == h
		}
		if !dup {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// DataPath returns a path inside the data directory.
func (a *App) DataPath(name string) string { return filepath.Join(a.cfg.DataDir, name) }

// IntegrityCheck checks the database's integrity (SQLite: PRAGMA
// integrity_check).
func (a *App) IntegrityCheck(ctx context.Context) error { return a.db.IntegrityCheck(ctx) }

// hashSlots is how many password hashes may run at once: as configured,
// or (0) one per CPU the process may use (GOMAXPROCS, which follows a
// container's CPU limit), at least 2 and at most 16. Hashing is CPU-bound,
// so more than one per CPU adds no throughput, only 19 MiB each of memory.
func hashSlots(configured int) int {
	if configured > 0 {
		return configured
	}
	return min(max(2, runtime.GOMAXPROCS(0)), maxAutoHashSlots)
}

// maxAutoHashSlots bounds the automatic hash slots: 16 × 19 MiB.
const maxAutoHashSlots = 16
