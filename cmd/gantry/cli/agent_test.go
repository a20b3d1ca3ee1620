package cli

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestAgentFlags(t *testing.T) {
	o := agentOptions{nodeName: "n1", labels: "zone=a, tier=edge", taints: "gpu=true:NoSchedule,dedicated:NoExecute", clusterDNS: "10.96.0.10"}
	cfg, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Labels["zone"] != "a" || cfg.Labels["tier"] != "edge" || len(cfg.ClusterDNS) != 1 {
		t.Fatalf("config: %+v", cfg)
	}
	want := []corev1.Taint{{Key: "gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}, {Key: "dedicated", Effect: corev1.TaintEffectNoExecute}}
	if len(cfg.Taints) != 2 || cfg.Taints[0] != want[0] || cfg.Taints[1] != want[1] {
		t.Fatalf("taints = %+v", cfg.Taints)
	}
	for _, bad := range []agentOptions{{nodeName: "n", labels: "novalue"}, {nodeName: "n", taints: "k=v:Sometimes"}, {nodeName: "n", taints: "k=v"}} {
		if _, err := bad.config(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if ns := containerdNamespace("Node_1.example"); ns != "gantry-node-1.example" {
		t.Errorf("namespace %q", ns)
	}
}
