package endpoints

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func service(name string, mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "svc-uid"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

func pod(name, ip string, mut ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, m := range mut {
		m(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func deleting(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }

func withContainerPort(name string, port int32, proto corev1.Protocol) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name:  "c" + name,
			Ports: []corev1.ContainerPort{{Name: name, ContainerPort: port, Protocol: proto}},
		})
	}
}

// flat is one endpoint seen through its slice: what the tests compare.
type flat struct {
	slice                       string
	ip                          string
	ports                       string
	ready, serving, terminating bool
	hostname, node              string
}

func flatten(slices []*discoveryv1.EndpointSlice) []flat {
	var out []flat
	for _, s := range slices {
		ports := ""
		for _, p := range s.Ports {
			ports += fmt.Sprintf("%s:%s/%d ", *p.Name, *p.Protocol, *p.Port)
		}
		for _, e := range s.Endpoints {
			f := flat{slice: s.Name, ip: e.Addresses[0], ports: ports,
				ready: *e.Conditions.Ready, serving: *e.Conditions.Serving, terminating: *e.Conditions.Terminating}
			if e.Hostname != nil {
				f.hostname = *e.Hostname
			}
			if e.NodeName != nil {
				f.node = *e.NodeName
			}
			out = append(out, f)
		}
	}
	return out
}

func TestCompute(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []string // "ip ports ready/serving/terminating host node"
	}{
		{
			name: "selects matching pods with an IP",
			svc:  service("web"),
			pods: []*corev1.Pod{
				pod("b", "10.0.0.2"), pod("a", "10.0.0.1"),
				pod("other", "10.0.0.3", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "db"} }),
				pod("no-ip", ""),
				pod("other-ns", "10.0.0.4", func(p *corev1.Pod) { p.Namespace = "prod" }),
				pod("done", "10.0.0.5", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			},
			want: []string{"10.0.0.1 http:TCP/8080  R/S/- - node-1", "10.0.0.2 http:TCP/8080  R/S/- - node-1"},
		},
		{
			name: "not ready listed as not ready, terminating drained",
			svc:  service("web"),
			pods: []*corev1.Pod{
				pod("a", "10.0.0.1", notReady),
				pod("b", "10.0.0.2", deleting),
				pod("c", "10.0.0.3", deleting, notReady),
			},
			want: []string{
				"10.0.0.1 http:TCP/8080  -/-/- - node-1",
				"10.0.0.2 http:TCP/8080  -/S/T - node-1",
				"10.0.0.3 http:TCP/8080  -/-/T - node-1",
			},
		},
		{
			name: "publishNotReadyAddresses makes all ready",
			svc:  service("web", func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			pods: []*corev1.Pod{pod("a", "10.0.0.1", notReady)},
			want: []string{"10.0.0.1 http:TCP/8080  R/S/- - node-1"},
		},
		{
			name: "named targetPort resolved per pod, unresolvable pods grouped apart",
			svc: service("web", func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("web")}}
			}),
			pods: []*corev1.Pod{
				pod("a", "10.0.0.1", withContainerPort("web", 8080, corev1.ProtocolTCP)),
				pod("b", "10.0.0.2", withContainerPort("web", 9090, "")),
				pod("c", "10.0.0.3", withContainerPort("web", 53, corev1.ProtocolUDP)),
			},
			want: []string{
				"10.0.0.3  R/S/- - node-1",
				"10.0.0.1 http:TCP/8080  R/S/- - node-1",
				"10.0.0.2 http:TCP/9090  R/S/- - node-1",
			},
		},
		{
			name: "multiple ports TCP and UDP, zero targetPort means port",
			svc: service("dns", func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{
					{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
					{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
				}
			}),
			pods: []*corev1.Pod{pod("a", "10.0.0.1", withContainerPort("dns", 5353, corev1.ProtocolUDP))},
			want: []string{"10.0.0.1 dns:UDP/5353 dns-tcp:TCP/53  R/S/- - node-1"},
		},
		{
			name: "hostname only when subdomain names the service",
			svc:  service("db", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }),
			pods: []*corev1.Pod{
				pod("db-0", "10.0.0.1", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db-0", "db" }),
				pod("db-1", "10.0.0.2", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db-1", "other" }),
			},
			want: []string{"10.0.0.1 http:TCP/8080  R/S/- db-0 node-1", "10.0.0.2 http:TCP/8080  R/S/- - node-1"},
		},
		{
			name: "headless without ports",
			svc: service("db", func(s *corev1.Service) {
				s.Spec.ClusterIP, s.Spec.Ports = corev1.ClusterIPNone, nil
			}),
			pods: []*corev1.Pod{pod("a", "10.0.0.1", func(p *corev1.Pod) { p.Spec.NodeName = "" })},
			want: []string{"10.0.0.1  R/S/- - -"},
		},
		{
			name: "dual-stack pod in both families",
			svc:  service("web"),
			pods: []*corev1.Pod{pod("a", "10.0.0.1", func(p *corev1.Pod) {
				p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.1"}, {IP: "fd00::1"}}
			})},
			want: []string{"10.0.0.1 http:TCP/8080  R/S/- - node-1", "fd00::1 http:TCP/8080  R/S/- - node-1"},
		},
		{name: "no selector: none", svc: service("x", func(s *corev1.Service) { s.Spec.Selector = nil }),
			pods: []*corev1.Pod{pod("a", "10.0.0.1")}},
		{name: "external name: none", svc: service("x", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }),
			pods: []*corev1.Pod{pod("a", "10.0.0.1")}},
		{name: "nil service", svc: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describe(flatten(Compute(tt.svc, tt.pods)))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func describe(fs []flat) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s/%s/%s %s %s", f.ip, f.ports,
			mark(f.ready, "R"), mark(f.serving, "S"), mark(f.terminating, "T"), orDash(f.hostname), orDash(f.node)))
	}
	return out
}

func mark(b bool, s string) string {
	if b {
		return s
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func TestComputeChunksAndNamesStably(t *testing.T) {
	svc := service("web")
	var pods []*corev1.Pod
	for i := range 250 {
		pods = append(pods, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.0.%d.%d", i/200, i%200+1)))
	}
	first := Compute(svc, pods)
	sizes := []int{}
	for _, s := range first {
		sizes = append(sizes, len(s.Endpoints))
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Fatalf("slice sizes %v, want [100 100 50]", sizes)
	}
	// Reversed input gives the same names and contents.
	rev := make([]*corev1.Pod, len(pods))
	for i, p := range pods {
		rev[len(pods)-1-i] = p
	}
	second := Compute(svc, rev)
	for i := range first {
		if first[i].Name != second[i].Name || first[i].Endpoints[0].Addresses[0] != second[i].Endpoints[0].Addresses[0] {
			t.Errorf("slice %d differs: %s vs %s", i, first[i].Name, second[i].Name)
		}
	}
	if l := first[0].Labels[discoveryv1.LabelServiceName]; l != "web" {
		t.Errorf("service-name label %q", l)
	}
}

func TestSliceName(t *testing.T) {
	tests := []struct {
		name, service string
		wantLen       int
	}{
		{"short", "web", len("web-xxxxxxxx-0")},
		{"long service cut to 63", string(make([]byte, 80)), 63},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SliceName(tt.service, "IPv4|http/TCP/80", 0); len(got) != tt.wantLen {
				t.Errorf("len(%q) = %d, want %d", got, len(got), tt.wantLen)
			}
		})
	}
	if SliceName("web", "a", 0) == SliceName("web", "b", 0) {
		t.Error("different port keys must name different slices")
	}
}
