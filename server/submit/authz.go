package submit

// Sender authorisation (SPEC §5, §6): who may put which address in MAIL
// FROM, From: and Sender:. Rights are read from the store on every call,
// never cached, so a revoke applies to the next message of an open
// session.

import (
	"context"
	"errors"
	"net/mail"
	"strings"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// sendKind is how a user may use an address.
type sendKind int

const (
	sendOwn      sendKind = iota // the user's own address or an alias of it
	sendAs                       // a shared mailbox with the send right
	sendOnBehalf                 // a shared mailbox with only send-on-behalf
)

// grant is the permission to use one address.
type grant struct {
	kind    sendKind
	addr    string
	mailbox *store.Mailbox // the shared mailbox, for sendAs / sendOnBehalf
}

func (g *grant) action() string {
	if g.kind == sendOnBehalf {
		return "send-on-behalf"
	}
	return "send-as"
}

// Grant is the permission to use one address (from Authorize).
type Grant = grant

// Authorize says whether id may use addr (normalised) as envelope sender
// or in From:/Sender:. A refusal is an *Error naming the address and
// what is missing.
func (s *Submitter) Authorize(ctx context.Context, id Identity, addr string) (*Grant, error) {
	return s.authorize(ctx, &id, addr)
}

// SendsAs reports whether the grant is for a shared mailbox (send-as or
// send-on-behalf) and which of the two.
func (g *Grant) SendsAs() (shared bool, action string) {
	return g.mailbox != nil, g.action()
}

func (s *Submitter) authorize(ctx context.Context, id *Identity, addr string) (*grant, error) {
	mb, err := s.st.MailboxByAddress(ctx, addr)
	switch {
	case err == nil && mb.Deleted == nil:
		return s.authorizeMailbox(ctx, id, addr, mb)
	case err == nil, errors.Is(err, store.ErrNotFound):
	default:
		s.log.Error("sender check", "err", err)
		return nil, errAuthzTemp
	}
	// Not a mailbox address: an alias of the user's own mailbox is the
	// user's own; an alias of exactly one shared mailbox counts as that
	// mailbox (e.g. the old address after `shared rename`). Catch-all
	// entries are deliberately not followed: they would let a user send
	// as any address of the domain.
	isAlias, err := s.isExplicitAlias(ctx, addr)
	if err != nil {
		s.log.Error("sender check", "err", err)
		return nil, errAuthzTemp
	}
	if !isAlias {
		return nil, refuse("You may not send as %s: it is not one of your addresses", addr)
	}
	ids, err := s.st.Resolve(ctx, addr)
	if err != nil {
		return nil, refuse("You may not send as %s: it is not one of your addresses", addr)
	}
	if containsID(ids, id.MailboxID) {
		return &grant{kind: sendOwn, addr: addr}, nil
	}
	if len(ids) == 1 {
		if mb, err := s.st.Mailbox(ctx, ids[0]); err == nil && mb.Kind == store.MailboxShared && mb.Deleted == nil {
			return s.authorizeMailbox(ctx, id, addr, mb)
		}
	}
	return nil, refuse("You may not send as %s: it is not one of your addresses", addr)
}

func (s *Submitter) authorizeMailbox(ctx context.Context, id *Identity, addr string, mb *store.Mailbox) (*grant, error) {
	if mb.ID == id.MailboxID {
		return &grant{kind: sendOwn, addr: addr}, nil
	}
	if mb.Kind != store.MailboxShared {
		return nil, refuse("You may not send as %s: it belongs to another user", addr)
	}
	r, err := s.st.RightsOf(ctx, mb.ID, id.User)
	if err != nil {
		s.log.Error("sender check", "err", err)
		return nil, errAuthzTemp
	}
	switch {
	case acl.Allows(r, acl.OpSendAs):
		return &grant{kind: sendAs, addr: addr, mailbox: mb}, nil
	case acl.Allows(r, acl.OpSendOnBehalf):
		return &grant{kind: sendOnBehalf, addr: addr, mailbox: mb}, nil
	}
	return nil, refuse("You may not send as %s: you lack the send (or send-on-behalf) right on %s", addr, mb.Address)
}

func (s *Submitter) isExplicitAlias(ctx context.Context, addr string) (bool, error) {
	als, err := s.st.Aliases(ctx)
	if err != nil {
		return false, err
	}
	for _, a := range als {
		if a.Address == addr {
			return true, nil
		}
	}
	return false, nil
}

// HeaderCheck is the outcome of checking a message's From:/Sender:,
// for Deliver.
type HeaderCheck struct {
	shared       []*grant // shared mailboxes sent as (for Sent copy + audit)
	addSender    string   // Sender: to add (send-on-behalf without one)
	signDomain   string   // DKIM d=: the domain of the (first) From address
	messageID    string
	hasDate      bool
	hasMessageID bool
}

// checkHeader authorises the From: and Sender: fields of hdr (the raw
// header block) for id. The block is parsed once, by go-message, with the
// rules the DKIM signer and mail clients apply (a field name is compared
// case-insensitively, with blanks before the colon ignored), and a header
// those parsers could read differently is refused (see headerFields).
func (s *Submitter) CheckHeader(ctx context.Context, id Identity, hdr []byte) (*HeaderCheck, error) {
	return s.checkHeader(ctx, &id, hdr)
}

// SharedAddress is the shared mailbox the message is sent as ("" for
// none) and "send-as" or "send-on-behalf".
func (hc *HeaderCheck) SharedAddress() (addr, action string) {
	if len(hc.shared) == 0 {
		return "", ""
	}
	return hc.shared[0].mailbox.Address, hc.shared[0].action()
}

func (s *Submitter) checkHeader(ctx context.Context, id *Identity, hdr []byte) (*HeaderCheck, error) {
	h, err := headerFields(hdr)
	if err != nil {
		return nil, err
	}
	fromVals, senderVals := fieldValues(h, "From"), fieldValues(h, "Sender")
	if len(fromVals) > 1 {
		return nil, refuse("The message has %d From: header fields; send it with exactly one", len(fromVals))
	}
	if len(senderVals) > 1 {
		return nil, refuse("The message has %d Sender: header fields; send it with at most one", len(senderVals))
	}
	var froms []*mail.Address
	if len(fromVals) == 1 {
		froms, err = mail.ParseAddressList(fromVals[0])
	}
	if err != nil || len(froms) == 0 {
		return nil, errNeedFrom
	}
	res := &HeaderCheck{
		hasDate:      h.Get("Date") != "",
		hasMessageID: h.Get("Message-Id") != "",
		messageID:    strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>"),
	}
	onBehalf := false
	for i, f := range froms {
		addr, err := store.NormalizeAddress(f.Address)
		if err != nil {
			return nil, refuse("You may not send as %q: not a valid address", f.Address)
		}
		if i == 0 {
			res.signDomain = store.DomainOf(addr)
		}
		g, err := s.authorize(ctx, id, addr)
		if err != nil {
			return nil, err
		}
		if g.kind == sendOnBehalf {
			onBehalf = true
		}
		if g.mailbox != nil && !hasMailbox(res.shared, g.mailbox.ID) {
			res.shared = append(res.shared, g)
		}
	}
	if len(senderVals) == 1 {
		sa, err := mail.ParseAddress(senderVals[0])
		if err != nil {
			return nil, errBadSender
		}
		addr, err := store.NormalizeAddress(sa.Address)
		if err != nil {
			return nil, refuse("You may not use Sender: %q: not a valid address", sa.Address)
		}
		g, err := s.authorize(ctx, id, addr)
		if err != nil {
			if se, ok := err.(*Error); ok && se.Code == 550 {
				return nil, refuse("Sender: %s is not an address you may use (%s)", addr, se.Message)
			}
			return nil, err
		}
		if onBehalf && g.kind != sendOwn {
			return nil, refuse("Sending on behalf of %s requires Sender: to be your own address, not %s", froms[0].Address, addr)
		}
		if g.kind == sendOnBehalf {
			return nil, refuse("You may not use Sender: %s: you lack the send right on it", addr)
		}
	} else if onBehalf {
		res.addSender = id.User
	}
	return res, nil
}

func hasMailbox(gs []*grant, id uint64) bool {
	for _, g := range gs {
		if g.mailbox.ID == id {
			return true
		}
	}
	return false
}
