package pgkv

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"mailsrv/store/kv"
)

// Page sizes: a cursor that is only Seeked once reads little; one that
// walks a bucket reads ever larger pages.
const (
	firstPage = 32
	maxPage   = 512
)

// cursor walks a bucket one page of rows at a time. page is a contiguous
// run of the bucket's keys in ascending order as of the bucket's version
// ver; a write to the bucket makes the page stale, and the next move
// reads again from the current key.
type cursor struct {
	b     *bucket
	page  []row
	i     int // index of the current row in page
	ver   int
	head  bool // page starts at the bucket's first key
	tail  bool // page ends at the bucket's last key
	limit int
	state int
	key   []byte // the current key while state == onKey
	// gap: the current key was deleted through the cursor and removed from
	// page; i is the index of the row after it.
	gap bool
}

// cursor states
const (
	unset = iota
	onKey
	pastEnd
	beforeStart
)

type row struct {
	key, val []byte
	bucket   bool
}

var _ kv.Cursor = (*cursor)(nil)

func (b *bucket) cursor() *cursor { return &cursor{b: b, limit: firstPage} }

// fetch reads a page: forward from key (after it if strict; from the
// start if key is nil), or backward before key (from the end if nil).
func (c *cursor) fetch(forward, strict bool, key []byte) (k, v []byte) {
	c.page, c.state, c.gap = nil, unset, false
	if c.b.deleted {
		return nil, nil
	}
	var sql string
	args := []any{c.b.id, c.limit}
	switch {
	case forward && key == nil:
		sql = "SELECT key, value, child IS NOT NULL FROM kv_entry WHERE bucket = $1 ORDER BY key LIMIT $2"
	case forward:
		op := ">="
		if strict {
			op = ">"
		}
		sql = "SELECT key, value, child IS NOT NULL FROM kv_entry WHERE bucket = $1 AND key " + op + " $3 ORDER BY key LIMIT $2"
		args = append(args, key)
	case key == nil:
		sql = "SELECT key, value, child IS NOT NULL FROM kv_entry WHERE bucket = $1 ORDER BY key DESC LIMIT $2"
	default:
		sql = "SELECT key, value, child IS NOT NULL FROM kv_entry WHERE bucket = $1 AND key < $3 ORDER BY key DESC LIMIT $2"
		args = append(args, key)
	}
	var page []row
	err := c.b.tx.flush("cursor", &query{sql, args}, func(r pgx.Rows) error {
		var x row
		if err := r.Scan(&x.key, &x.val, &x.bucket); err != nil {
			return err
		}
		if x.bucket {
			x.val = nil
		} else if x.val == nil {
			x.val = []byte{}
		}
		page = append(page, x)
		return nil
	})
	if err != nil {
		return nil, nil
	}
	full := len(page) == c.limit
	if c.limit < maxPage {
		c.limit *= 2
	}
	c.ver = c.b.version
	if forward {
		c.page, c.i = page, 0
		c.head, c.tail = key == nil, !full
	} else {
		for l, r := 0, len(page)-1; l < r; l, r = l+1, r-1 {
			page[l], page[r] = page[r], page[l]
		}
		c.page, c.i = page, len(page)-1
		c.head, c.tail = !full, key == nil
	}
	if len(page) == 0 {
		if forward {
			c.state = pastEnd
		} else {
			c.state = beforeStart
		}
		return nil, nil
	}
	return c.current()
}

func (c *cursor) current() (k, v []byte) {
	x := c.page[c.i]
	c.state, c.key, c.gap = onKey, x.key, false
	return x.key, x.val
}

func (c *cursor) fresh() bool { return c.page != nil && c.ver == c.b.version }

func (c *cursor) First() (k, v []byte) { return c.fetch(true, false, nil) }
func (c *cursor) Last() (k, v []byte)  { return c.fetch(false, false, nil) }

func (c *cursor) Seek(key []byte) (k, v []byte) {
	return c.fetch(true, false, append([]byte(nil), key...))
}

func (c *cursor) Next() (k, v []byte) {
	switch c.state {
	case unset, beforeStart:
		return c.First()
	case pastEnd:
		return nil, nil
	}
	if c.fresh() && c.gap {
		if c.i < len(c.page) {
			return c.current()
		}
		c.i--
	}
	if c.fresh() {
		if c.i+1 < len(c.page) {
			c.i++
			return c.current()
		}
		if c.tail {
			c.state = pastEnd
			return nil, nil
		}
	}
	return c.fetch(true, true, c.key)
}

func (c *cursor) Prev() (k, v []byte) {
	switch c.state {
	case unset, pastEnd:
		return c.Last()
	case beforeStart:
		return nil, nil
	}
	if c.fresh() && c.gap {
		c.gap = false
	}
	if c.fresh() {
		if c.i > 0 {
			c.i--
			return c.current()
		}
		if c.head {
			c.state = beforeStart
			return nil, nil
		}
	}
	return c.fetch(false, true, c.key)
}

func (c *cursor) Delete() error {
	if c.state != onKey {
		return errors.New("pgkv: cursor delete: the cursor is not on a key")
	}
	if c.fresh() && c.page[c.i].bucket {
		return fmt.Errorf("pgkv: cursor delete %q: %w", c.key, kv.ErrIncompatibleValue)
	}
	fresh := c.fresh()
	if err := c.b.Delete(c.key); err != nil {
		return err
	}
	if fresh && !c.gap {
		// The page is still right without the deleted row.
		c.page = append(c.page[:c.i:c.i], c.page[c.i+1:]...)
		c.ver, c.gap = c.b.version, true
	}
	return nil
}
