package imapd

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/store"
)

// registry maps open folders (folder id) to their shared state. A folder
// is in it while at least one session has it selected.
type registry struct {
	st  Store
	log *slog.Logger

	mu sync.Mutex
	// folders: folder id → viewer → state. The viewer is "" except in a
	// per-member \Seen mailbox, where each member's sessions share a state
	// of their own (store/seen_member.go): the member's \Seen is theirs.
	folders map[uint64]map[string]*folderState
}

// folderState is the server's current view of one open folder: the UID
// list (server sequence number i+1 ↔ uids[i]) and the go-imap tracker that
// queues per-session updates. Both change only under mu, in commit order.
type folderState struct {
	fid  uint64
	mbid uint64
	// viewer is the member whose own \Seen this state shows ("" = shared
	// \Seen); seen holds that member's overrides (uid → \Seen), kept in
	// commit order with the rest.
	viewer string
	seen   map[uint32]bool
	refs   int // guarded by registry.mu
	ready  chan struct{}
	err    error // load error, set before ready is closed

	mu      sync.Mutex
	loaded  bool
	pending []store.Event // events that arrived while loading
	uids    []uint32
	// modseq is the folder's HIGHESTMODSEQ as of the last applied event:
	// what uids and the tracker are current at.
	modseq uint64
	// keywords are the folder's keywords in commit order (keywords.go).
	keywords []string
	tracker  *imapserver.MailboxTracker
	// origins maps the store.Origin of each session selecting this folder
	// to its tracker, so that a session's own STORE is not echoed back to
	// it (the store only carries the opaque id).
	origins map[store.Origin]*imapserver.SessionTracker
	// changed is closed (and replaced) after each applied event; IDLE
	// waits on it. go-imap's SessionTracker.Idle is not used because it
	// misses updates queued before it starts.
	changed chan struct{}
	// broken is set when an event could not be applied (see handle).
	broken bool
	// sortKeys caches SORT/THREAD keys (sortcache.go); own lock.
	sortKeys sortCache
}

// isBroken reports whether the state lost track of the folder.
func (fs *folderState) isBroken() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.broken
}

// changes returns the channel closed by the next applied event.
func (fs *folderState) changes() <-chan struct{} {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.changed
}

func newRegistry(st Store, log *slog.Logger) *registry {
	return &registry{st: st, log: log, folders: map[uint64]map[string]*folderState{}}
}

// open registers interest in folder fid and returns its loaded state. The
// folder is registered before its UIDs are read, and events that arrive
// during the read are replayed with de-duplication afterwards, so nothing
// committed around SELECT is lost or doubled.
func (r *registry) open(ctx context.Context, fid, mbid uint64, viewer string) (*folderState, error) {
	r.mu.Lock()
	fs := r.folders[fid][viewer]
	loader := fs == nil
	if loader {
		fs = &folderState{fid: fid, mbid: mbid, viewer: viewer, ready: make(chan struct{})}
		if r.folders[fid] == nil {
			r.folders[fid] = map[string]*folderState{}
		}
		r.folders[fid][viewer] = fs
	}
	fs.refs++
	r.mu.Unlock()

	if loader {
		uids, ms, err := r.st.FolderUIDsAt(ctx, fid)
		var kws []string
		if err == nil {
			kws, err = r.st.FolderKeywords(ctx, fid)
		}
		var seen map[uint32]bool
		if err == nil {
			seen, err = r.st.SeenOverrides(ctx, fid, viewer)
		}
		fs.mu.Lock()
		if err != nil {
			fs.err = err
		} else {
			fs.uids = uids
			fs.modseq = ms
			fs.keywords = kws
			for uid, v := range seen {
				if _, ok := fs.seen[uid]; !ok { // a replayed event is newer
					fs.setSeen(uid, v)
				}
			}
			for _, ev := range fs.pending {
				fs.applyLoading(ev)
			}
			fs.pending = nil
			fs.tracker = imapserver.NewMailboxTracker(uint32(len(fs.uids)))
			fs.changed = make(chan struct{})
			fs.loaded = true
		}
		fs.mu.Unlock()
		close(fs.ready)
	}
	<-fs.ready
	if fs.err != nil {
		r.close(fs)
		return nil, fs.err
	}
	return fs, nil
}

// close drops one reference; the last one removes the folder.
func (r *registry) close(fs *folderState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fs.refs--
	if fs.refs == 0 && r.folders[fs.fid][fs.viewer] == fs {
		r.drop(fs)
	}
}

// drop removes fs from the registry (r.mu held).
func (r *registry) drop(fs *folderState) {
	delete(r.folders[fs.fid], fs.viewer)
	if len(r.folders[fs.fid]) == 0 {
		delete(r.folders, fs.fid)
	}
}

// states returns the open states of folder fid.
func (r *registry) states(fid uint64) []*folderState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*folderState, 0, len(r.folders[fid]))
	for _, fs := range r.folders[fid] {
		out = append(out, fs)
	}
	return out
}

// seenModeChanged marks the states of mailbox mbid broken: their
// sessions show \Seen the old way, so they are disconnected at their next
// command and see the new mode when they select again.
func (r *registry) seenModeChanged(mbid uint64) {
	r.mu.Lock()
	var hit []*folderState
	for _, m := range r.folders {
		for _, fs := range m {
			if fs.mbid == mbid {
				hit = append(hit, fs)
			}
		}
	}
	for _, fs := range hit {
		r.drop(fs)
	}
	r.mu.Unlock()
	for _, fs := range hit {
		fs.mu.Lock()
		fs.broken = true
		if fs.loaded {
			close(fs.changed)
			fs.changed = make(chan struct{})
		}
		fs.mu.Unlock()
	}
}

// setSeen records the viewer's own \Seen of uid (fs.mu held).
func (fs *folderState) setSeen(uid uint32, seen bool) {
	if fs.seen == nil {
		fs.seen = map[uint32]bool{}
	}
	fs.seen[uid] = seen
}

// viewFlags is flags (of a shared change) as fs's viewer sees them.
func (fs *folderState) viewFlags(uid uint32, flags []string) []string {
	if fs.viewer == "" {
		return flags
	}
	if seen, ok := fs.seen[uid]; ok {
		out := slices.DeleteFunc(slices.Clone(flags), func(f string) bool { return f == store.FlagSeen })
		if seen {
			out = append(out, store.FlagSeen)
		}
		return out
	}
	return flags
}

// handle runs on the store's committer goroutine: it only takes short
// in-memory locks and never blocks on I/O.
func (r *registry) handle(ev store.Event) {
	switch ev.Kind {
	case store.EventNew, store.EventExpunge, store.EventFlags:
	case store.EventSeenMode:
		r.seenModeChanged(ev.MailboxID)
		return
	default:
		return
	}
	for _, fs := range r.states(ev.FolderID) {
		r.applyTo(fs, ev)
	}
}

func (r *registry) applyTo(fs *folderState, ev store.Event) {
	if p, stack := fs.apply(ev); p != nil {
		// A bug put the UID list and go-imap's tracker out of step (the
		// tracker panics then). Sequence numbers of this folder can no
		// longer be trusted, and a client acting on wrong ones could
		// delete the wrong message: its sessions are disconnected at
		// their next command, and the next SELECT loads a fresh state.
		r.log.Error("open folder lost track of a change; disconnecting its sessions",
			"folder", ev.FolderID, "event", ev.Kind, "panic", p, "stack", stack)
		r.mu.Lock()
		if r.folders[fs.fid][fs.viewer] == fs {
			r.drop(fs)
		}
		r.mu.Unlock()
	}
}

// apply applies one committed change to the folder state and queues the
// untagged updates for its sessions. If that panics, or the event's
// modseq shows that a change was missed, it marks the state broken and
// returns what went wrong (and the stack of a panic).
func (fs *folderState) apply(ev store.Event) (panicked any, stack string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			panicked, stack, fs.broken = p, string(debug.Stack()), true
		}
		if fs.loaded {
			// Wake IDLE: to report the change, or that it must end.
			close(fs.changed)
			fs.changed = make(chan struct{})
		}
	}()
	if !fs.loaded {
		if fs.err == nil {
			fs.pending = append(fs.pending, ev)
		}
		return nil, ""
	}
	if fs.modseq != 0 && ev.ModSeq > fs.modseq+1 {
		// Every change to the folder's messages raises its modseq by
		// exactly one (store/modseq.go), so a jump means a change this
		// state never saw (e.g. events pruned before this server's
		// pump read them): its UIDs and flags can no longer be trusted.
		// Resync: the sessions are disconnected like after a failed
		// apply, and the next SELECT loads the folder afresh.
		fs.broken = true
		return fmt.Sprintf("missed a change: event modseq %d after %d", ev.ModSeq, fs.modseq), ""
	}
	fs.modseq = max(fs.modseq, ev.ModSeq)
	if fs.addKeywords(ev.Keywords) {
		// Before the updates that use them (RFC 3501 §7.2.6).
		fl := systemFlags()
		for _, k := range fs.keywords {
			fl = append(fl, imap.Flag(k))
		}
		fs.tracker.QueueMailboxFlags(fl)
	}
	switch ev.Kind {
	case store.EventNew:
		for _, uid := range ev.UIDs {
			if n := len(fs.uids); n > 0 && uid <= fs.uids[n-1] {
				continue // already loaded
			}
			fs.uids = append(fs.uids, uid)
			fs.tracker.QueueNumMessages(uint32(len(fs.uids)))
		}
	case store.EventExpunge:
		for _, uid := range ev.UIDs {
			i, ok := slices.BinarySearch(fs.uids, uid)
			if !ok {
				continue
			}
			fs.uids = slices.Delete(fs.uids, i, i+1)
			fs.tracker.QueueExpungeUID(uint32(i+1), imap.UID(uid))
		}
	case store.EventFlags:
		if ev.Private != "" && ev.Private != fs.viewer {
			return nil, "" // another member's own \Seen: only the modseq moved
		}
		for k, uid := range ev.UIDs {
			if k < len(ev.Flags) && ev.Private != "" {
				fs.setSeen(uid, slices.Contains(ev.Flags[k], store.FlagSeen))
			}
			i, ok := slices.BinarySearch(fs.uids, uid)
			if !ok || k >= len(ev.Flags) {
				continue
			}
			flags := ev.Flags[k]
			if ev.Private == "" {
				flags = fs.viewFlags(uid, flags)
			}
			// The session that made the change reports it itself.
			origin := fs.origins[ev.Origin] // nil: not a session's own change
			fs.tracker.QueueMessageFlagsModSeq(uint32(i+1), imap.UID(uid), toIMAPFlags(flags), ev.ModSeq, origin)
		}
	}
	return nil, ""
}

// applyLoading applies an event that raced with the initial load to the
// UID list (no sessions exist yet, so there is nothing to queue).
func (fs *folderState) applyLoading(ev store.Event) {
	fs.modseq = max(fs.modseq, ev.ModSeq)
	fs.addKeywords(ev.Keywords)
	if ev.Kind == store.EventFlags && ev.Private != "" && ev.Private == fs.viewer {
		for k, uid := range ev.UIDs {
			if k < len(ev.Flags) {
				fs.setSeen(uid, slices.Contains(ev.Flags[k], store.FlagSeen))
			}
		}
	}
	switch ev.Kind {
	case store.EventNew:
		for _, uid := range ev.UIDs {
			if n := len(fs.uids); n == 0 || uid > fs.uids[n-1] {
				fs.uids = append(fs.uids, uid)
			}
		}
	case store.EventExpunge:
		for _, uid := range ev.UIDs {
			if i, ok := slices.BinarySearch(fs.uids, uid); ok {
				fs.uids = slices.Delete(fs.uids, i, i+1)
			}
		}
	}
}

// addKeywords adds the keywords fs does not have yet; true if any.
func (fs *folderState) addKeywords(kws []string) bool {
	added := false
	for _, k := range kws {
		if isKeyword(k) && !slices.Contains(fs.keywords, k) {
			fs.keywords = append(fs.keywords, k)
			added = true
		}
	}
	return added
}

func toIMAPFlags(fl []string) []imap.Flag {
	out := make([]imap.Flag, len(fl))
	for i, f := range fl {
		out[i] = imap.Flag(f)
	}
	return out
}

func fromIMAPFlags(fl []imap.Flag) []string {
	out := make([]string, 0, len(fl))
	for _, f := range fl {
		out = append(out, canonicalFlag(string(f)))
	}
	return out
}

// canonicalFlag gives system flags their canonical case so that \seen and
// \Seen are one flag in the store.
func canonicalFlag(f string) string {
	for _, sys := range []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`} {
		if len(f) == len(sys) && equalFold(f, sys) {
			return sys
		}
	}
	return f
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
