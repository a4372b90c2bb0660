package mailsearch

import (
	"container/list"
	"sync"
)

// textCache keeps the decoded, lowercased body text (search_text.go) of
// recently searched messages, keyed by blob: SEARCH BODY/TEXT over a
// folder used to decode every message again at every search (issue 12
// #4). Blobs never change, so an entry never goes stale; the cache is
// bounded in bytes and drops the least recently used entries.
type textCache struct {
	max int

	mu    sync.Mutex
	size  int
	order *list.List // of *textEntry, most recent first
	byKey map[string]*list.Element
}

type textEntry struct {
	key, text string
}

const (
	textCacheBytes    = 32 << 20
	textCacheMaxEntry = 4 << 20 // larger texts are not kept
)

func newTextCache(max int) *textCache {
	return &textCache{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *textCache) get(key string) (string, bool) {
	if c == nil || key == "" {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(el)
	return el.Value.(*textEntry).text, true
}

func (c *textCache) put(key, text string) {
	if c == nil || key == "" || len(text) > textCacheMaxEntry || len(text) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok {
		return
	}
	c.byKey[key] = c.order.PushFront(&textEntry{key: key, text: text})
	c.size += len(text)
	for c.size > c.max {
		el := c.order.Back()
		e := el.Value.(*textEntry)
		c.order.Remove(el)
		delete(c.byKey, e.key)
		c.size -= len(e.text)
	}
}
