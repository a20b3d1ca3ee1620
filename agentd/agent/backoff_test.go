package agent

import (
	"testing"
	"time"
)

func TestBackoffDoublesCapsAndResets(t *testing.T) {
	b := Backoff{}.withDefaults()
	var got []time.Duration
	d := time.Duration(0)
	for i := 0; i < 8; i++ {
		d = b.Next(d, time.Second)
		got = append(got, d)
	}
	want := []time.Duration{10, 20, 40, 80, 160, 300, 300, 300}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("delay %d = %s, want %ds (all: %v)", i, got[i], want[i], got)
		}
	}
	if d := b.Next(300*time.Second, 10*time.Minute); d != 10*time.Second {
		t.Fatalf("after 10 minutes running the delay is %s, want the base 10s", d)
	}
	if d := b.Next(40*time.Second, 9*time.Minute); d != 80*time.Second {
		t.Fatalf("after 9 minutes running the delay is %s, want 80s", d)
	}
}
