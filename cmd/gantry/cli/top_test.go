package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/bus"
)

func TestTopPodsTable(t *testing.T) {
	var out, errOut bytes.Buffer
	g := &globals{out: &out, err: &errOut}
	nodes := []bus.NodeUsage{{Node: "n1", Pods: []bus.PodUsage{
		{Namespace: "shop", Name: "web", Containers: []bus.ContainerUsage{{CPUMillicores: 200, MemoryBytes: 48 << 20}, {CPUMillicores: 50, MemoryBytes: 16 << 20}}},
		{Namespace: "other", Name: "db", Containers: []bus.ContainerUsage{{CPUMillicores: 10}}},
	}}}
	if err := printTopPods(g, nodes, "shop"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "web    250m         64Mi") || strings.Contains(out.String(), "db") {
		t.Fatalf("top pods -n shop:\n%s", out.String())
	}
	out.Reset()
	if err := printTopPods(g, nodes, ""); err != nil || !strings.Contains(out.String(), "NAMESPACE") || !strings.Contains(out.String(), "db") {
		t.Fatalf("top pods -A:\n%s %v", out.String(), err)
	}
}
