// mailsrv patch: whole file
//
// SORT and THREAD (RFC 5256), SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267,
// SORT RETURN) for sessions implementing SessionSort / SessionThread.
// Upstream go-imap v2 has no server side for any of them.

package imapserver

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SortKey is one RFC 5256 / RFC 5957 sort key.
type SortKey string

const (
	SortArrival     SortKey = "ARRIVAL"
	SortCc          SortKey = "CC"
	SortDate        SortKey = "DATE"
	SortFrom        SortKey = "FROM"
	SortSize        SortKey = "SIZE"
	SortSubject     SortKey = "SUBJECT"
	SortTo          SortKey = "TO"
	SortDisplayFrom SortKey = "DISPLAYFROM"
	SortDisplayTo   SortKey = "DISPLAYTO"
)

// SortCriterion is a sort key, possibly REVERSE.
type SortCriterion struct {
	Key     SortKey
	Reverse bool
}

// SortOptions are the ESORT return options (RFC 5267); Extended is false
// for a plain SORT, answered by "* SORT".
type SortOptions struct {
	Extended bool
	Return   imap.SearchOptions
}

// SessionSort is a session that implements SORT. Sort returns the message
// numbers (sequence numbers or UIDs, per kind) matching criteria, in the
// order given by keys.
type SessionSort interface {
	Sort(kind NumKind, keys []SortCriterion, criteria *imap.SearchCriteria, options *SortOptions) ([]uint32, error)
}

// ThreadNode is one node of a thread tree; Num 0 is a placeholder for a
// message that is referenced but not in the result (RFC 5256 REFERENCES).
type ThreadNode struct {
	Num      uint32
	Children []ThreadNode
}

// SessionThread is a session that implements THREAD.
type SessionThread interface {
	ThreadAlgorithms() []imap.ThreadAlgorithm
	Thread(kind NumKind, alg imap.ThreadAlgorithm, criteria *imap.SearchCriteria) ([]ThreadNode, error)
}

// sortCaps lists SORT, SORT=DISPLAY, ESORT and THREAD= capabilities the
// session supports.
func (c *Conn) sortCaps() []imap.Cap {
	var caps []imap.Cap
	if _, ok := c.session.(SessionSort); ok {
		caps = append(caps, imap.CapSort, imap.CapSortDisplay, imap.CapESort)
	}
	if t, ok := c.session.(SessionThread); ok {
		for _, alg := range t.ThreadAlgorithms() {
			caps = append(caps, imap.Cap("THREAD="+string(alg)))
		}
	}
	return caps
}

func (c *Conn) handleSort(tag string, dec *imapwire.Decoder, numKind NumKind) error {
	var (
		keys    []SortCriterion
		options SortOptions
		atom    string
	)
	if !dec.ExpectSP() {
		return dec.Err()
	}
	if dec.Atom(&atom) {
		if !strings.EqualFold(atom, "RETURN") {
			return newClientBugError("expected RETURN or a sort criteria list")
		}
		if err := readSearchReturnOpts(dec, &options.Return); err != nil {
			return fmt.Errorf("in sort-return-opts: %w", err)
		}
		if !dec.ExpectSP() {
			return dec.Err()
		}
		options.Extended = true
	}
	reverse := false
	err := dec.ExpectList(func() error {
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		key := SortKey(strings.ToUpper(name))
		switch key {
		case "REVERSE":
			if reverse {
				return newClientBugError("REVERSE REVERSE in sort criteria")
			}
			reverse = true
			return nil
		case SortArrival, SortCc, SortDate, SortFrom, SortSize, SortSubject, SortTo, SortDisplayFrom, SortDisplayTo:
		default:
			return newClientBugError("unknown sort key " + name)
		}
		keys = append(keys, SortCriterion{Key: key, Reverse: reverse})
		reverse = false
		return nil
	})
	if err != nil {
		return err
	}
	if reverse || len(keys) == 0 {
		return newClientBugError("sort criteria must end with a sort key")
	}
	charset, criteria, err := readCharsetCriteria(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}
	if err := checkSortCharset(charset); err != nil {
		return err
	}
	session, ok := c.session.(SessionSort)
	if !ok {
		return newClientBugError("SORT is not supported")
	}
	o := &options.Return
	if !o.ReturnMin && !o.ReturnMax && !o.ReturnAll && !o.ReturnCount && !o.ReturnSave {
		o.ReturnAll = true
	}
	nums, err := session.Sort(numKind, keys, criteria, &options)
	if err != nil {
		return err
	}
	if options.Extended {
		return c.writeESort(tag, nums, o, numKind)
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("SORT")
	for _, n := range nums {
		enc.SP().Number(n)
	}
	return enc.CRLF()
}

// writeESort writes the ESEARCH response of SORT RETURN (RFC 5267 §3.2):
// MIN and MAX are the first and last message in sort order, ALL lists
// them in sort order.
func (c *Conn) writeESort(tag string, nums []uint32, o *imap.SearchOptions, numKind NumKind) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("ESEARCH").SP().Special('(').Atom("TAG").SP().String(tag).Special(')')
	if numKind == NumKindUID {
		enc.SP().Atom("UID")
	}
	if len(nums) > 0 {
		if o.ReturnMin {
			enc.SP().Atom("MIN").SP().Number(nums[0])
		}
		if o.ReturnMax {
			enc.SP().Atom("MAX").SP().Number(nums[len(nums)-1])
		}
		if o.ReturnAll {
			enc.SP().Atom("ALL").SP().Atom(orderedSet(nums))
		}
	}
	if o.ReturnCount {
		enc.SP().Atom("COUNT").SP().Number(uint32(len(nums)))
	}
	return enc.CRLF()
}

// orderedSet writes nums as a sequence-set that keeps their order: runs
// of consecutive ascending numbers become ranges.
func orderedSet(nums []uint32) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d", nums[i])
		if j > i {
			fmt.Fprintf(&b, ":%d", nums[j])
		}
		i = j + 1
	}
	return b.String()
}

func (c *Conn) handleThread(dec *imapwire.Decoder, numKind NumKind) error {
	var name string
	if !dec.ExpectSP() || !dec.ExpectAtom(&name) {
		return dec.Err()
	}
	alg := imap.ThreadAlgorithm(strings.ToUpper(name))
	charset, criteria, err := readCharsetCriteria(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}
	session, ok := c.session.(SessionThread)
	if !ok {
		return newClientBugError("THREAD is not supported")
	}
	known := false
	for _, a := range session.ThreadAlgorithms() {
		known = known || a == alg
	}
	if !known {
		return newClientBugError("unknown THREAD algorithm " + name)
	}
	if err := checkSortCharset(charset); err != nil {
		return err
	}
	threads, err := session.Thread(numKind, alg, criteria)
	if err != nil {
		return err
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("THREAD")
	if len(threads) > 0 {
		enc.SP()
	}
	for i := range threads {
		enc.Special('(')
		writeThreadNode(enc.Encoder, &threads[i])
		enc.Special(')')
	}
	return enc.CRLF()
}

// writeThreadNode writes a node and its descendants: a chain of single
// children as "1 2 3", several children as "1 (2)(3 4)" (RFC 5256 §4).
func writeThreadNode(enc *imapwire.Encoder, n *ThreadNode) {
	for {
		if n.Num == 0 && len(n.Children) == 1 {
			n = &n.Children[0]
			continue
		}
		if n.Num != 0 {
			enc.Number(n.Num)
		}
		switch len(n.Children) {
		case 0:
			return
		case 1:
			enc.SP()
			n = &n.Children[0]
			continue
		}
		if n.Num != 0 {
			enc.SP()
		}
		for i := range n.Children {
			enc.Special('(')
			writeThreadNode(enc, &n.Children[i])
			enc.Special(')')
		}
		return
	}
}

// readCharsetCriteria reads " charset search-key..." up to the CRLF.
func readCharsetCriteria(dec *imapwire.Decoder) (string, *imap.SearchCriteria, error) {
	var charset string
	if !dec.ExpectSP() || !dec.ExpectAString(&charset) || !dec.ExpectSP() {
		return "", nil, dec.Err()
	}
	var criteria imap.SearchCriteria
	for {
		if err := readSearchKey(&criteria, dec); err != nil {
			return "", nil, fmt.Errorf("in search-key: %w", err)
		}
		if !dec.SP() {
			break
		}
	}
	if !dec.ExpectCRLF() {
		return "", nil, dec.Err()
	}
	return charset, &criteria, nil
}

func checkSortCharset(charset string) error {
	switch strings.ToUpper(charset) {
	case "US-ASCII", "UTF-8":
		return nil
	}
	return &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: "BADCHARSET (US-ASCII UTF-8)",
		Text: "Only US-ASCII and UTF-8 are supported charsets",
	}
}
