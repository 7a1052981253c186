// Package config is Valv's configuration: one documented struct, its
// defaults, and its validation. Values come from, in rising precedence, the
// defaults, a YAML file, VALV_* environment variables and command-line flags.
//
// Invariants:
//   - Unknown keys in a file or VALV_* variables are errors, never ignored, so
//     a typo cannot silently leave a protection at its default.
//   - Secrets are of type Secret, which never prints its value.
//   - Validate reports every problem at once, each with the key and a fix.
package config
