package store

import (
	"errors"
	"fmt"

	"mailsrv/auth/acl"
)

// ErrMissingRight: a delivery's Requirement did not hold inside its
// transaction (errors.As gives the *MissingRightError).
var ErrMissingRight = errors.New("store: a required right is missing")

// Requirement is a right a delivery needs, stated as data and evaluated
// by the store itself inside the delivery's transaction (issue 15: no
// caller code runs in a write transaction). Submission states that the
// sender still has send-as (or send-on-behalf) on each shared address it
// sends as, so a revoke committed between the session's own check and the
// delivery still refuses the message.
type Requirement struct {
	MailboxID uint64
	User      string // normalised address whose rights are read
	Op        acl.Op // what the rights must allow (acl.Allows)
}

// MissingRightError says which Requirement failed; it matches
// ErrMissingRight.
type MissingRightError struct{ Requirement }

func (e *MissingRightError) Error() string {
	return fmt.Sprintf("store: %s may no longer %s on mailbox %d", e.User, e.Op, e.MailboxID)
}

func (e *MissingRightError) Is(target error) bool { return target == ErrMissingRight }

// checkRequirements evaluates rs as of transaction t.
func (t *Tx) checkRequirements(rs []Requirement) error {
	for _, r := range rs {
		rights, err := rightsTx(t.tx, r.MailboxID, r.User)
		if err != nil {
			return err
		}
		if !acl.Allows(rights, r.Op) {
			return &MissingRightError{r}
		}
	}
	return nil
}
