// Package app is Valv's composition root: it builds every part from the
// configuration and wires them together. It is the only package that
// imports database drivers and concrete key providers.
//
// Invariants: nothing else constructs services or opens the database; the
// CLI and the server get everything from an App.
package app
