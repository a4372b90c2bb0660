package mail

import (
	"net/http"
	"strings"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// The actions call the same store operations as IMAP's STORE, MOVE and
// EXPUNGE, with the member as actor: the store audits a delegate's
// changes to a shared mailbox the same way whichever protocol asked.

type flagsArgs struct {
	Folder string   `json:"folder"`
	UIDs   []uint32 `json:"uids"`
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

type moveArgs struct {
	Folder string   `json:"folder"`
	UIDs   []uint32 `json:"uids"`
	To     string   `json:"to"`
}

type uidsArgs struct {
	Folder string   `json:"folder"`
	UIDs   []uint32 `json:"uids"`
}

var ok = map[string]bool{"ok": true}

// settable are the flags the pages set; keywords are IMAP's business.
var settable = []string{`\Seen`, `\Flagged`, `\Answered`, `\Draft`}

func canonicalFlags(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, f := range in {
		found := ""
		for _, s := range settable {
			if strings.EqualFold(s, f) {
				found = s
			}
		}
		if found == "" {
			return nil, errorf(http.StatusBadRequest, "the webmail sets only the flags \\Seen, \\Flagged, \\Answered and \\Draft, not "+f)
		}
		out = append(out, found)
	}
	return out, nil
}

func needUIDs(uids []uint32) error {
	if len(uids) == 0 {
		return errorf(http.StatusBadRequest, "say which messages: uids is empty")
	}
	return nil
}

func (m *Mail) apiFlags(q *request) (any, error) {
	var args flagsArgs
	if err := readBody(q, &args); err != nil {
		return nil, err
	}
	add, err := canonicalFlags(args.Add)
	if err != nil {
		return nil, err
	}
	remove, err := canonicalFlags(args.Remove)
	if err != nil {
		return nil, err
	}
	if err := needUIDs(args.UIDs); err != nil {
		return nil, err
	}
	// \Seen alone needs read (IMAP "s"); any other flag needs manage.
	op := acl.OpSetSeen
	for _, f := range append(append([]string{}, add...), remove...) {
		if f != `\Seen` {
			op = acl.OpWrite
		}
	}
	a, err := m.account(q, op)
	if err != nil {
		return nil, err
	}
	f, err := m.folder(q.r.Context(), a, args.Folder)
	if err != nil {
		return nil, err
	}
	if len(add) > 0 {
		if _, err := m.st.StoreFlags(q.r.Context(), f.ID, args.UIDs, store.FlagsAdd, add, q.sess.User); err != nil {
			return nil, err
		}
	}
	if len(remove) > 0 {
		if _, err := m.st.StoreFlags(q.r.Context(), f.ID, args.UIDs, store.FlagsRemove, remove, q.sess.User); err != nil {
			return nil, err
		}
	}
	return ok, nil
}

func (m *Mail) apiMove(q *request) (any, error) {
	var args moveArgs
	if err := readBody(q, &args); err != nil {
		return nil, err
	}
	if err := needUIDs(args.UIDs); err != nil {
		return nil, err
	}
	a, err := m.account(q, acl.OpMoveOut)
	if err != nil {
		return nil, err
	}
	src, err := m.folder(q.r.Context(), a, args.Folder)
	if err != nil {
		return nil, err
	}
	dst, err := m.folder(q.r.Context(), a, args.To)
	if err != nil {
		return nil, err
	}
	if src.ID == dst.ID {
		return ok, nil
	}
	if _, err := m.st.Move(q.r.Context(), src.ID, args.UIDs, dst.ID, q.sess.User); err != nil {
		return nil, err
	}
	return ok, nil
}

// apiDelete moves messages to Trash; in Trash it removes them for good.
func (m *Mail) apiDelete(q *request) (any, error) {
	var args uidsArgs
	if err := readBody(q, &args); err != nil {
		return nil, err
	}
	if err := needUIDs(args.UIDs); err != nil {
		return nil, err
	}
	a, err := m.account(q, acl.OpExpunge)
	if err != nil {
		return nil, err
	}
	src, err := m.folder(q.r.Context(), a, args.Folder)
	if err != nil {
		return nil, err
	}
	trash, err := m.specialFolder(q.r.Context(), a, `\Trash`, "Trash")
	if err != nil {
		return nil, err
	}
	if src.ID == trash.ID {
		_, err = m.st.Expunge(q.r.Context(), src.ID, args.UIDs, q.sess.User)
	} else {
		_, err = m.st.Move(q.r.Context(), src.ID, args.UIDs, trash.ID, q.sess.User)
	}
	if err != nil {
		return nil, err
	}
	return ok, nil
}

func (m *Mail) apiEmptyTrash(q *request) (any, error) {
	var args struct{}
	if err := readBody(q, &args); err != nil {
		return nil, err
	}
	a, err := m.account(q, acl.OpExpunge)
	if err != nil {
		return nil, err
	}
	trash, err := m.specialFolder(q.r.Context(), a, `\Trash`, "Trash")
	if err != nil {
		return nil, err
	}
	uids, err := m.st.FolderUIDs(q.r.Context(), trash.ID)
	if err != nil {
		return nil, err
	}
	if len(uids) > 0 {
		if _, err := m.st.Expunge(q.r.Context(), trash.ID, uids, q.sess.User); err != nil {
			return nil, err
		}
	}
	return map[string]int{"removed": len(uids)}, nil
}
