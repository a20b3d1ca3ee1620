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
