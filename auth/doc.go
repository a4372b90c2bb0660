// Package auth owns how mailsrv checks who is talking to it: password
// hashing (argon2id in PHC string form), parsing of delegate login names
// (SPEC §6.2), the SASL PLAIN and LOGIN server mechanisms used by both SMTP
// submission and IMAP, the Throttle of password guessing they share, and the
// Verifier they share (a bound on concurrent argon2id runs and a short
// cache of successful logins, see verifier.go).
//
// It does no I/O and holds no global state: protocol listeners look the
// account up in store/, then use these pieces to verify the password, and
// pass one *Throttle and one *Verifier to every listener (through
// auth/login, which makes the login decision itself). Keeping the
// pieces here means SMTP and IMAP cannot drift apart in how they
// authenticate, which matters because an attacker will use whichever of
// the two is weaker.
package auth
