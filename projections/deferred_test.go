package projections_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// TestDeferredFoldMatchesFoldingInTurn: a View folding a stream with its
// runs of edits deferred holds byte for byte what one folding every event
// as it comes holds, whether it is read (which applies the runs) along the
// way (one object's run, or every run) or only at the end, with objects
// deleted and created again between.
func TestDeferredFoldMatchesFoldingInTurn(t *testing.T) {
	g := newGenPlan(5)
	rng := rand.New(rand.NewPCG(5, 6))
	var events []bus.Envelope
	for seq := uint64(1); seq <= 20000; seq++ {
		var p planned
		if len(g.objects) > 10 && rng.IntN(50) == 0 { // delete one: a later create takes its entry again
			i := rng.IntN(len(g.objects))
			o := g.objects[i]
			g.objects = append(g.objects[:i], g.objects[i+1:]...)
			p = g.event(o, aggregates.Deleted, []byte(`{}`))
		} else {
			p = g.next()
		}
		e := p.env
		e.Seq, e.StreamSubject = seq, p.subject
		events = append(events, e)
	}
	for _, readEvery := range []int{0, 7, 1000} {
		v, inTurn := projections.NewView(nil), projections.NewView(nil)
		if err := projections.DeferEdits(v, true); err != nil {
			t.Fatal(err)
		}
		for i, e := range events {
			if err := inTurn.Fold(e); err != nil {
				t.Fatal(err)
			}
			data := bytes.Clone(e.Data)
			e.Data = data
			if err := v.Fold(e); err != nil {
				t.Fatal(err)
			}
			clear(data) // as the replay's reused message memory: the View keeps copies
			if readEvery > 0 && i%readEvery == 0 {
				o := g.objects[rng.IntN(len(g.objects))]
				got, _ := projections.Current(v, o.kind, o.ns, o.name) // applies this object's run only
				if readEvery == 1000 {
					got, _ = v.Get(o.kind, o.ns, o.name) // applies every run
				}
				want, _ := inTurn.Get(o.kind, o.ns, o.name)
				if got.Seq != want.Seq || !bytes.Equal(got.Raw, want.Raw) {
					t.Fatalf("%s/%s read after event %d:\ndeferred %s\nin turn  %s", o.ns, o.name, e.Seq, got.Raw, want.Raw)
				}
			}
		}
		if runs := projections.PendingRuns(v); readEvery == 0 && runs < 1000 {
			t.Fatalf("only %d objects have deferred edits: the test does not cover deferring", runs)
		}
		if err := projections.DeferEdits(v, false); err != nil {
			t.Fatal(err)
		}
		if v.Len() != inTurn.Len() {
			t.Fatalf("read every %d: %d objects, folding in turn %d", readEvery, v.Len(), inTurn.Len())
		}
		for _, kind := range []string{"pod", "deployment", "configmap"} {
			got, want := v.List(kind, ""), inTurn.List(kind, "")
			for i := range want {
				if got[i].Name != want[i].Name || got[i].Seq != want[i].Seq || !bytes.Equal(got[i].Raw, want[i].Raw) {
					t.Fatalf("read every %d: %s %s/%s at %d:\ndeferred %s\nin turn  %s", readEvery, kind, got[i].Namespace, got[i].Name, got[i].Seq, got[i].Raw, want[i].Raw)
				}
			}
		}
	}
}
