package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Replies overtake queued updates. A STORE or FETCH reply shows a message's
// flags as the store has them now, while updates of that message committed
// earlier by other sessions may still wait in this session's queue for the
// next Poll. Written after the reply, such an update would take the
// client's flags back to an older state and its MODSEQ down (imaptest's
// stress mode counted 342 "MODSEQ dropped" in 20 s). So every reply that
// reads flags hands them to the tracker (SessionTracker.Overtake, a
// mailsrv patch), which drops or rewrites what the reply overtook.

// shownFlags collects the messages a reply read: UID → flags and MODSEQ.
type shownFlags map[imap.UID]imapserver.OvertakenFlags

func (m shownFlags) add(uid uint32, flags []string, modSeq uint64) {
	if modSeq != 0 {
		m[imap.UID(uid)] = imapserver.OvertakenFlags{Flags: toIMAPFlags(flags), ModSeq: modSeq}
	}
}

// overtaken applies shown to this session's queue; written says whether
// the reply showed the flags to the client.
func (s *session) overtaken(shown shownFlags, written bool) {
	if s.sel != nil && len(shown) > 0 {
		s.sel.t.Overtake(shown, written)
	}
}
