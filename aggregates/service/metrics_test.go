package service_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/aggregates/service"
)

// TestCommandsCountedByResult: every answered command is counted under
// its kind, verb, result and reason, each combination apart, however
// often it comes.
func TestCommandsCountedByResult(t *testing.T) {
	m := service.NewMetrics(prometheus.NewRegistry())
	p := startAllocPlane(t, service.AllocConfig{})
	p.metrics = m
	p.restartService(t)
	cm := aggregates.Command{Namespace: "default", Name: "app", Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"app"},"data":{"a":"b"}}`)}
	for range 3 {
		_, _ = p.do("configmap", "create", cm) // accepted, then AlreadyExists twice
	}
	bad := aggregates.Command{Namespace: "default", Name: "bad", Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad"},"data":{"no spaces":"b"}}`)}
	_, _ = p.do("configmap", "create", bad) // Invalid: the same kind, verb and result, another reason
	v := "x"
	for range 2 {
		_, _ = p.do("configmap", "label", aggregates.Command{Namespace: "default", Name: "app", Labels: map[string]*string{"tier": &v}}) // accepted, then unchanged
	}
	_, _ = p.do("configmap", "label", aggregates.Command{Namespace: "default", Name: "none", Labels: map[string]*string{"tier": &v}}) // NotFound
	want := map[[4]string]float64{
		{"configmap", "create", "accepted", ""}:              1,
		{"configmap", "create", "rejected", "AlreadyExists"}: 2,
		{"configmap", "create", "rejected", "Invalid"}:       1,
		{"configmap", "label", "accepted", ""}:               1,
		{"configmap", "label", "unchanged", ""}:              1,
		{"configmap", "label", "rejected", "NotFound"}:       1,
		{"namespace", "label", "rejected", "NotFound"}:       1, // restartService's probe
	}
	deadline := time.Now().Add(10 * time.Second) // counted once the answer is out
	for {
		wrong := ""
		for l, n := range want {
			if got := testutil.ToFloat64(m.Commands.WithLabelValues(l[:]...)); got != n {
				wrong = l[0] + " " + l[1] + " " + l[2] + " " + l[3]
				if time.Now().After(deadline) {
					t.Fatalf("%s: counted %v, want %v", wrong, got, n)
				}
			}
		}
		if wrong == "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := testutil.CollectAndCount(m.Commands); n != len(want) {
		t.Errorf("%d label combinations counted, want %d", n, len(want))
	}
}
