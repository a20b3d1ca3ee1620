package agent_test

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/aggregates"
)

// TestHostPort: a container port with a hostPort answers on the node's
// addresses — the bridge's (the pod network's gateway) and 127.0.0.1 —
// through the CNI portmap plugin (iptables DNAT, with its SNAT for
// localhost), and the mapping is gone once the pod is deleted.
func TestHostPort(t *testing.T) {
	slow(t)
	chainsBefore := natRules(t)
	t.Cleanup(func() { removePortmapChains(t, chainsBefore) })
	c := startCluster(t)
	n := newNode(t, c)
	hostPort := freePort(t)
	c.apply(t, "pod", podManifest("hp", `
terminationGracePeriodSeconds: 1
containers:
- name: web
  image: `+image+`
  command: ["sh", "-c", "mkdir -p /www && echo hello-via-hostport > /www/index.html && exec httpd -f -p 8080 -h /www"]
  ports: [{containerPort: 8080, hostPort: `+strconv.Itoa(hostPort)+`}]
  readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
`))
	p := c.waitPod(t, "hp", 60*time.Second, "ready", ready)
	uid := string(p.UID)
	if !strings.Contains(natRules(t), uid) {
		t.Fatalf("no portmap rule names pod %s:\n%s", uid, natRules(t))
	}
	for _, host := range []string{gatewayIP(t), "127.0.0.1"} {
		url := "http://" + net.JoinHostPort(host, strconv.Itoa(hostPort)) + "/"
		if got := httpGet(t, url); !strings.Contains(got, "hello-via-hostport") {
			t.Fatalf("%s answered %q", url, got)
		}
	}

	c.do(t, "pod", "delete", aggregates.Command{Name: "hp", GracePeriodSeconds: ptr(int64(1))})
	c.waitPod(t, "hp", 30*time.Second, "gone", gone)
	if rules := natRules(t); strings.Contains(rules, uid) || strings.Contains(rules, "--dport "+strconv.Itoa(hostPort)+" ") {
		t.Fatalf("portmap rules of pod %s left after delete:\n%s", uid, rules)
	}
	for _, host := range []string{gatewayIP(t), "127.0.0.1"} {
		if conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(hostPort)), time.Second); err == nil {
			conn.Close()
			t.Fatalf("%s:%d still answers after the pod was deleted", host, hostPort)
		}
	}
	n.assertNoLeaks(t)
}

// freePort is a TCP port nothing on the node listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// gatewayIP is the bridge's address: the first of the node's pod CIDR.
func gatewayIP(t *testing.T) string {
	t.Helper()
	ip, _, err := net.ParseCIDR(testCIDR)
	if err != nil {
		t.Fatal(err)
	}
	ip = ip.To4()
	ip[3]++
	return ip.String()
}

func natRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -t nat -S: %v: %s", err, out)
	}
	return string(out)
}

// removePortmapChains removes portmap's shared chains (CNI-HOSTPORT-*) and
// the jumps to them when this test created them and they are empty again;
// chains someone else uses are left alone.
func removePortmapChains(t *testing.T, before string) {
	if strings.Contains(before, "-N CNI-HOSTPORT-DNAT") {
		return
	}
	out, err := exec.Command("iptables", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		return
	}
	var jumps []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "-A CNI-HOSTPORT-DNAT ") {
			return // another pod's mapping
		}
		if strings.HasPrefix(line, "-A ") && strings.Contains(line, "-j CNI-HOSTPORT-") && !strings.HasPrefix(line, "-A CNI-") {
			jumps = append(jumps, line)
		}
	}
	for _, j := range jumps {
		if out, err := exec.Command("sh", "-c", "iptables -t nat -D "+strings.TrimPrefix(j, "-A ")).CombinedOutput(); err != nil {
			t.Logf("remove %q: %v: %s", j, err, out)
		}
	}
	for _, chain := range []string{"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"} {
		_ = exec.Command("iptables", "-t", "nat", "-F", chain).Run()
		_ = exec.Command("iptables", "-t", "nat", "-X", chain).Run()
	}
}

// TestImagePullErrors: an image the registry does not have shows
// ErrImagePull with the registry's message, then ImagePullBackOff; an
// absent image under pull policy Never shows ErrImageNeverPull.
func TestImagePullErrors(t *testing.T) {
	slow(t)
	c := startCluster(t)
	n := newNode(t, c)
	missing := strings.Replace(image, "/gantry/busybox:", "/gantry/missing:", 1)
	c.apply(t, "pod", podManifest("nopull", `
terminationGracePeriodSeconds: 0
containers:
- {name: c, image: `+missing+`, command: ["true"]}
`))
	c.apply(t, "pod", podManifest("never", `
terminationGracePeriodSeconds: 0
containers:
- {name: c, image: `+missing+`, imagePullPolicy: Never, command: ["true"]}
`))
	var sawPull bool
	c.waitPod(t, "nopull", 30*time.Second, "ErrImagePull then ImagePullBackOff", func(p *corev1.Pod) bool {
		w := container(p, "c").State.Waiting
		if w == nil {
			return false
		}
		sawPull = sawPull || w.Reason == agent.ReasonErrImagePull && strings.Contains(w.Message, "not found")
		return sawPull && w.Reason == agent.ReasonImagePullBackOff
	})
	c.waitPod(t, "never", 30*time.Second, "ErrImageNeverPull", func(p *corev1.Pod) bool {
		w := container(p, "c").State.Waiting
		return w != nil && w.Reason == agent.ReasonErrImageNeverPull
	})
	deleteAll(t, c, "nopull", "never")
	n.assertNoLeaks(t)
}
