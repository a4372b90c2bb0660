// mailsrv patch: whole file. The QUOTA commands (RFC 9208: GETQUOTA,
// GETQUOTAROOT, SETQUOTA). go-imap v2 (beta.8) has them on the client
// side only; the backend decides everything through SessionQuota.
package imapserver

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// QuotaResource is one resource of a quota root: its usage and limit, in
// the resource's unit (STORAGE: KiB, RFC 9208 §5.1).
type QuotaResource struct {
	Name         imap.QuotaResourceType
	Usage, Limit int64
}

// SessionQuota is implemented by a session that supports RFC 9208.
type SessionQuota interface {
	// GetQuota returns the limited resources of root.
	GetQuota(root string) ([]QuotaResource, error)
	// GetQuotaRoot returns the quota roots of mailbox.
	GetQuotaRoot(mailbox string) ([]string, error)
	SetQuota(root string, limits map[imap.QuotaResourceType]int64) error
}

func (c *Conn) handleQuota(name string, dec *imapwire.Decoder) error {
	var arg string
	if !dec.ExpectSP() {
		return dec.Err()
	}
	if name == "GETQUOTAROOT" {
		if !dec.ExpectMailbox(&arg) {
			return dec.Err()
		}
	} else if !dec.ExpectAString(&arg) {
		return dec.Err()
	}
	limits := map[imap.QuotaResourceType]int64{}
	if name == "SETQUOTA" {
		if !dec.ExpectSP() {
			return dec.Err()
		}
		err := dec.ExpectList(func() error {
			var res string
			var limit int64
			if !dec.ExpectAtom(&res) || !dec.ExpectSP() || !dec.ExpectNumber64(&limit) {
				return dec.Err()
			}
			limits[imap.QuotaResourceType(res)] = limit
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}
	if err := c.checkState(imap.ConnStateAuthenticated); err != nil {
		return err
	}
	session, ok := c.session.(SessionQuota)
	if !ok {
		return newClientBugError(name + " is not supported")
	}
	switch name {
	case "SETQUOTA":
		return session.SetQuota(arg, limits)
	case "GETQUOTA":
		res, err := session.GetQuota(arg)
		if err != nil {
			return err
		}
		return c.writeQuota(arg, res)
	}
	roots, err := session.GetQuotaRoot(arg)
	if err != nil {
		return err
	}
	quotas := make([][]QuotaResource, len(roots))
	for i, r := range roots {
		if quotas[i], err = session.GetQuota(r); err != nil {
			return err
		}
	}
	enc := newResponseEncoder(c)
	enc.Atom("*").SP().Atom("QUOTAROOT").SP().Mailbox(arg)
	for _, r := range roots {
		enc.SP().String(r)
	}
	err = enc.CRLF()
	enc.end()
	if err != nil {
		return err
	}
	for i, r := range roots {
		if err := c.writeQuota(r, quotas[i]); err != nil {
			return err
		}
	}
	return nil
}

func (c *Conn) writeQuota(root string, res []QuotaResource) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("QUOTA").SP().String(root).SP()
	enc.List(len(res), func(i int) {
		enc.Atom(string(res[i].Name)).SP().Number64(res[i].Usage).SP().Number64(res[i].Limit)
	})
	return enc.CRLF()
}
