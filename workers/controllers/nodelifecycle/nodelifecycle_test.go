package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func readyNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(t0),
		}}},
	}
}

func pod(name string, tols ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "n1", Tolerations: tols}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
}

func seconds(s int64) *int64 { return &s }

func env(at time.Time) Env { return Env{Now: at, Config: DefaultConfig()} }

// apply plays the result back onto the node, as the command would.
func apply(n *corev1.Node, r Result) {
	if r.Ready != nil {
		n.Status.Conditions[0] = *r.Ready
	}
	if r.TaintsChanged {
		n.Spec.Taints = r.Taints
	}
}

func TestLeaseExpiry(t *testing.T) {
	tests := []struct {
		name        string
		sinceBeat   time.Duration
		wantUnknown bool
	}{
		{"fresh heartbeat", 10 * time.Second, false},
		{"just inside grace", 39 * time.Second, false},
		{"grace passed", 41 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Reconcile(readyNode(), t0, nil, env(t0.Add(tt.sinceBeat)))
			if got := res.Ready != nil && res.Ready.Status == corev1.ConditionUnknown; got != tt.wantUnknown {
				t.Fatalf("unknown=%v, want %v (%+v)", got, tt.wantUnknown, res)
			}
			if tt.wantUnknown && !hasTaint(res.Taints, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) {
				t.Fatalf("want unreachable NoExecute taint, got %v", res.Taints)
			}
			if !tt.wantUnknown && (res.TaintsChanged || res.RequeueAfter <= 0) {
				t.Fatalf("healthy node: want no taints and a requeue at grace expiry, got %+v", res)
			}
		})
	}
}

func TestEvictionAfterTolerationSeconds(t *testing.T) {
	node := readyNode()
	pods := []*corev1.Pod{
		pod("default-300s"),
		pod("short", corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds(60)}),
		pod("forever", corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}),
	}
	down := t0.Add(time.Minute)
	apply(node, Reconcile(node, t0, pods, env(down)))
	tests := []struct {
		name  string
		after time.Duration
		want  []string
	}{
		{"at taint time", 0, nil},
		{"after 61s", 61 * time.Second, []string{"short"}},
		{"after 301s", 301 * time.Second, []string{"default-300s", "short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Reconcile(node, t0, pods, env(down.Add(tt.after)))
			var got []string
			for _, p := range res.Evict {
				got = append(got, p.Name)
			}
			if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
				t.Fatalf("evicted %v, want %v", got, tt.want)
			}
			if res.TaintsChanged {
				t.Fatal("taints must keep their timeAdded once set")
			}
		})
	}
}

func TestUntoleratedNoExecuteEvictsAtOnce(t *testing.T) {
	node := readyNode()
	node.Spec.Taints = []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: t0}}}
	res := Reconcile(node, t0, []*corev1.Pod{pod("p")}, env(t0.Add(time.Second)))
	if len(res.Evict) != 1 {
		t.Fatalf("want p evicted, got %+v", res)
	}
}

func TestRecoveryRemovesTaints(t *testing.T) {
	node := readyNode()
	apply(node, Reconcile(node, t0, nil, env(t0.Add(time.Minute))))
	node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: "dedicated", Value: "infra", Effect: corev1.TaintEffectNoSchedule})
	node.Status.Conditions[0].Status = corev1.ConditionTrue // the agent reported again
	res := Reconcile(node, t0.Add(2*time.Minute), nil, env(t0.Add(2*time.Minute)))
	if !res.TaintsChanged || len(res.Taints) != 1 || res.Taints[0].Key != "dedicated" {
		t.Fatalf("want only the user taint left, got %+v", res.Taints)
	}
}

func hasTaint(ts []corev1.Taint, key string, effect corev1.TaintEffect) bool {
	for _, t := range ts {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}
