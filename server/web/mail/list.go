package mail

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// maxSearchResults bounds a search answer.
const maxSearchResults = 200

// searchChunk is how many messages a search loads at a time.
const searchChunk = 500

// Summary is one message of a list.
type Summary struct {
	UID      uint32    `json:"uid"`
	Date     time.Time `json:"date"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Subject  string    `json:"subject"`
	Size     int64     `json:"size"`
	Seen     bool      `json:"seen"`
	Flagged  bool      `json:"flagged"`
	Answered bool      `json:"answered"`
	// Assignee ($Assigned:<member>) and Done ($Done) are the team
	// keywords of a shared mailbox (team.go).
	Assignee string `json:"assignee,omitempty"`
	Done     bool   `json:"done,omitempty"`
}

// List is the answer of /messages and /search.
type List struct {
	Folder   string    `json:"folder"`
	Total    int       `json:"total"`
	Page     int       `json:"page"`
	Pages    int       `json:"pages"`
	Messages []Summary `json:"messages"`
}

func summary(m *store.Message) Summary {
	s := Summary{UID: m.UID, Date: m.InternalDate, Size: m.Size,
		Seen: hasFlag(m.Flags, `\Seen`), Flagged: hasFlag(m.Flags, `\Flagged`), Answered: hasFlag(m.Flags, `\Answered`),
		Assignee: store.Assignee(m.Flags), Done: hasFlag(m.Flags, store.FlagDone)}
	if e := m.Envelope; e != nil {
		if !e.Date.IsZero() {
			s.Date = e.Date
		}
		s.Subject = e.Subject
		s.From = addrList(e.From)
		s.To = addrList(e.To)
	}
	return s
}

func hasFlag(flags []string, f string) bool {
	return slices.ContainsFunc(flags, func(x string) bool { return strings.EqualFold(x, f) })
}

// addrList shows addresses as "Name <addr>, ...".
func addrList(l []store.Address) string {
	parts := make([]string, 0, len(l))
	for _, a := range l {
		if a.Name != "" {
			parts = append(parts, a.Name+" <"+a.Addr()+">")
		} else {
			parts = append(parts, a.Addr())
		}
	}
	return strings.Join(parts, ", ")
}

// apiMessages pages through a folder newest first. It reads the folder's
// UIDs (keys of the compact flags bucket) and the cached envelopes of one
// page only, so a 100,000-message folder opens as fast as a small one.
// UID order is arrival order; each page is then ordered by date.
func (m *Mail) apiMessages(q *request) (any, error) {
	a, err := m.account(q, acl.OpRead)
	if err != nil {
		return nil, err
	}
	f, err := m.folder(q.r.Context(), a, q.r.URL.Query().Get("folder"))
	if err != nil {
		return nil, err
	}
	page, _ := strconv.Atoi(q.r.URL.Query().Get("page"))
	uids, err := m.st.FolderUIDs(q.r.Context(), f.ID)
	if err != nil {
		return nil, err
	}
	l := List{Folder: f.Name, Total: len(uids), Page: max(page, 0), Pages: (len(uids) + pageSize - 1) / pageSize}
	hi := len(uids) - l.Page*pageSize
	lo := max(hi-pageSize, 0)
	var pick []uint32
	if hi > 0 {
		pick = slices.Clone(uids[lo:hi])
		slices.Reverse(pick)
	}
	msgs, err := m.st.MessagesAs(q.r.Context(), f.ID, pick, m.viewer(q, f))
	if err != nil {
		return nil, err
	}
	l.Messages = summaries(msgs)
	return l, nil
}

func summaries(msgs []store.Message) []Summary {
	out := make([]Summary, 0, len(msgs))
	for i := range msgs {
		out = append(out, summary(&msgs[i]))
	}
	slices.SortStableFunc(out, func(x, y Summary) int { return y.Date.Compare(x.Date) })
	return out
}

// searchCriteria is what the search box means: the text in From, To,
// Subject or the body, as IMAP's OR FROM t OR TO t OR SUBJECT t BODY t.
func searchCriteria(text string) *imap.SearchCriteria {
	hdr := func(k string) imap.SearchCriteria {
		return imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: k, Value: text}}}
	}
	body := imap.SearchCriteria{Body: []string{text}}
	return &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{
		hdr("From"),
		{Or: [][2]imap.SearchCriteria{{hdr("To"), {Or: [][2]imap.SearchCriteria{{hdr("Subject"), body}}}}}},
	}}}
}

// apiSearch runs IMAP SEARCH's matcher (server/mailsearch) over the
// folder, newest first, until it has maxSearchResults matches.
func (m *Mail) apiSearch(q *request) (any, error) {
	a, err := m.account(q, acl.OpRead)
	if err != nil {
		return nil, err
	}
	f, err := m.folder(q.r.Context(), a, q.r.URL.Query().Get("folder"))
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(q.r.URL.Query().Get("q"))
	if text == "" {
		return nil, errorf(http.StatusBadRequest, "type something to search for")
	}
	uids, err := m.st.FolderUIDs(q.r.Context(), f.ID)
	if err != nil {
		return nil, err
	}
	slices.Reverse(uids)
	c := searchCriteria(text)
	viewer := m.viewer(q, f)
	var found []store.Message
	for start := 0; start < len(uids) && len(found) < maxSearchResults; start += searchChunk {
		if err := q.r.Context().Err(); err != nil {
			return nil, err
		}
		msgs, err := m.st.MessagesAs(q.r.Context(), f.ID, uids[start:min(start+searchChunk, len(uids))], viewer)
		if err != nil {
			return nil, err
		}
		for i := range msgs {
			if m.search.Match(q.r.Context(), c, &msgs[i], 0) {
				found = append(found, msgs[i])
				if len(found) == maxSearchResults {
					break
				}
			}
		}
	}
	return List{Folder: f.Name, Total: len(found), Pages: 1, Messages: summaries(found)}, nil
}
