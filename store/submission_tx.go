package store

import "mailsrv/auth/acl"

// RightsOf returns user's rights on mailbox mbid as seen by this write
// transaction. Submission re-checks send rights here (Delivery.Check) so a
// revoke committed between the session's check and the delivery still
// refuses the message.
func (t *Tx) RightsOf(mbid uint64, user string) (acl.Rights, error) {
	return rightsTx(t.tx, mbid, user)
}
