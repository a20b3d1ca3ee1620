package owned

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// fold adds obj to view as its created event with sequence seq.
func fold(t *testing.T, view *projections.View, seq uint64, kind string, obj metav1.Object) {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	err = view.Fold(bus.Envelope{Type: bus.EventType(kind, "created"), StreamSubject: bus.EventSubject(kind, obj.GetNamespace(), obj.GetName()), Data: raw, Seq: seq})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunReconcilesOnTheWholeSeed: no owner is reconciled before the
// stores hold every object the view held at New. The feed is held between
// the owner and its children (by the extra kind's Observe) for as long as
// a worker might take to reconcile: a worker started before the seed was
// folded saw a ReplicaSet without its pods and, after every restart,
// created pods that existed and reported a status that was not so.
func TestRunReconcilesOnTheWholeSeed(t *testing.T) {
	view := projections.NewView(nil)
	fold(t, view, 1, "replicaset", rs("a", "uid-a"))
	fold(t, view, 2, "node", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	for i, name := range []string{"a-1", "a-2", "a-3"} {
		fold(t, view, uint64(3+i), "pod", pod(name, "a", controller("ReplicaSet", "uid-a")))
	}
	reconciling := make(chan struct{}, 1)
	l := New(view, Config[appsv1.ReplicaSet, corev1.Pod]{
		Owner: "replicaset", Child: "pod", Controller: "ReplicaSet",
		Extra: []string{"node"},
		Observe: func(projections.Change) {
			select { // until a worker reconciles, if one may
			case <-reconciling:
			case <-time.After(200 * time.Millisecond):
			}
		},
	})
	seen := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = l.Run(ctx, func(_ context.Context, key string) error {
			select {
			case reconciling <- struct{}{}:
			default:
			}
			select {
			case seen <- len(l.ChildrenOf(l.Owners.Get(key))):
			default:
			}
			return nil
		})
	}()
	select {
	case n := <-seen:
		if n != 3 {
			t.Fatalf("the first reconcile saw %d of the ReplicaSet's 3 pods", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reconcile")
	}
}
