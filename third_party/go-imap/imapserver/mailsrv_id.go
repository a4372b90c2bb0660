// mailsrv patch: whole file. The ID command (RFC 2971): the client's
// fields go to the backend (which logs them), the server's come back.
// go-imap v2 (beta.8) has ID on the client side only.
package imapserver

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// IDField is one field of an ID command: a key and its value ("" for NIL).
type IDField struct {
	Key, Value string
}

// SessionID is implemented by a session that answers ID. client holds the
// client's fields in the order sent (nil for `ID NIL`); the answer's
// non-empty fields are sent back (nil: `* ID NIL`).
type SessionID interface {
	ID(client []IDField) *imap.IDData
}

// maxIDFields is RFC 2971 §3.3's limit of 30 field-value pairs.
const maxIDFields = 30

func (c *Conn) handleID(dec *imapwire.Decoder) error {
	var fields []IDField
	if !dec.ExpectSP() {
		return dec.Err()
	}
	err := dec.ExpectNList(func() error {
		var f IDField
		if !dec.ExpectString(&f.Key) || !dec.ExpectSP() || !dec.ExpectNString(&f.Value) {
			return dec.Err()
		}
		fields = append(fields, f)
		return nil
	})
	if err != nil {
		return err
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}
	if len(fields) > maxIDFields {
		return newClientBugError("ID: at most 30 fields (RFC 2971)")
	}
	session, ok := c.session.(SessionID)
	if !ok {
		return newClientBugError("ID is not supported")
	}
	data := session.ID(fields)

	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("ID").SP()
	var kv []string
	if data != nil {
		for _, f := range []struct{ k, v string }{
			{"name", data.Name}, {"version", data.Version}, {"os", data.OS},
			{"os-version", data.OSVersion}, {"vendor", data.Vendor},
			{"support-url", data.SupportURL}, {"address", data.Address},
			{"date", data.Date}, {"command", data.Command},
			{"arguments", data.Arguments}, {"environment", data.Environment},
		} {
			if f.v != "" {
				kv = append(kv, f.k, f.v)
			}
		}
	}
	if len(kv) == 0 {
		enc.NIL()
	} else {
		enc.List(len(kv), func(i int) { enc.String(kv[i]) })
	}
	return enc.CRLF()
}

// extensionCaps lists the capabilities of the mailsrv extensions the
// session implements: ID in every state, the others once authenticated.
func (c *Conn) extensionCaps() []imap.Cap {
	var caps []imap.Cap
	if _, ok := c.session.(SessionID); ok {
		caps = append(caps, imap.CapID)
	}
	if c.state != imap.ConnStateAuthenticated && c.state != imap.ConnStateSelected {
		return caps
	}
	if _, ok := c.session.(SessionACL); ok {
		caps = append(caps, imap.CapACL, imap.Cap("RIGHTS="+aclRightsCap))
		caps = append(caps, imap.CapListMyRights)
	}
	if _, ok := c.session.(SessionQuota); ok {
		caps = append(caps, imap.CapQuota, imap.Cap("QUOTA=RES-"+string(imap.QuotaResourceStorage)),
			imap.Cap("QUOTA=RES-"+string(imap.QuotaResourceMessage)))
	}
	return caps
}
