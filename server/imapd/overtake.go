package imapd

import (
	"time"

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
//
// The store's change events are published after the commit that made them
// visible (store/commit.go: a group commit publishes its events one after
// another once the whole batch is on disk). A reply can therefore read a
// message's flags at MODSEQ n while an older change of it, m < n, has not
// reached this folder's state yet: Overtake would find nothing to drop, and
// the update queued a moment later went out after the reply (imaptest
// stress still counted 1–2 "MODSEQ dropped" per 20 s). So before
// overtaking, the session waits until its folder state has applied every
// event up to the highest MODSEQ the reply showed (caughtUp): the
// committer publishes them right after the commit, so the wait is short.

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
	if s.sel == nil || len(shown) == 0 {
		return
	}
	var top uint64
	for _, f := range shown {
		top = max(top, f.ModSeq)
	}
	if !s.sel.fs.caughtUp(top, caughtUpLimit) {
		s.log.Warn("folder state did not reach the MODSEQ a reply showed; a queued flag update may show an older state",
			"folder", s.sel.fid, "modseq", top)
	}
	if !written {
		// Overtake rewrites the first queued update of each message to
		// these flags, and it may sit ahead of the queued FLAGS that
		// announces their new keyword: announce them now (keywords.go).
		for _, f := range shown {
			if err := s.announce(flagStrings(f.Flags)); err != nil {
				return // the connection failed; its next write says so
			}
		}
	}
	s.sel.t.Overtake(shown, written)
}

func flagStrings(fl []imap.Flag) []string {
	out := make([]string, len(fl))
	for i, f := range fl {
		out[i] = string(f)
	}
	return out
}

// caughtUpLimit bounds the wait for events already committed: they are
// published without I/O, so reaching it means something else is wrong.
const caughtUpLimit = 5 * time.Second

// caughtUp waits until fs has applied every change event up to modseq ms
// (each event raises the folder's MODSEQ by one, in commit order), or the
// state broke, or limit passed (false).
func (fs *folderState) caughtUp(ms uint64, limit time.Duration) bool {
	var timeout <-chan time.Time
	for {
		fs.mu.Lock()
		done := fs.modseq >= ms || fs.broken || !fs.loaded
		ch := fs.changed
		fs.mu.Unlock()
		if done {
			return true
		}
		if timeout == nil {
			t := time.NewTimer(limit)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
			return false
		}
	}
}
