package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/store"
)

// checkBinaryCTE runs before a FETCH BINARY[...] (not .PEEK) marks
// messages \Seen: a part whose Content-Transfer-Encoding cannot be
// decoded fails the command with NO [UNKNOWN-CTE] (RFC 3516 §4.2), and a
// failed FETCH must not have changed any flag (RFC 3501 §6.4.5: the
// \Seen is set because the text was fetched). Only the messages that
// are not \Seen yet are read; prepare reads them again for the reply,
// a cost paid only by this rare form (clients fetch BINARY.PEEK).
func (s *session) checkBinaryCTE(msgs []store.Message, o *imap.FetchOptions) error {
	if len(o.BinarySection) == 0 {
		return nil
	}
	for i := range msgs {
		if hasFlag(msgs[i].Flags, `\Seen`) {
			continue
		}
		for _, bs := range o.BinarySection {
			rc, err := s.srv.st.OpenMessage(s.ctx, &msgs[i])
			if err != nil {
				continue // expunged meanwhile: fetchOne says so
			}
			_, cteErr := imapserver.ExtractBinarySectionErr(rc, bs)
			rc.Close()
			if cteErr != nil {
				return errUnknownCTE
			}
		}
	}
	return nil
}
