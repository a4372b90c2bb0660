package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"mailsrv/store"
)

// dsnKind selects the kind of delivery status notification.
type dsnKind int

const (
	dsnFailed  dsnKind = iota // permanent failure (5xx)
	dsnExpired                // gave up after max_age / max_attempts
	dsnDelayed                // warning: still retrying (warn_after)
)

// maxReturnedHeader bounds the original header copied into a DSN.
const maxReturnedHeader = 64 << 10

var enhancedCode = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)

// bounce builds an RFC 3464 report about fails and delivers it to the
// item's sender: into the local mailbox(es) when the sender is ours,
// otherwise through the queue from the null sender. A message from the
// null sender is never bounced (RFC 5321 §4.5.5).
func (r *Runner) bounce(ctx context.Context, it *store.QueueItem, fails []outcome, kind dsnKind) error {
	if it.From == "" || len(fails) == 0 {
		return nil
	}
	msg, err := r.buildDSN(ctx, it, fails, kind)
	if err != nil {
		return err
	}
	var d store.Delivery
	ids, err := r.st.Resolve(ctx, it.From)
	switch {
	case err == nil:
		for _, id := range ids {
			d.Targets = append(d.Targets, store.Target{MailboxID: id})
		}
	case errors.Is(err, store.ErrUnknownDomain):
		d.Queue = &store.QueueItem{From: "", To: []string{it.From}}
	default:
		// A local sender that no longer exists (or an unparsable one):
		// nobody to tell. Log and move on rather than retrying forever.
		r.log.Warn("dropping DSN: sender has no mailbox", "queue_id", it.ID, "sender", it.From, "err", err)
		return nil
	}
	if _, err := r.st.DeliverBytes(ctx, d, msg); err != nil {
		return fmt.Errorf("storing DSN: %w", err)
	}
	r.log.Info("sent DSN", "queue_id", it.ID, "to", it.From, "kind", kind.action())
	if d.Queue != nil {
		r.Wake()
	}
	return nil
}

func (k dsnKind) action() string {
	if k == dsnDelayed {
		return "delayed"
	}
	return "failed"
}

// buildDSN renders the multipart/report message.
func (r *Runner) buildDSN(ctx context.Context, it *store.QueueItem, fails []outcome, kind dsnKind) ([]byte, error) {
	now := r.now()
	var rnd [12]byte
	rand.Read(rnd[:])
	boundary := "dsn-" + hex.EncodeToString(rnd[:])
	var b bytes.Buffer
	subject := "Undelivered Mail Returned to Sender"
	if kind == dsnDelayed {
		subject = "Delayed Mail (still being retried)"
	}
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", r.hostname)
	w("To: <%s>", it.From)
	w("Subject: %s", subject)
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.dsn@%s>", hex.EncodeToString(rnd[:8]), r.hostname)
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w(`Content-Type: multipart/report; report-type=delivery-status; boundary="%s"`, boundary)
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("")
	switch kind {
	case dsnDelayed:
		w("This is the mail system at %s.", r.hostname)
		w("")
		w("Your message could not be delivered yet to the recipients below.")
		w("It is still being retried; you do not need to send it again.")
	default:
		w("This is the mail system at %s.", r.hostname)
		w("")
		w("Your message could not be delivered to the recipients below.")
		if kind == dsnExpired {
			w("Delivery was retried until it timed out.")
		}
	}
	w("")
	for _, f := range fails {
		w("<%s>: %s", f.rcpt, oneLine(f.msg))
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", r.hostname)
	w("Arrival-Date: %s", it.Created.Format(time.RFC1123Z))
	for _, f := range fails {
		w("")
		w("Final-Recipient: rfc822; %s", f.rcpt)
		w("Action: %s", kind.action())
		w("Status: %s", status(f, kind))
		if f.mta != "" {
			w("Remote-MTA: dns; %s", f.mta)
		}
		if f.msg != "" {
			w("Diagnostic-Code: smtp; %s", oneLine(f.msg))
		}
		w("Last-Attempt-Date: %s", now.Format(time.RFC1123Z))
		if kind == dsnDelayed {
			w("Will-Retry-Until: %s", it.Created.Add(r.cfg.MaxAge.D()).Format(time.RFC1123Z))
		}
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("")
	hdr, err := r.originalHeader(ctx, it)
	if err != nil {
		return nil, err
	}
	b.Write(hdr)
	w("--%s--", boundary)
	return b.Bytes(), nil
}

// status picks the DSN Status: the remote enhanced code when it gave one.
func status(f outcome, kind dsnKind) string {
	if c := enhancedCode.FindString(f.msg); c != "" {
		if kind == dsnFailed || c[0] != '2' {
			return c
		}
	}
	switch kind {
	case dsnFailed:
		return "5.0.0"
	case dsnExpired:
		return "4.4.7"
	}
	return "4.0.0"
}

// originalHeader returns the queued message's header block (bounded),
// ending in CRLF.
func (r *Runner) originalHeader(ctx context.Context, it *store.QueueItem) ([]byte, error) {
	rd, err := r.st.OpenQueued(ctx, it)
	if err != nil {
		return nil, fmt.Errorf("reading queued message for DSN: %w", err)
	}
	defer rd.Close()
	br := bufio.NewReader(rd)
	var out bytes.Buffer
	for out.Len() < maxReturnedHeader {
		line, err := br.ReadString('\n')
		if strings.TrimRight(line, "\r\n") == "" {
			break
		}
		out.WriteString(strings.TrimRight(line, "\r\n") + "\r\n")
		if err != nil {
			break
		}
	}
	return out.Bytes(), nil
}

// oneLine flattens a multi-line SMTP reply for header and report use.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
