package projections

// The View keeps every object's JSON in chunks of chunkSize bytes, not in
// an allocation of its own. Objects kept one allocation each shared their
// size class's spans with the garbage of the same size that decoding and
// applying events makes, one kept for every one thrown away, and after a
// collection half of each span stood empty yet in use: 450 of the 650
// bytes a View held per object beyond its JSON (BENCHMARKS.md, memory).
// In chunks, nothing else shares their memory.
//
// A chunk is written front to back and never changed: an entry's Raw is a
// slice of it that readers may keep, and an object replaced or deleted
// leaves its bytes dead where they are. Once a chunk's live bytes fall
// below half of what it holds, its live objects move to the chunk being
// filled and the arena lets go of it (the collector frees it when no
// reader holds a slice of it any more). Moving costs at most one byte
// copied per byte freed; dead bytes never exceed the live ones (but in
// the chunk being filled). With
// updates spread evenly over the objects they were 37-38 % of them after
// 400,000 and 1,000,000 events, and the View held 580-620 bytes per object
// beyond its JSON where it held 2,500-2,700 without the arena (BENCHMARKS.md,
// projection rebuild). Moving at three quarters cost the fold more than
// the collector saved.

const (
	chunkSize = 256 << 10
	// Objects larger than this get an allocation of their own: a chunk
	// with one in it would move it whole to free little.
	chunkMaxObject = chunkSize / 8
)

type arena struct {
	cur *chunk
}

// chunk is part of an arena; held lists the entries whose JSON was
// written into it, some since replaced, deleted or moved.
type chunk struct {
	buf  []byte
	live int
	held []*Entry
}

// tail is where the next object goes: the free end of the chunk being
// filled, to append to (aggregates.AppendApply), then hand to keep.
func (a *arena) tail() []byte {
	if a.cur == nil {
		return nil
	}
	return a.cur.buf[len(a.cur.buf):len(a.cur.buf)]
}

// keep makes e hold raw, releasing what it held before: where raw is if
// it was appended to tail within its room, else a copy in the arena (or,
// if larger than chunkMaxObject, raw itself). nil: e holds nothing.
func (a *arena) keep(e *Entry, raw []byte) {
	old, oldLen := e.chunk, len(e.Raw)
	c := a.cur
	switch {
	case raw == nil:
		e.Raw, e.chunk = nil, nil
	case c != nil && len(raw) <= cap(c.buf)-len(c.buf) && &raw[0] == &c.buf[:len(c.buf)+1][len(c.buf)]:
		start := len(c.buf)
		c.buf = c.buf[:start+len(raw)]
		a.hold(e, c, start)
	case len(raw) > chunkMaxObject:
		e.Raw, e.chunk = raw[:len(raw):len(raw)], nil
	default:
		a.put(e, raw)
	}
	// Only now: moving the live objects out of the old chunk appends to
	// the current one, over the tail raw may have been written to.
	if old != nil {
		old.live -= oldLen
		a.compact(old)
	}
}

// put copies raw into the chunk being filled, starting another when it
// is full, and makes e hold it there.
func (a *arena) put(e *Entry, raw []byte) {
	var full *chunk
	if a.cur == nil || cap(a.cur.buf)-len(a.cur.buf) < len(raw) {
		full, a.cur = a.cur, &chunk{buf: make([]byte, 0, chunkSize)}
	}
	c := a.cur
	start := len(c.buf)
	c.buf = append(c.buf, raw...) // within its capacity: the chunk stays where it is
	a.hold(e, c, start)
	if full != nil {
		a.compact(full) // it may have died a lot while it was being filled
	}
}

// hold makes e hold c's bytes from start to its end.
func (a *arena) hold(e *Entry, c *chunk, start int) {
	e.Raw, e.chunk = c.buf[start:len(c.buf):len(c.buf)], c
	c.live += len(e.Raw)
	c.held = append(c.held, e)
}

// compact moves the live objects out of c, unless c is being filled or
// still mostly live.
func (a *arena) compact(c *chunk) {
	if c == a.cur || c.live*2 >= len(c.buf) {
		return
	}
	held := c.held
	c.held = nil
	for _, e := range held {
		if e.chunk == c { // still there: not replaced, deleted or moved since
			c.live -= len(e.Raw)
			a.put(e, e.Raw)
		}
	}
}
