package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "valv.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultIsValid(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "listen: 127.0.0.1:1000\ndata_dir: /from/file\nhttp:\n  read_timeout: 5s\n")
	cfg, err := Load(Source{
		File:      file,
		Environ:   []string{"VALV_LISTEN=127.0.0.1:2000", "VALV_HTTP_TRUSTED_PROXIES=10.0.0.0/8, 192.0.2.1", "PATH=/bin", "VALV_TEST_POSTGRES_URL=x"},
		Overrides: map[string]string{"listen": "127.0.0.1:3000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:3000" {
		t.Errorf("listen = %q, want the flag's value", cfg.Listen)
	}
	if cfg.DataDir != "/from/file" {
		t.Errorf("data_dir = %q, want the file's value", cfg.DataDir)
	}
	if cfg.HTTP.ReadTimeout != 5*time.Second {
		t.Errorf("read_timeout = %v", cfg.HTTP.ReadTimeout)
	}
	if got := strings.Join(cfg.HTTP.TrustedProxies, "|"); got != "10.0.0.0/8|192.0.2.1" {
		t.Errorf("trusted_proxies = %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"unknown key in file", Source{File: writeFile(t, "listen: x\ncolour: blue\n")}, `line 2: unknown key "colour"`},
		{"wrong type in file", Source{File: writeFile(t, "http:\n  max_header_bytes: lots\n")}, "line 2"},
		{"malformed yaml", Source{File: writeFile(t, "listen: [unclosed\n")}, "config file"},
		{"missing file", Source{File: "/nonexistent/valv.yaml"}, "no such file"},
		{"unknown env", Source{Environ: []string{"VALV_LISTN=x"}}, "VALV_LISTN is not a Valv setting"},
		{"bad duration env", Source{Environ: []string{"VALV_HTTP_READ_TIMEOUT=soon"}}, "not a duration"},
		{"bad bool env", Source{Environ: []string{"VALV_DATABASE_AUTO_MIGRATE=perhaps"}}, "not true or false"},
		{"unknown override", Source{Overrides: map[string]string{"nope": "1"}}, `unknown key "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		key    string
	}{
		{"environment", func(c *Config) { c.Environment = "staging" }, "environment"},
		{"listen", func(c *Config) { c.Listen = "localhost" }, "listen"},
		{"listen port", func(c *Config) { c.Listen = "127.0.0.1:99999" }, "listen"},
		{"tls version", func(c *Config) { c.TLS.MinVersion = "1.0" }, "tls.min_version"},
		{"half tls", func(c *Config) { c.TLS.CertFile = "x.pem" }, "tls.cert_file"},
		{"driver", func(c *Config) { c.Database.Driver = "mysql" }, "database.driver"},
		{"postgres url", func(c *Config) { c.Database.Driver = "postgres"; c.Database.URL = "mysql://x" }, "database.url"},
		{"postgres without TLS in production", func(c *Config) {
			c.Database.Driver, c.Database.URL = "postgres", "postgres://valv@db.example:5432/valv?sslmode=require"
		}, "database.url"},
		{"postgres without sslmode in production", func(c *Config) {
			c.Database.Driver, c.Database.URL = "postgres", "postgres://valv@db1.example:5432,db2.example:5432/valv?target_session_attrs=read-write"
		}, "database.url"},
		{"backup target without a region", func(c *Config) {
			c.Backup.Targets = []BackupTarget{{Name: "a", Type: "dir", Path: "/srv/backup"}}
		}, "backup.targets[0].region"},
		{"backup target in an unknown place", func(c *Config) {
			c.Backup.Targets = []BackupTarget{{Name: "a", Type: "dir", Region: "mars-1", Path: "/srv/backup"}}
		}, "backup.targets[0].region"},
		{"storage region", func(c *Config) { c.Region = "eu" }, "region"},
		{"proxy", func(c *Config) { c.HTTP.TrustedProxies = []string{"not-an-ip"} }, "http.trusted_proxies[0]"},
		{"timeout", func(c *Config) { c.HTTP.ReadTimeout = 0 }, "http.read_timeout"},
		{"public url", func(c *Config) { c.PublicURL = "http://valv.example" }, "public_url"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"negative hash slots", func(c *Config) { c.Auth.MaxConcurrentHashes = -1 }, "auth.max_concurrent_hashes"},
		{"too many hash slots", func(c *Config) { c.Auth.MaxConcurrentHashes = 65 }, "auth.max_concurrent_hashes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.change(&cfg)
			err := cfg.Validate()
			ps, ok := err.(Problems)
			if !ok || len(ps) != 1 || ps[0].Key != tt.key {
				t.Fatalf("Validate() = %v, want one problem at %s", err, tt.key)
			}
		})
	}
}

func TestSecretRedacts(t *testing.T) {
	s := Secret("postgres://valv:hunter2@db/valv")
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "url", s)
	for _, out := range []string{s.String(), fmt.Sprintf("%v %s %#v %+v", s, s, s, s), logged.String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %q", out)
		}
	}
	if s.Reveal() != "postgres://valv:hunter2@db/valv" {
		t.Fatal("Reveal changed the value")
	}
	cfg := Default()
	cfg.Database.URL = s
	if strings.Contains(fmt.Sprintf("%+v", cfg), "hunter2") {
		t.Fatal("secret leaked through the config struct")
	}
}

func TestEveryKeyHasDocAndEnv(t *testing.T) {
	for _, k := range AllKeys() {
		if Doc(k) == "" {
			t.Errorf("key %s has no doc tag", k)
		}
		cfg := Default()
		if err := Set(&cfg, k, ""); err != nil && strings.Contains(err.Error(), "unknown key") {
			t.Errorf("key %s cannot be set: %v", k, err)
		}
	}
}

func TestPostgresTransport(t *testing.T) {
	for _, tt := range []struct {
		url   string
		env   Environment
		allow bool
		ok    bool
	}{
		{"postgres://valv@db1:5432,db2:5432/valv?sslmode=verify-full&sslrootcert=/etc/valv/pg-ca.crt&target_session_attrs=read-write", Production, false, true},
		{"postgres:///valv?host=/var/run/postgresql", Production, false, true},
		{"postgres://valv@db:5432/valv?sslmode=disable", Production, false, false},
		{"postgres://valv@db:5432/valv?sslmode=verify-ca", Production, false, false},
		{"postgres://valv@db:5432/valv?sslmode=disable", Production, true, true},
		{"postgres://valv@db:5432/valv?sslmode=disable", Development, false, true},
	} {
		cfg := Default()
		cfg.Environment, cfg.Database.Driver, cfg.Database.URL, cfg.Database.AllowInsecureTransport = tt.env, "postgres", Secret(tt.url), tt.allow
		if cfg.Environment != Production {
			cfg.Documents.AllowUnscanned = false
		}
		if err := cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s (%s, allow %v): %v", tt.url, tt.env, tt.allow, err)
		}
	}
}
