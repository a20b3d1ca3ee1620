package bus

import "sync"

// buffers lends the slices a message is written into before it is
// published. nats.go copies what it publishes, so a slice is free again
// once its publish or request returns; and one written before is likely
// still in the processor's cache, where freshly allocated memory is not.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// keepAtMost: a larger slice goes back to the heap, not the pool, so
// that one large message does not hold its size for good.
const keepAtMost = 64 << 10

func borrow() *[]byte { return buffers.Get().(*[]byte) }

func giveBack(b *[]byte) {
	if cap(*b) <= keepAtMost {
		*b = (*b)[:0]
		buffers.Put(b)
	}
}
