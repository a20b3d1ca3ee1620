package informer

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

func foldPod(t *testing.T, view *projections.View, seq uint64, name string) {
	t.Helper()
	raw, _ := json.Marshal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}})
	if err := view.Fold(bus.Envelope{Type: bus.EventType("pod", "created"), StreamSubject: bus.EventSubject("pod", "ns", name), Data: raw, Seq: seq}); err != nil {
		t.Fatal(err)
	}
}

// TestWaitSeeded: WaitSeeded returns once Run has handed on every object
// the view held at NewFeed, and at once for an empty view.
func TestWaitSeeded(t *testing.T) {
	if err := NewFeed(projections.NewView(nil), "pod").WaitSeeded(context.Background()); err != nil {
		t.Fatalf("empty seed: %v", err)
	}
	view := projections.NewView(nil)
	foldPod(t, view, 4, "a")
	foldPod(t, view, 9, "b")
	f := NewFeed(view, "pod")
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.WaitSeeded(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("seeded before Run: %v", err)
	}
	store := NewStore[corev1.Pod](nil)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go f.Run(ctx, func(c projections.Change) { store.Apply(c) })
	wait, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	if err := f.WaitSeeded(wait); err != nil {
		t.Fatal(err)
	}
	if store.Len() != 2 {
		t.Fatalf("seeded with %d of 2 objects in the store", store.Len())
	}
}

// TestFeedClosesWhenRunEnds: once Run returns the feed is off the view: a
// loop that stopped (its leadership ended) holds no changes, and the view
// calls it no more; another feed on the view still gets every change.
func TestFeedClosesWhenRunEnds(t *testing.T) {
	view := projections.NewView(nil)
	f, other := NewFeed(view, "pod"), NewFeed(view, "pod")
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { f.Run(ctx, func(projections.Change) {}); close(ran) }()
	stop()
	<-ran
	foldPod(t, view, 1, "a")
	if n := len(f.Take()); n != 0 {
		t.Fatalf("a closed feed buffered %d changes", n)
	}
	if got := other.Take(); len(got) != 1 || got[0].Name != "a" {
		t.Fatalf("the open feed took %v", got)
	}
	view.Watch(func(projections.Change) {})() // a stop of a watch that never saw a change
	foldPod(t, view, 2, "b")
	if got := other.Take(); len(got) != 1 || got[0].Name != "b" {
		t.Fatalf("the open feed, after another watch stopped, took %v", got)
	}
}
