package projections

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestRelaxGCRestoresAfterTheLast: overlapping catch-ups run at
// CatchUpGCPercent until the last one ends, then the setting from before
// is back.
func TestRelaxGCRestoresAfterTheLast(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set: relaxGC leaves the collector alone")
	}
	gcPercent := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }
	defer debug.SetGCPercent(debug.SetGCPercent(70))
	first := relaxGC()
	second := relaxGC()
	if got := gcPercent(); got != CatchUpGCPercent {
		t.Fatalf("during catch-up GOGC %d, want %d", got, CatchUpGCPercent)
	}
	first()
	if got := gcPercent(); got != CatchUpGCPercent {
		t.Fatalf("one catch-up still running: GOGC %d, want %d", got, CatchUpGCPercent)
	}
	second()
	if got := gcPercent(); got != 70 {
		t.Fatalf("after the last catch-up GOGC %d, want 70 as before", got)
	}
}
