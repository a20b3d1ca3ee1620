package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
	"github.com/gantry-sh/gantry/projections"
)

// register creates the Node, or on a restart brings its labels and pod
// CIDR up to date (taints and cordon stay the cluster's), then reports
// its status.
func (a *Agent) register(ctx context.Context) error {
	var cur projections.ListResponse
	err := a.client.Query(ctx, projections.QueryList, projections.ListRequest{Kind: "node", Name: a.cfg.NodeName}, &cur)
	switch {
	case apierrors.IsNotFound(err):
		obj, _ := json.Marshal(a.nodeObject())
		_, err = a.client.Do(ctx, "node", aggregates.VerbApply, aggregates.Command{Name: a.cfg.NodeName, Object: obj}, bus.CommandMeta{Reason: "node registered by its agent"})
	case err == nil:
		err = a.refreshNode(ctx)
	}
	if err != nil {
		return fmt.Errorf("agent: register node %s: %w", a.cfg.NodeName, err)
	}
	return a.reportNodeStatus(ctx)
}

func (a *Agent) refreshNode(ctx context.Context) error {
	labels := map[string]*string{}
	for k, v := range a.labels() {
		labels[k] = &v
	}
	if _, err := a.client.Do(ctx, "node", aggregates.VerbLabel, aggregates.Command{Name: a.cfg.NodeName, Labels: labels}, bus.CommandMeta{Reason: "agent started"}); err != nil {
		return err
	}
	if a.cfg.PodCIDR == "" {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": a.cfg.PodCIDR, "podCIDRs": []string{a.cfg.PodCIDR}}})
	_, err := a.client.Do(ctx, "node", aggregates.VerbPatch, aggregates.Command{Name: a.cfg.NodeName, Patch: patch}, bus.CommandMeta{Reason: "agent started"})
	return err
}

func (a *Agent) labels() map[string]string {
	l := map[string]string{
		"kubernetes.io/hostname": a.cfg.NodeName,
		"kubernetes.io/os":       goruntime.GOOS,
		"kubernetes.io/arch":     goruntime.GOARCH,
	}
	for k, v := range a.cfg.Labels {
		l[k] = v
	}
	return l
}

func (a *Agent) nodeObject() *corev1.Node {
	n := &corev1.Node{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: a.labels()},
		Spec:       corev1.NodeSpec{Taints: a.cfg.Taints},
	}
	if a.cfg.PodCIDR != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = a.cfg.PodCIDR, []string{a.cfg.PodCIDR}
	}
	return n
}

// nodeStatus is what the agent observes of its machine.
func (a *Agent) nodeStatus(now time.Time) corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(a.cfg.MaxPods, resource.DecimalSI),
	}
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "AgentReady",
			Message: "gantry agent is posting ready status", LastHeartbeatTime: t, LastTransitionTime: t,
		}},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: a.nodeIP()},
			{Type: corev1.NodeHostName, Address: a.cfg.NodeName},
		},
		NodeInfo: corev1.NodeSystemInfo{
			KernelVersion: kernelVersion(), OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH,
			ContainerRuntimeVersion: "containerd", KubeletVersion: "gantry-agent",
		},
	}
}

func (a *Agent) reportNodeStatus(ctx context.Context) error {
	st, _ := json.Marshal(a.nodeStatus(a.cfg.Clock.Now()))
	_, err := a.client.Do(ctx, "node", aggregates.VerbStatus, aggregates.Command{Name: a.cfg.NodeName, Status: st}, bus.CommandMeta{Reason: "node status changed"})
	return err
}

// statusStale reports whether the Node's stored status differs from what
// the agent observes (another party marked it not ready, capacity changed).
func (a *Agent) statusStale(cur corev1.NodeStatus) bool {
	want := a.nodeStatus(time.Time{})
	ready := false
	for _, c := range cur.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	return !ready || !reflect.DeepEqual(want.Addresses, cur.Addresses) ||
		!want.Capacity.Cpu().Equal(*cur.Capacity.Cpu()) || !want.Capacity.Pods().Equal(*cur.Capacity.Pods())
}

// watchNode follows the Node's key in the state bucket and reports the
// status again when what is stored no longer matches the machine.
func (a *Agent) watchNode(ctx context.Context) error {
	kv, err := a.conn.JS.KeyValue(ctx, bus.StateBucket)
	if err != nil {
		return fmt.Errorf("agent: bucket %s: %w", bus.StateBucket, err)
	}
	w, err := kv.Watch(ctx, bus.StateKey("node", "", a.cfg.NodeName))
	if err != nil {
		return fmt.Errorf("agent: watch node: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var sv projections.StateValue
			var node corev1.Node
			if json.Unmarshal(e.Value(), &sv) != nil || json.Unmarshal(sv.Object, &node) != nil {
				continue
			}
			if a.statusStale(node.Status) {
				if err := a.reportNodeStatus(ctx); err != nil && ctx.Err() == nil {
					a.cfg.Log.Warn("agent: report node status", "err", err)
				}
			}
		}
	}
}

// renewLease writes the heartbeat every LeaseInterval.
func (a *Agent) renewLease(ctx context.Context) error {
	kv, err := a.conn.JS.KeyValue(ctx, bus.LeaseBucket)
	if err != nil {
		return fmt.Errorf("agent: bucket %s: %w", bus.LeaseBucket, err)
	}
	for {
		lease, _ := json.Marshal(bus.NodeLease{
			HolderIdentity: a.cfg.NodeName, RenewTime: a.cfg.Clock.Now().UTC(),
			LeaseDurationSeconds: int32(a.cfg.LeaseDuration / time.Second),
		})
		if _, err := kv.Put(ctx, bus.LeaseKey(a.cfg.NodeName), lease); err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("agent: renew lease", "node", a.cfg.NodeName, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.cfg.LeaseInterval):
		}
	}
}

// nodeIPTTL is how long a detected node IP is used before it is looked up
// again: listing interfaces is a netlink dump that grows with every pod's
// veth, and every pod status names the host IP.
const nodeIPTTL = time.Minute

// nodeIP is the configured IP or the detected one (detectNodeIP), kept
// for nodeIPTTL.
func (a *Agent) nodeIP() string {
	if a.cfg.NodeIP != "" {
		return a.cfg.NodeIP
	}
	a.ipMu.Lock()
	defer a.ipMu.Unlock()
	if now := time.Now(); a.ip == "" || now.Sub(a.ipAt) > nodeIPTTL {
		a.ip, a.ipAt = detectNodeIP(), now
	}
	return a.ip
}

// detectNodeIP is the first global IPv4 of an interface that is up and
// not a bridge or veth of pod networks.
func detectNodeIP() string {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || skipInterface(i.Name) {
			continue
		}
		addrs, _ := i.Addrs()
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

func skipInterface(name string) bool {
	for _, p := range []string{"gantry", "veth", "cni", "docker", "br-"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

var errGone = errors.New("pod is gone")
