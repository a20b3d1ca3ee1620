package agent

import "time"

// Backoff is the restart back-off of crashing containers and failing image
// pulls: Base, doubling after each failure up to Max, back to Base once a
// container has run for Reset.
type Backoff struct {
	Base  time.Duration // 10s
	Max   time.Duration // 5m
	Reset time.Duration // 10m
}

func (b Backoff) withDefaults() Backoff {
	b.Base = orDefault(b.Base, 10*time.Second)
	b.Max = orDefault(b.Max, 5*time.Minute)
	b.Reset = orDefault(b.Reset, 10*time.Minute)
	return b
}

// Next is the delay before the next restart, given the delay before the
// last one (0: none yet) and how long the container ran this time.
func (b Backoff) Next(prev, ran time.Duration) time.Duration {
	if prev == 0 || ran >= b.Reset {
		return b.Base
	}
	return min(prev*2, b.Max)
}
