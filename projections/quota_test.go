package projections_test

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/projections"
)

func podWithCPU(name, cpu string) []byte {
	res := ""
	if cpu != "" {
		res = `,"resources":{"requests":{"cpu":"` + cpu + `"}}`
	}
	return []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"busybox:1"` + res + `}]}}`)
}

// TestQuotaEnforcedAtCommandTime: a create that would exceed a quota is
// refused with the quota's name and what would be exceeded; deleting
// frees the room; usage that existed before the quota counts.
func TestQuotaEnforcedAtCommandTime(t *testing.T) {
	c := startCluster(t, 1)
	c.createNamespace(t, "team")
	c.mustDo(t, "pod", "create", aggregates.Command{Namespace: "team", Name: "early", Object: podWithCPU("early", "200m")})
	c.list(t, projections.ListRequest{Kind: "pod", Namespace: "team"}) // the state bucket has caught up
	c.mustDo(t, "resourcequota", "create", aggregates.Command{Namespace: "team", Name: "compute", Object: []byte(
		`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"compute"},"spec":{"hard":{"pods":"3","requests.cpu":"1","count/deployments.apps":"0"}}}`)})

	c.mustDo(t, "pod", "create", aggregates.Command{Namespace: "team", Name: "a", Object: podWithCPU("a", "600m")})
	_, err := c.do(t, "pod", "create", aggregates.Command{Namespace: "team", Name: "b", Object: podWithCPU("b", "300m")})
	want := `pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=300m, used: requests.cpu=800m, limited: requests.cpu=1`
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant %q", err, want)
	}
	_, err = c.do(t, "deployment", "create", aggregates.Command{Namespace: "team", Name: "web", Object: []byte(webDeployment)})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "count/deployments.apps=1") {
		t.Fatalf("deployment count quota: %v", err)
	}
	c.mustDo(t, "pod", "delete", aggregates.Command{Namespace: "team", Name: "a"})
	c.mustDo(t, "pod", "create", aggregates.Command{Namespace: "team", Name: "b", Object: podWithCPU("b", "300m")})

	q := c.list(t, projections.ListRequest{Kind: "quota", Namespace: "team", Name: "compute"})
	var quota corev1.ResourceQuota
	if err := json.Unmarshal(q.Items[0], &quota); err != nil {
		t.Fatal(err)
	}
	if used := quota.Status.Used[corev1.ResourceName("requests.cpu")]; used.String() != "500m" {
		t.Errorf("used requests.cpu = %s, want 500m (early 200m + b 300m)", used.String())
	}
	if used := quota.Status.Used[corev1.ResourcePods]; used.String() != "2" {
		t.Errorf("used pods = %s, want 2", used.String())
	}
}

// TestLimitRangeDefaultsAndBounds: a pod without resources gets the
// LimitRange's defaults; one over its max is refused naming the range.
func TestLimitRangeDefaultsAndBounds(t *testing.T) {
	c := startCluster(t, 1)
	c.createNamespace(t, "team")
	c.mustDo(t, "limitrange", "create", aggregates.Command{Namespace: "team", Name: "defaults", Object: []byte(
		`{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"defaults"},"spec":{"limits":[{"type":"Container","default":{"cpu":"500m"},"defaultRequest":{"cpu":"100m"},"max":{"cpu":"1"}}]}}`)})
	r := c.mustDo(t, "pod", "create", aggregates.Command{Namespace: "team", Name: "p", Object: podWithCPU("p", "")})
	var pod corev1.Pod
	if err := json.Unmarshal(r.Object, &pod); err != nil {
		t.Fatal(err)
	}
	res := pod.Spec.Containers[0].Resources
	if res.Requests.Cpu().String() != "100m" || res.Limits.Cpu().String() != "500m" {
		t.Fatalf("resources = %+v, want request 100m limit 500m", res)
	}
	big := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big"},"spec":{"containers":[{"name":"c","image":"busybox:1","resources":{"limits":{"cpu":"2"}}}]}}`)
	_, err := c.do(t, "pod", "create", aggregates.Command{Namespace: "team", Name: "big", Object: big})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "maximum cpu usage per Container is 1") {
		t.Fatalf("err = %v", err)
	}
}
