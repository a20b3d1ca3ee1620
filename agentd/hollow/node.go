package hollow

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// Node is one hollow node.
type Node struct {
	fleet  *Fleet
	name   string
	index  int
	opt    Options
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	pods map[string]*podState // by node-pods key
	ips  int
}

type podState struct {
	uid        string
	running    bool // reported (or scheduled to be reported) running
	finished   bool
	finalizing bool
	ip         string
}

func newNode(f *Fleet, name string, index int, opt Options) *Node {
	ctx, cancel := context.WithCancel(context.Background())
	return &Node{fleet: f, name: name, index: index, opt: opt, ctx: ctx, cancel: cancel, done: make(chan struct{}), pods: map[string]*podState{}}
}

// Name is the node's name.
func (n *Node) Name() string { return n.name }

// Stop ends lease renewals, the pod watch and all reporting: to the
// cluster the node has died. It returns once the node's goroutines end.
func (n *Node) Stop() {
	n.cancel()
	<-n.done
}

// register creates the Node (an existing one keeps its spec) and reports
// its status: capacity, allocatable, Ready.
func (n *Node) register(ctx context.Context) error {
	labels := map[string]string{corev1.LabelHostname: n.name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64", "gantry.sh/hollow": "true"}
	for k, v := range n.opt.Labels {
		labels[k] = v
	}
	node := corev1.Node{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: n.opt.Taints},
	}
	obj, _ := json.Marshal(node)
	err := n.fleet.send(ctx, "node", aggregates.VerbCreate, aggregates.Command{Name: n.name, Object: obj}, bus.CommandMeta{Reason: "hollow node registered"})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("hollow: register %s: %w", n.name, err)
	}
	return n.reportReady(ctx)
}

func (n *Node) reportReady(ctx context.Context) error {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(n.opt.CPU),
		corev1.ResourceMemory: resource.MustParse(n.opt.Memory),
		corev1.ResourcePods:   *resource.NewQuantity(int64(n.opt.Pods), resource.DecimalSI),
	}
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	st := corev1.NodeStatus{
		Capacity: alloc, Allocatable: alloc,
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "hollow node is posting ready status",
			LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.nodeIP()}, {Type: corev1.NodeHostName, Address: n.name}},
		NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "gantry-hollow", OperatingSystem: "linux", Architecture: "amd64", ContainerRuntimeVersion: "hollow://0"},
	}
	raw, _ := json.Marshal(st)
	if err := n.fleet.send(ctx, "node", aggregates.VerbStatus, aggregates.Command{Name: n.name, Status: raw}, bus.CommandMeta{Reason: "hollow node ready"}); err != nil {
		return fmt.Errorf("hollow: node %s status: %w", n.name, err)
	}
	return nil
}

func (n *Node) nodeIP() string {
	return fmt.Sprintf("172.%d.%d.%d", 16+n.index>>16&15, n.index>>8&255, n.index&255)
}

func (n *Node) podIP() string {
	n.ips++
	return fmt.Sprintf("10.%d.%d.%d", n.index>>8&255, n.index&255, n.ips%254+1)
}

// renew puts the node's lease.
func (n *Node) renew(ctx context.Context) error {
	val, _ := json.Marshal(map[string]any{"renewTime": time.Now().UTC().Format(time.RFC3339Nano), "holderIdentity": n.name})
	if _, err := n.fleet.leases.Put(ctx, bus.LeaseKey(n.name), val); err != nil {
		return fmt.Errorf("hollow: lease %s: %w", n.name, err)
	}
	return nil
}

// start runs the lease loop and the pod watch until Stop.
func (n *Node) start() error {
	w, err := bus.TailKeys(n.ctx, n.fleet.conn, n.fleet.pods, bus.NodePodFilter(n.name))
	if err != nil {
		n.cancel()
		close(n.done)
		return fmt.Errorf("hollow: watch pods of %s: %w", n.name, err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.leaseLoop() }()
	go func() { defer wg.Done(); n.watchLoop(w) }()
	go func() { wg.Wait(); close(n.done) }()
	return nil
}

func (n *Node) leaseLoop() {
	jitter := time.Duration(rand.Int64N(int64(n.opt.LeaseEvery)))
	select {
	case <-n.ctx.Done():
		return
	case <-time.After(jitter):
	}
	t := time.NewTicker(n.opt.LeaseEvery)
	defer t.Stop()
	for {
		_ = n.renew(n.ctx)
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) watchLoop(w *bus.KeyTail) {
	for {
		select {
		case <-n.ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				n.observe(e)
			}
		}
	}
}

func (n *Node) observe(e *bus.KeyUpdate) {
	key := e.Key
	if e.Deleted {
		n.mu.Lock()
		delete(n.pods, key)
		n.mu.Unlock()
		return
	}
	pod, ok := podOf(e.Value)
	if !ok {
		return
	}
	n.mu.Lock()
	st := n.pods[key]
	if st == nil || st.uid != string(pod.UID) {
		st = &podState{uid: string(pod.UID)}
		n.pods[key] = st
	}
	switch {
	case pod.DeletionTimestamp != nil:
		if !st.finalizing {
			st.finalizing = true
			go n.finalize(pod)
		}
	case !st.running && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
		st.running = true
		st.ip = n.podIP()
		ip := st.ip
		time.AfterFunc(n.opt.StartDelay, func() { n.reportRunning(pod, ip) })
	}
	n.mu.Unlock()
}

func (n *Node) alive() bool { return n.ctx.Err() == nil }

func (n *Node) finalize(pod *corev1.Pod) {
	if !n.alive() {
		return
	}
	_ = n.fleet.send(n.ctx, "pod", aggregates.VerbFinalize, aggregates.Command{Namespace: pod.Namespace, Name: pod.Name}, bus.CommandMeta{Reason: "containers stopped"})
}

func (n *Node) reportRunning(pod *corev1.Pod, ip string) {
	if !n.alive() {
		return
	}
	now := metav1.NewTime(time.Now().UTC())
	st := corev1.PodStatus{
		Phase: corev1.PodRunning, HostIP: n.nodeIP(), PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &now,
		QOSClass: corev1.PodQOSBestEffort,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	for _, c := range pod.Spec.Containers {
		yes := true
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "hollow://" + c.Image, ContainerID: "hollow://" + pod.Namespace + "/" + pod.Name + "/" + c.Name,
			Ready: true, Started: &yes, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	if !n.sendStatus(pod, st, "containers started") {
		return
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyAlways && pod.Spec.RestartPolicy != "" {
		time.AfterFunc(n.opt.RunFor, func() { n.reportFinished(pod, st) })
	}
}

func (n *Node) reportFinished(pod *corev1.Pod, st corev1.PodStatus) {
	if !n.alive() {
		return
	}
	code := int32(0)
	fmt.Sscanf(pod.Annotations[ExitCodeAnnotation], "%d", &code)
	now := metav1.NewTime(time.Now().UTC())
	st.Phase = corev1.PodSucceeded
	reason := "Completed"
	if code != 0 {
		st.Phase, reason = corev1.PodFailed, "Error"
	}
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.PodReady || st.Conditions[i].Type == corev1.ContainersReady {
			st.Conditions[i].Status, st.Conditions[i].Reason, st.Conditions[i].LastTransitionTime = corev1.ConditionFalse, "PodCompleted", now
		}
	}
	for i := range st.ContainerStatuses {
		cs := &st.ContainerStatuses[i]
		started := cs.State.Running.StartedAt
		cs.Ready = false
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: now}}
	}
	if n.sendStatus(pod, st, "containers exited") {
		n.mu.Lock()
		if s := n.pods[bus.NodePodKey(n.name, pod.Namespace, pod.Name)]; s != nil {
			s.finished = true
		}
		n.mu.Unlock()
	}
}

// sendStatus reports a pod's status unless it is gone or terminating.
func (n *Node) sendStatus(pod *corev1.Pod, st corev1.PodStatus, reason string) bool {
	n.mu.Lock()
	s := n.pods[bus.NodePodKey(n.name, pod.Namespace, pod.Name)]
	gone := s == nil || s.uid != string(pod.UID) || s.finalizing
	n.mu.Unlock()
	if gone {
		return false
	}
	raw, _ := json.Marshal(st)
	err := n.fleet.send(n.ctx, "pod", aggregates.VerbStatus, aggregates.Command{Namespace: pod.Namespace, Name: pod.Name, Status: raw}, bus.CommandMeta{Reason: reason})
	return err == nil
}

// hollowValue is what a hollow node reads of a pod's value in
// gantry-node-pods (a projections.StateValue): the fields it acts on, and
// nothing of the rest, which decoding would skip. A thousand hollow nodes
// share the control plane's cores in a benchmark, where a real node's
// agent would have its own; decoding whole pods for them cost a tenth of
// the benchmark's CPU.
type hollowValue struct {
	Object struct {
		Metadata struct {
			Name              string            `json:"name"`
			Namespace         string            `json:"namespace"`
			UID               types.UID         `json:"uid"`
			DeletionTimestamp *metav1.Time      `json:"deletionTimestamp"`
			Annotations       map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Containers []struct {
				Name  string `json:"name"`
				Image string `json:"image"`
			} `json:"containers"`
			RestartPolicy corev1.RestartPolicy `json:"restartPolicy"`
		} `json:"spec"`
		Status struct {
			Phase corev1.PodPhase `json:"phase"`
		} `json:"status"`
	} `json:"object"`
}

// podOf decodes a gantry-node-pods value into the part of the pod a
// hollow node uses; ok false: it is not one.
func podOf(value []byte) (*corev1.Pod, bool) {
	var v hollowValue
	if aggregates.Unmarshal(value, &v) != nil {
		return nil, false
	}
	o := &v.Object
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: o.Metadata.Name, Namespace: o.Metadata.Namespace, UID: o.Metadata.UID,
			DeletionTimestamp: o.Metadata.DeletionTimestamp, Annotations: o.Metadata.Annotations},
		Spec:   corev1.PodSpec{RestartPolicy: o.Spec.RestartPolicy},
		Status: corev1.PodStatus{Phase: o.Status.Phase},
	}
	for _, c := range o.Spec.Containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.Name, Image: c.Image})
	}
	return pod, true
}
