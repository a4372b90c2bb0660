package smtpd

import (
	"context"
	"fmt"

	"github.com/emersion/go-smtp"
)

// Quotas at SMTP (MX and submission's local recipients).
//
// The gate is RCPT: a recipient whose mailbox is already full (no room
// for one more byte or message) is refused with 452 4.2.2 and the others
// of the same transaction are accepted as usual. Once DATA has arrived
// the message is delivered to every accepted recipient even if it takes
// one of them over its limit: plain SMTP has one reply to DATA for all
// recipients (no LMTP per-recipient replies), so refusing it would hold
// up or lose the mail of the others, and a bounce after 250 would be
// backscatter. The overshoot is at most one message; the next RCPT to
// that mailbox is refused. IMAP APPEND and COPY, which have one mailbox
// each, are enforced exactly (store.Delivery.EnforceQuota). Submission's
// check is in server/submit (AddRecipient), with the same rule.

// withinQuota returns the mailboxes of ids that have room for another
// message (store.WithRoom), or a 452 4.2.2 when none has.
func withinQuota(ctx context.Context, st Store, addr string, ids []uint64) ([]uint64, *smtp.SMTPError) {
	keep, err := st.WithRoom(ctx, ids)
	if err != nil {
		return nil, smtpError(451, smtp.EnhancedCode{4, 3, 0}, "Temporary failure reading the recipient's quota, try again later")
	}
	if len(keep) == 0 && len(ids) > 0 {
		return nil, smtpError(452, smtp.EnhancedCode{4, 2, 2}, fmt.Sprintf("Mailbox of %s is full, try again later", addr))
	}
	return keep, nil
}
