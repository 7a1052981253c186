// Package valvtest is Valv's test harness: it starts the real components
// that integration tests need (a throwaway PostgreSQL cluster, clamd with a
// test signature, an SMTP server, a SoftHSM2 token, a software WebAuthn
// authenticator, and later Chromium), and it decides what happens when one is
// missing: the test skips with the reason, unless VALV_REQUIRE_INTEGRATION=1
// is set (as CI does), in which case it fails.
//
// It is imported only by tests.
package valvtest
