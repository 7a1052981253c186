package config

import "log/slog"

// Secret is a configuration value that must not be printed: a database URL
// with a password, an SMTP password, an S3 secret key. Its String, GoString,
// LogValue and MarshalText all redact it; Reveal returns the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts %#v too.
func (s Secret) GoString() string { return s.String() }

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the secret in JSON and YAML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText sets the secret (MarshalText does not round-trip, by design).
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }
