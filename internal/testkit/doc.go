// Package testkit holds the small helpers that mailsrv's tests in many
// packages need and used to copy: a settable fake clock, Must, one SMTP
// transaction over go-smtp's client, IMAP and SMTP line reading for tests
// that speak the wire protocol themselves, and running a Python script
// from a package's testdata directory (skipping, with the reason, when
// python3 is missing).
//
// It imports nothing of mailsrv, so any package's tests can use it,
// store/'s internal tests included. Helpers that know a package's fixtures
// stay in that package; only what is the same everywhere lives here.
package testkit
