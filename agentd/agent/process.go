package agent

import (
	"os"
	"runtime/debug"
)

// agentGCPercent is the collector's target for a process that runs an
// agent alone. An idle agent with a hundred pods keeps about 5 MiB live
// and allocates a little every resync and metrics tick: at Go's default
// of 100 its RSS was 52.0–56.2 MiB, at 50 47.9–50.4 MiB, at 25
// 46.7–47.8 MiB, idle CPU 0.27–0.37 % of a core throughout (BENCHMARKS.md,
// "100 pods on one node").
const agentGCPercent = 25

// TuneProcessGC sets the garbage collector for a process whose work is
// one agent (`gantry agent`), unless the GOGC environment variable has
// chosen already. A process that also runs the control plane (`gantry
// up`) keeps Go's default.
func TuneProcessGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(agentGCPercent)
	}
}
