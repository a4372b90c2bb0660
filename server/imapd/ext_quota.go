package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/store"
)

// QUOTA (RFC 9208) over store.Quota. Each account and each shared
// mailbox is one quota root, named by its address; every folder of it
// (for a member: Shared/<address>/…) has that root. A root is listed only
// when it has a limit (RFC 9208's QUOTA answer needs at least one
// resource): STORAGE in KiB (rounded up) and MESSAGE when a message limit
// is set. SETQUOTA is refused: admins use `mailsrv quota set`.
// STATUS (SIZE) sums the same folder records, so it agrees with usage.

// quotaRoot resolves a root name (an address the user may read) to its
// mailbox.
func (s *session) quotaRoot(root string) (*store.Mailbox, error) {
	addr, err := store.NormalizeAddress(root)
	if err != nil {
		return nil, errNoSuchQuotaRoot
	}
	if addr == s.root.Address {
		if _, err := s.rootRights(); err != nil {
			return nil, err
		}
		return s.root, nil
	}
	t, err := s.resolve(sharedPrefix + addr + "/INBOX")
	if err != nil || t.mb.Address != addr {
		return nil, errNoSuchQuotaRoot
	}
	return t.mb, nil
}

var errNoSuchQuotaRoot = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such quota root"}

func quotaResources(q store.Quota) []imapserver.QuotaResource {
	var out []imapserver.QuotaResource
	if q.LimitBytes > 0 {
		out = append(out, imapserver.QuotaResource{Name: imap.QuotaResourceStorage, Usage: (q.Bytes + 1023) / 1024, Limit: (q.LimitBytes + 1023) / 1024})
	}
	if q.LimitMessages > 0 {
		out = append(out, imapserver.QuotaResource{Name: imap.QuotaResourceMessage, Usage: q.Messages, Limit: q.LimitMessages})
	}
	return out
}

func (s *session) GetQuota(root string) ([]imapserver.QuotaResource, error) {
	mb, err := s.quotaRoot(root)
	if err != nil {
		return nil, err
	}
	q, err := s.srv.st.QuotaOf(s.ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	res := quotaResources(q)
	if len(res) == 0 {
		return nil, errNoSuchQuotaRoot // unlimited: no root (RFC 9208 §4.2.1)
	}
	return res, nil
}

func (s *session) GetQuotaRoot(mailbox string) ([]string, error) {
	name := canonicalName(mailbox)
	t, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	if _, err := s.srv.st.GetFolder(s.ctx, t.mb.ID, t.folder); err != nil {
		return nil, mapStoreErr(err)
	}
	q, err := s.srv.st.QuotaOf(s.ctx, t.mb.ID)
	if err != nil {
		return nil, err
	}
	if len(quotaResources(q)) == 0 {
		return nil, nil
	}
	return []string{t.mb.Address}, nil
}

func (s *session) SetQuota(root string, _ map[imap.QuotaResourceType]int64) error {
	return noPerm("quotas are set by an admin with `mailsrv quota set " + strings.TrimSpace(root) + " SIZE`")
}
