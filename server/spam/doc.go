// Package spam owns mailsrv's inbound filtering at MX intake (SPEC §3
// [spam]): it decides, for every message, whether it is refused, deferred,
// or delivered to each recipient mailbox's INBOX or Junk, and with which
// spam header fields; and it trains each mailbox's junk filter from what
// people do with their mail.
//
// # Checks, in order
//
//   - DNSBL (`dnsbl = [...]`, CheckClient, at MAIL FROM): the client
//     address, reversed (IPv4 octets, IPv6 nibbles), is looked up under
//     each zone in parallel, bounded by a 3 s timeout and cached 10 min. A
//     listed client gets `554 5.7.1 … listed by <zone>`. A zone that fails
//     or times out lists nobody: a broken blocklist never blocks mail.
//   - DMARC policy (from auth/msgauth): a p=reject failure is refused with
//     550 5.7.1; a p=quarantine failure, or a p=reject failure outside the
//     record's pct= sample (msgauth turns it into quarantine, RFC 7489
//     §6.6.4), goes to Junk.
//   - rspamd (`rspamd_url`): the message is POSTed to /checkv2 with its
//     envelope; action "reject" → 554 5.7.1, "soft reject" and "greylist" →
//     451 4.7.1, "add header" and "rewrite subject" → Junk. rspamd being
//     down, slow (10 s timeout) or answering garbage is logged and the
//     message delivered without it.
//   - Score: SPF fail (+2.0) or softfail (+1.0), DKIM fail without any
//     passing signature (+1.5), no DMARC record (+0.5), DMARC fail under
//     p=none (+1.5), DMARC pass (−1.0), and per mailbox the junk filter
//     (below). A total of Required (5.0) or more goes to Junk.
//
// # Header fields
//
// Every delivered copy carries, above the message's own fields (so a
// client sees ours first; a sender's forged X-Spam fields come below):
//
//	X-Spam-Status: Yes, score=7.5 required=5.0 reasons=SPF_FAIL(2.0),
//		DMARC_NONE(0.5), BAYES_SPAM(5.0)
//	X-Spam-Score: 7.5
//
// "Yes" means the copy was filed in Junk (score ≥ 5.0; DMARC_QUARANTINE
// and RSPAMD_SPAM weigh 10.0). Reason names: SPF_FAIL,
// SPF_SOFTFAIL, DKIM_FAIL, DMARC_NONE, DMARC_FAIL, DMARC_PASS,
// DMARC_QUARANTINE, BAYES_SPAM (probability ≥ 0.9), BAYES_PROBABLY_SPAM
// (≥ 0.7), BAYES_UNSURE, BAYES_HAM (≤ 0.1), KNOWN_SENDER, RSPAMD_SPAM,
// RSPAMD_CLEAN, RSPAMD_UNAVAILABLE. The fields differ per mailbox because
// each mailbox has its own filter (store.Target.Prefix).
//
// # Junk filter
//
// With `junk_filter = true` every personal and every shared mailbox has a
// classifier of its own (a shared mailbox's is trained by all its
// members): Robinson/Fisher naive Bayes (bayes.go) over tokens of the
// header (field names, subject, From, Reply-To domain, mailer, Message-ID
// domain), the decoded text parts (HTML stripped) and the hosts of URLs
// (tokenize.go, bounded in input, parts and tokens). It decides nothing
// until it holds MinTrained spam and ham messages. Its counts live in the
// store (store/spam.go), so backup and restore carry them.
//
// Trainer learns from the store's change events, so IMAP, webmail and the
// CLI all teach it: a message moved or copied into Junk is spam; out of
// Junk into any folder but Trash is ham (deleting spam is not a vote for
// it); setting $Junk or Junk is spam, $NotJunk, NonJunk or NotJunk is ham.
// A message retrained the other way is first untrained. Delivery into Junk
// by the filter itself teaches nothing.
//
// Sender reputation: the recipients of every message stored in a Sent
// folder, and the senders of messages trained as ham, are known senders
// of that mailbox. The classifier never junks mail from a known sender by
// itself (its spam points are dropped; policy and rspamd still apply).
// A known domain counts only when the message passed DMARC for it, and a
// DMARC failure makes the From address count for nothing.
package spam
