package imapd

import "sync"

// pooledBodyBuf is the capacity of a pooled body buffer.
const pooledBodyBuf = 64 << 10

// bodyBufs holds buffers for message bodies a FETCH reads whole
// (prepare): most messages are a few KiB, so a FETCH of a thousand
// bodies reuses a few buffers instead of allocating one per message.
// Larger bodies (up to maxSharedRead) get a buffer of their own, left to
// the collector, so the pool never pins more than small buffers, and
// sync.Pool drops idle ones at garbage collection. The zero value is
// ready to use.
type bodyBufs struct{ p sync.Pool }

// get returns an empty buffer with room for size bytes.
func (bb *bodyBufs) get(size int64) []byte {
	if size > pooledBodyBuf {
		return make([]byte, 0, size)
	}
	if b, ok := bb.p.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, pooledBodyBuf)
}

// put returns b (from get) for reuse.
func (bb *bodyBufs) put(b []byte) {
	if cap(b) != pooledBodyBuf {
		return
	}
	b = b[:0]
	bb.p.Put(&b)
}
