// Package auth owns how mailsrv checks who is talking to it: password
// hashing (argon2id in PHC string form), parsing of delegate login names
// (SPEC §6.2), the SASL PLAIN and LOGIN server mechanisms used by both SMTP
// submission and IMAP, and the limiter of failed logins they share.
//
// It does no I/O and holds no global state: protocol listeners look the
// account up in store/, then use these pieces to verify the password, and
// pass one *FailureLimiter to every listener. Keeping the pieces here means
// SMTP and IMAP cannot drift apart in how they authenticate, which matters
// because an attacker will use whichever of the two is weaker.
package auth
