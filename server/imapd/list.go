package imapd

import (
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/store"
)

// listEntry is one mailbox name a session can see.
type listEntry struct {
	name     string
	folder   *store.Folder // nil for \Noselect nodes (Shared/, parents of orphans) and gone names
	subbed   bool
	children bool
	gone     bool // a subscribed name without a folder (\NonExistent)
	subKids  bool // some descendant is subscribed (RECURSIVEMATCH, LSUB "%")
}

// visible lists every name the session may see: the root's folders and,
// for a personal login, Shared/<address>/<folder> of each shared mailbox
// the user can read (others are invisible).
func (s *session) visible() ([]listEntry, error) {
	if _, err := s.rootRights(); err != nil {
		return nil, err
	}
	st := s.srv.st
	folders, err := st.Folders(s.ctx, s.root.ID)
	if err != nil {
		return nil, err
	}
	// Folders of a mailbox the user does not own carry the user's own
	// subscription, if they made one (store/usersubs.go).
	var subs map[uint64]bool
	subbed := func(f *store.Folder, own bool) bool {
		if own {
			return f.Subscribed
		}
		if subs == nil {
			var lerr error
			if subs, lerr = st.UserSubscriptions(s.ctx, s.user); lerr != nil || subs == nil {
				subs = map[uint64]bool{} // unreadable: fall back to the defaults
			}
		}
		if on, ok := subs[f.ID]; ok {
			return on
		}
		return f.Subscribed
	}
	var out []listEntry
	for i := range folders {
		f := &folders[i]
		out = append(out, listEntry{name: f.Name, folder: f, subbed: subbed(f, s.rootAll)})
	}
	if s.root.Kind == store.MailboxPersonal && s.rootAll {
		shared, err := st.SharedFor(s.ctx, s.user)
		if err != nil {
			return nil, err
		}
		if len(shared) > 0 {
			out = append(out, listEntry{name: "Shared"})
		}
		for _, sa := range shared {
			prefix := sharedPrefix + sa.Mailbox.Address
			out = append(out, listEntry{name: prefix})
			sf, err := st.Folders(s.ctx, sa.Mailbox.ID)
			if err != nil {
				continue // removed meanwhile
			}
			for i := range sf {
				f := &sf[i]
				out = append(out, listEntry{name: prefix + "/" + f.Name, folder: f, subbed: subbed(f, false)})
			}
		}
	}
	if s.rootAll {
		// Subscriptions that outlived their folder (store/subnames.go).
		names, err := st.SubscribedNames(s.ctx, s.root.ID)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			out = append(out, listEntry{name: n, subbed: true, gone: true})
		}
	}
	out = withParents(out)
	// Children: names are few (folders of one account), so a quadratic
	// scan is simpler than a tree and fast enough.
	for i := range out {
		p := out[i].name + "/"
		for j := range out {
			if strings.HasPrefix(out[j].name, p) {
				if !out[j].gone {
					out[i].children = true
				}
				if out[j].subbed {
					out[i].subKids = true
				}
			}
		}
	}
	return out, nil
}

// withParents adds a \Noselect entry for every missing parent of a name
// (a folder "Backup/a@example.com/INBOX" whose "Backup" does not exist,
// RFC 3501 §5.1 hierarchy): LIST shows the whole tree.
func withParents(l []listEntry) []listEntry {
	seen := make(map[string]int, len(l))
	for i, e := range l {
		seen[e.name] = i
	}
	for i := 0; i < len(l); i++ {
		if l[i].gone {
			continue
		}
		name := l[i].name
		for j := strings.LastIndexByte(name, '/'); j > 0; j = strings.LastIndexByte(name, '/') {
			name = name[:j]
			if k, ok := seen[name]; ok {
				// A subscription whose folder went but that is a
				// parent: a \Noselect node, still subscribed.
				l[k].gone = false
				continue
			}
			seen[name] = len(l)
			l = append(l, listEntry{name: name})
		}
	}
	return l
}

func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, o *imap.ListOptions) error {
	defer s.observe("LIST", time.Now())
	if len(patterns) == 0 {
		// LIST "" "" (go-imap drops empty patterns): the hierarchy
		// delimiter and root (RFC 3501 §6.3.8).
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: '/', Mailbox: ""})
	}
	entries, err := s.visible()
	if err != nil {
		return err
	}
	lsub := w.IsLSub()
	var rightsCache map[uint64]imap.RightSet
	for _, e := range entries {
		if !matchAny(e.name, ref, patterns) {
			continue
		}
		if (o.SelectRecursiveMatch || lsub) && e.subKids && !e.subbed {
			e.subKids = subscribedKidUnlisted(entries, e.name, ref, patterns)
		}
		d := listData(e, o, lsub)
		if d == nil {
			continue
		}
		if o.ReturnStatus != nil && e.folder != nil {
			d.Status, err = s.statusData(e.name, e.folder, o.ReturnStatus)
			if err != nil {
				return err
			}
		}
		if o.ReturnMyRights && !e.gone {
			if rightsCache == nil {
				rightsCache = map[uint64]imap.RightSet{}
			}
			d.MyRights = s.listMyRights(e.name, rightsCache) // RFC 8440 (ext_acl.go)
		}
		if err := w.WriteList(d); err != nil {
			return err
		}
	}
	return nil
}

// subscribedKidUnlisted reports a subscribed descendant of name that the
// patterns do not list themselves: only that makes RECURSIVEMATCH return
// the parent with CHILDINFO (RFC 5258 §3.5 and its examples; a child that
// is listed tells the client already, as Dovecot and imaptest listext),
// and LSUB the parent as \Noselect (RFC 3501 §6.3.9: for "%", not "*").
func subscribedKidUnlisted(entries []listEntry, name, ref string, patterns []string) bool {
	p := name + "/"
	for _, k := range entries {
		if k.subbed && strings.HasPrefix(k.name, p) && !matchAny(k.name, ref, patterns) {
			return true
		}
	}
	return false
}

func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if imapserver.MatchList(name, '/', ref, p) {
			return true
		}
	}
	return false
}

// listData is the LIST (or LSUB) answer for one matching entry, nil when
// the selection options leave it out (RFC 5258 §3, RFC 3501 §6.3.9).
func listData(e listEntry, o *imap.ListOptions, lsub bool) *imap.ListData {
	d := &imap.ListData{Delim: '/', Mailbox: e.name}
	switch {
	case lsub:
		// LSUB: subscribed names; a parent that is not but has
		// subscribed children is listed \Noselect (for "%").
		if !e.subbed && !e.subKids {
			return nil
		}
		if !e.subbed || e.folder == nil {
			d.Attrs = append(d.Attrs, imap.MailboxAttrNoSelect)
		}
		return d
	case o.SelectSubscribed:
		if !e.subbed {
			if !o.SelectRecursiveMatch || !e.subKids {
				return nil
			}
			d.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
	case e.gone:
		return nil // LIST without SUBSCRIBED shows only what exists
	}
	if o.SelectSpecialUse && (e.folder == nil || e.folder.SpecialUse == "") {
		return nil
	}
	switch {
	case e.gone:
		d.Attrs = append(d.Attrs, imap.MailboxAttrNonExistent)
	case e.folder == nil:
		d.Attrs = append(d.Attrs, imap.MailboxAttrNoSelect)
	case e.folder.SpecialUse != "":
		d.Attrs = append(d.Attrs, imap.MailboxAttr(e.folder.SpecialUse))
	}
	if !e.gone {
		if e.children {
			d.Attrs = append(d.Attrs, imap.MailboxAttrHasChildren)
		} else {
			d.Attrs = append(d.Attrs, imap.MailboxAttrHasNoChildren)
		}
	}
	if e.subbed && (o.ReturnSubscribed || o.SelectSubscribed) {
		d.Attrs = append(d.Attrs, imap.MailboxAttrSubscribed)
	}
	return d
}
