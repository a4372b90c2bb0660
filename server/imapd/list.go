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
	folder   *store.Folder // nil for the \Noselect nodes of Shared/
	subbed   bool
	children bool
}

// visible lists every name the session may see: the root's folders and,
// for a personal login, Shared/<address>/<folder> of each shared mailbox
// the user can read (others are invisible).
func (s *session) visible() ([]listEntry, error) {
	if _, err := s.rootRights(); err != nil {
		return nil, err
	}
	st := s.srv.st
	folders, err := st.Folders(s.root.ID)
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
			if subs, lerr = st.UserSubscriptions(s.user); lerr != nil || subs == nil {
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
		shared, err := st.SharedFor(s.user)
		if err != nil {
			return nil, err
		}
		if len(shared) > 0 {
			out = append(out, listEntry{name: "Shared"})
		}
		for _, sa := range shared {
			prefix := sharedPrefix + sa.Mailbox.Address
			out = append(out, listEntry{name: prefix})
			sf, err := st.Folders(sa.Mailbox.ID)
			if err != nil {
				continue // removed meanwhile
			}
			for i := range sf {
				f := &sf[i]
				out = append(out, listEntry{name: prefix + "/" + f.Name, folder: f, subbed: subbed(f, false)})
			}
		}
	}
	// Children: names are few (folders of one account), so a quadratic
	// scan is simpler than a tree and fast enough.
	for i := range out {
		p := out[i].name + "/"
		for j := range out {
			if strings.HasPrefix(out[j].name, p) {
				out[i].children = true
				break
			}
		}
	}
	return out, nil
}

func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, o *imap.ListOptions) error {
	defer s.observe("LIST", time.Now())
	if len(patterns) == 1 && patterns[0] == "" {
		// LIST "" "": the hierarchy delimiter and root.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: '/', Mailbox: ""})
	}
	entries, err := s.visible()
	if err != nil {
		return err
	}
	for _, e := range entries {
		match := false
		for _, p := range patterns {
			if imapserver.MatchList(e.name, '/', ref, p) {
				match = true
				break
			}
		}
		if !match {
			continue
		}
		if o.SelectSubscribed && !e.subbed {
			continue
		}
		if o.SelectSpecialUse && (e.folder == nil || e.folder.SpecialUse == "") {
			continue
		}
		d := &imap.ListData{Delim: '/', Mailbox: e.name}
		if e.folder == nil {
			d.Attrs = append(d.Attrs, imap.MailboxAttrNoSelect)
		} else if e.folder.SpecialUse != "" {
			d.Attrs = append(d.Attrs, imap.MailboxAttr(e.folder.SpecialUse))
		}
		if e.children {
			d.Attrs = append(d.Attrs, imap.MailboxAttrHasChildren)
		} else {
			d.Attrs = append(d.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if e.subbed && (o.ReturnSubscribed || o.SelectSubscribed) {
			d.Attrs = append(d.Attrs, imap.MailboxAttrSubscribed)
		}
		if o.ReturnStatus != nil && e.folder != nil {
			d.Status, err = s.statusData(e.name, e.folder, o.ReturnStatus)
			if err != nil {
				return err
			}
		}
		if err := w.WriteList(d); err != nil {
			return err
		}
	}
	return nil
}
