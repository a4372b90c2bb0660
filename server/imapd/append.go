package imapd

import (
	"io"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// APPEND and MULTIAPPEND (RFC 3502): every APPEND goes through an
// appendTx. Each message is written to its own body file as it arrives;
// Commit stores them all in one store transaction (store.DeliverAll), so
// a refused or failed message leaves nothing behind.

var _ imapserver.SessionMultiAppend = (*session)(nil)

// MultiAppendLimit bounds the literals of one APPEND together: ten
// messages of the largest size allowed.
func (s *session) MultiAppendLimit() int64 { return 10 * s.srv.maxBytes }

type appendTx struct {
	s      *session
	t      *target
	f      *store.Folder
	start  time.Time
	staged []stagedAppend
}

type stagedAppend struct {
	blob *store.BlobWriter // nil: already stored (Sent copy), see uid
	uid  uint32
	d    store.Delivery
}

func (s *session) BeginAppend(name string) (imapserver.AppendTx, error) {
	t, err := s.resolve(name)
	if err != nil {
		if err == errNoSuchMailbox {
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
		}
		return nil, err
	}
	if err := need(t, acl.OpAppend); err != nil {
		return nil, err
	}
	f, err := s.srv.st.GetFolder(s.ctx, t.mb.ID, t.folder)
	if err != nil {
		// Deliver would fall back to INBOX; APPEND must not.
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	return &appendTx{s: s, t: t, f: f, start: time.Now()}, nil
}

func (a *appendTx) Add(r imap.LiteralReader, o *imap.AppendOptions) error {
	if err := checkFlags(o.Flags); err != nil {
		return err
	}
	s, st := a.s, a.s.srv.st
	w, err := st.NewBlob(s.ctx, s.srv.maxBytes)
	if err != nil {
		return mapStoreErr(err)
	}
	// Keep the start of the message for the audit entry's Message-ID.
	var head headBuffer
	var src io.Reader = r
	if o.Binary { // literal8: NULs are base64-encoded first (append_binary.go)
		if src, err = binaryMessage(r, s.srv.maxBytes); err != nil {
			w.Abort()
			return err
		}
	}
	nuls := nulWatch{w: w}
	if _, err := io.Copy(&nuls, io.TeeReader(src, &head)); err != nil {
		w.Abort()
		return mapStoreErr(err)
	}
	if nuls.seen {
		w.Abort()
		return errNULInLiteral
	}
	if err := w.Sync(); err != nil {
		w.Abort()
		return mapStoreErr(err)
	}
	env := store.ParseEnvelope(head.b)
	if uid, dup := s.submittedCopy(a.f, env); dup {
		w.Abort()
		a.staged = append(a.staged, stagedAppend{uid: uid})
		return nil
	}
	d := store.Delivery{
		Blob:         w,
		InternalDate: o.Time,
		Targets:      []store.Target{{MailboxID: a.t.mb.ID, Folder: a.f.Name, Flags: fromIMAPFlags(o.Flags)}},
		Actor:        s.user,
		EnforceQuota: true, // NO [OVERQUOTA], nothing stored (ext_quota.go)
	}
	if a.t.shared() {
		e := store.AuditEntry{Actor: s.user, Action: "append", Folder: a.f.Name}
		if env != nil {
			e.MessageID = env.MessageID
		}
		d.Audit = []store.MailboxAudit{{MailboxID: a.t.mb.ID, Entry: e}}
	}
	a.staged = append(a.staged, stagedAppend{blob: w, d: d})
	return nil
}

func (a *appendTx) Commit() (*imapserver.MultiAppendData, error) {
	defer a.s.observe("APPEND", a.start)
	var ds []store.Delivery
	for _, sa := range a.staged {
		if sa.blob != nil {
			ds = append(ds, sa.d)
		}
	}
	var outs [][]store.Delivered
	if len(ds) > 0 {
		var err error
		if outs, err = a.s.srv.st.DeliverAll(a.s.ctx, ds); err != nil {
			a.Abort()
			return nil, mapStoreErr(err)
		}
	}
	// Stored: the body files are the store's now, never to be aborted.
	staged := a.staged
	a.staged = nil
	data := &imapserver.MultiAppendData{UIDValidity: a.f.UIDValidity}
	j := 0
	for _, sa := range staged {
		if sa.blob != nil {
			out := outs[j]
			j++
			if len(out) != 1 || out[0].FolderID != a.f.ID {
				return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "Mailbox was removed"}
			}
			sa.uid = out[0].UID
		}
		data.UIDs = append(data.UIDs, imap.UID(sa.uid))
	}
	return data, nil
}

func (a *appendTx) Abort() {
	for _, sa := range a.staged {
		if sa.blob != nil {
			sa.blob.Abort()
		}
	}
	a.staged = nil
}

// Append serves a session without the MULTIAPPEND path (go-imap calls it
// only then); it is one appendTx of one message.
func (s *session) Append(name string, r imap.LiteralReader, o *imap.AppendOptions) (*imap.AppendData, error) {
	tx, err := s.BeginAppend(name)
	if err != nil {
		return nil, err
	}
	defer tx.Abort()
	if err := tx.Add(r, o); err != nil {
		return nil, err
	}
	d, err := tx.Commit()
	if err != nil {
		return nil, err
	}
	return &imap.AppendData{UID: d.UIDs[0], UIDValidity: d.UIDValidity}, nil
}
