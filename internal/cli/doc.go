// Package cli is the valv command: one file per sub-command, each turning
// flags into options and calling into app. It prints for people on stdout,
// reports one clear line per error on stderr, and exits 0 on success, 1 on
// failure and 2 on a usage error. It never prints a stack trace.
package cli
