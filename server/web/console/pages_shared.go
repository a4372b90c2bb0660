package console

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailsrv/server/admin"
	"mailsrv/store"
)

// Presets are the delegate permissions the console offers by name, as
// the hosted suites do; "custom" picks rights one by one.
var presets = []struct{ Label, Rights string }{
	{"Read", "read"},
	{"Read and manage", "read,manage"},
	{"Send as", "send"},
	{"Send on behalf", "send-on-behalf"},
}

// presetLabel names a rights string by its preset, or shows it as is.
func presetLabel(rights string) string {
	for _, p := range presets {
		if p.Rights == rights {
			return p.Label
		}
	}
	return rights
}

// membersPerPage pages the delegate list (up to 200 members).
const membersPerPage = 25

type sharedDetailView struct {
	Info      admin.SharedInfo
	Members   []admin.MemberInfo // this page, after the filter
	Matching  int
	Q         string
	Page      int
	Pages     int
	PrevPage  int
	NextPage  int
	Presets   any
	CanManage bool // rename, remove, reassign, backup (an admin role, not only ownership)
}

func (c *Console) loadSharedDetail(r *http.Request, cl caller) (any, error) {
	addr := r.PathValue("addr")
	v := sharedDetailView{Presets: presets, Q: strings.TrimSpace(r.URL.Query().Get("q"))}
	if err := c.get(r.Context(), cl, "shared.show", map[string]string{"address": addr}, &v.Info); err != nil {
		return nil, err
	}
	v.CanManage = c.policy.allow(r.Context(), cl, "shared.rename", nil) == nil
	var match []admin.MemberInfo
	q := strings.ToLower(v.Q)
	for _, m := range v.Info.Members {
		if q == "" || strings.Contains(strings.ToLower(m.Member), q) || strings.Contains(strings.ToLower(presetLabel(m.Rights)), q) {
			match = append(match, m)
		}
	}
	v.Matching = len(match)
	v.Pages = max(1, int(math.Ceil(float64(len(match))/membersPerPage)))
	v.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	v.Page = min(max(v.Page, 1), v.Pages)
	lo := (v.Page - 1) * membersPerPage
	v.Members = match[lo:min(lo+membersPerPage, len(match))]
	if v.Page > 1 {
		v.PrevPage = v.Page - 1
	}
	if v.Page < v.Pages {
		v.NextPage = v.Page + 1
	}
	return v, nil
}

// auditPerPage bounds one audit page; filters narrow it down.
const auditPerPage = 200

type auditView struct {
	Address         string
	Entries         []store.AuditEntry
	Member, Action  string
	Members         []string
	Actions         []string
	Total, Filtered int
}

func (c *Console) loadAudit(r *http.Request, cl caller) (any, error) {
	addr := r.PathValue("addr")
	q := r.URL.Query()
	v := auditView{Address: addr, Member: strings.TrimSpace(q.Get("member")), Action: strings.TrimSpace(q.Get("action"))}
	var log []store.AuditEntry
	if err := c.get(r.Context(), cl, "shared.audit", map[string]string{"address": addr}, &log); err != nil {
		return v, err
	}
	v.Total = len(log)
	for i := len(log) - 1; i >= 0; i-- { // newest first
		e := log[i]
		if !slices.Contains(v.Members, e.Actor) {
			v.Members = append(v.Members, e.Actor)
		}
		if !slices.Contains(v.Actions, e.Action) {
			v.Actions = append(v.Actions, e.Action)
		}
		if (v.Member == "" || strings.EqualFold(e.Actor, v.Member)) && (v.Action == "" || e.Action == v.Action) {
			v.Filtered++
			if len(v.Entries) < auditPerPage {
				v.Entries = append(v.Entries, e)
			}
		}
	}
	slices.Sort(v.Members)
	slices.Sort(v.Actions)
	return v, nil
}

type trashRow struct {
	admin.TrashInfo
	DaysLeft int
}

type trashView struct {
	Items    []trashRow
	CanPurge bool // purge everything past retention: postmaster only
}

func (c *Console) loadTrash(r *http.Request, cl caller) (any, error) {
	var items []admin.TrashInfo
	if err := c.get(r.Context(), cl, "trash.list", struct{}{}, &items); err != nil {
		return nil, err
	}
	v := trashView{CanPurge: cl.has(RolePostmaster)}
	now := c.opts.Now()
	for _, it := range items {
		days := int(math.Ceil(it.PurgeAfter.Sub(now).Hours() / 24))
		v.Items = append(v.Items, trashRow{TrashInfo: it, DaysLeft: max(days, 0)})
	}
	return v, nil
}

func (c *Console) loadQueue(r *http.Request, cl caller) (any, error) {
	var items []admin.QueueInfo
	err := c.get(r.Context(), cl, "queue.list", struct{}{}, &items)
	return items, err
}

type adminsView struct {
	Grants []admin.RoleInfo
	Roles  []string
	Now    time.Time
}

func (c *Console) loadAdmins(r *http.Request, cl caller) (any, error) {
	v := adminsView{Roles: []string{RolePostmaster, RoleUsers, RoleShared}}
	err := c.get(r.Context(), cl, "admin.list", struct{}{}, &v.Grants)
	return v, err
}
