package projections

// ArenaBytes is what the View's arena holds, for the benchmarks: the
// bytes of the objects, and the dead bytes beside them in the chunks that
// hold any.
func ArenaBytes(v *View) (live, dead int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	chunks := map[*chunk]bool{}
	for _, byKey := range v.objects {
		for _, e := range byKey {
			if e.chunk != nil {
				chunks[e.chunk] = true
			}
		}
	}
	for c := range chunks {
		live += c.live
		dead += len(c.buf) - c.live
	}
	return live, dead
}

// DeferEdits is View.deferEdits (on) or endDeferring (off), for the
// deferred fold's tests.
func DeferEdits(v *View, on bool) error {
	if on {
		v.deferEdits()
		return nil
	}
	return v.endDeferring()
}

// PendingRuns is how many objects have deferred edits.
func PendingRuns(v *View) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.pending)
}

// Current is View.current: Get applying that object's deferred run only.
func Current(v *View, kind, namespace, name string) (Entry, bool) {
	return v.current(kind, namespace, name)
}
