package agent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// watchPods follows this node's keys in NodePodsBucket (never the whole
// cluster's pods) and hands each pod to its worker. Once the bucket's
// current values are in, pods the runtime holds that are no longer bound
// here (deleted while the agent was down) are removed.
func (a *Agent) watchPods(ctx context.Context) error {
	kv, err := a.conn.JS.KeyValue(ctx, bus.NodePodsBucket)
	if err != nil {
		return fmt.Errorf("agent: bucket %s: %w", bus.NodePodsBucket, err)
	}
	w, err := bus.TailKeys(ctx, a.conn, kv, bus.NodePodFilter(a.cfg.NodeName))
	if err != nil {
		return fmt.Errorf("agent: watch pods: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				a.removeOrphans(ctx)
				close(a.ready)
				continue
			}
			a.dispatch(ctx, e)
		}
	}
}

func (a *Agent) dispatch(ctx context.Context, e *bus.KeyUpdate) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := e.Key
	if e.Deleted {
		if uid, ok := a.byKey[key]; ok {
			a.gone(uid)
			delete(a.byKey, key)
			delete(a.finished, uid)
		}
		return
	}
	var sv struct { // a projections.StateValue, its object decoded in the same pass
		Object *corev1.Pod `json:"object"`
	}
	if err := aggregates.Unmarshal(e.Value, &sv); err != nil || sv.Object == nil || sv.Object.UID == "" {
		a.cfg.Log.Warn("agent: bad pod in node-pods", "key", key, "err", err)
		return
	}
	pod := sv.Object
	uid := string(pod.UID)
	if old, ok := a.byKey[key]; ok && old != uid { // same name, new pod
		a.gone(old)
	}
	a.byKey[key] = uid
	if a.finished[uid] {
		return
	}
	w := a.workers[uid]
	if w == nil {
		w = newPodWorker(a, pod)
		a.workers[uid] = w
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			w.run(ctx)
			a.mu.Lock()
			delete(a.workers, uid)
			a.finished[uid] = true
			a.mu.Unlock()
		}()
	}
	w.update(pod)
}

// gone tells a pod's worker its pod no longer exists (a.mu held).
func (a *Agent) gone(uid string) {
	if w := a.workers[uid]; w != nil {
		w.update(nil)
	}
}

// removeOrphans removes pods the runtime holds that no key names.
func (a *Agent) removeOrphans(ctx context.Context) {
	pods, err := a.rt.ListPods(ctx)
	if err != nil {
		a.cfg.Log.Warn("agent: list runtime pods", "err", err)
		return
	}
	a.mu.Lock()
	keep := map[string]bool{}
	for _, uid := range a.byKey {
		keep[uid] = true
	}
	a.mu.Unlock()
	for _, p := range pods {
		if keep[p.UID] {
			continue
		}
		a.cfg.Log.Info("agent: removing pod no longer bound here", "pod", p.Namespace+"/"+p.Name, "uid", p.UID)
		if err := a.rt.RemovePod(ctx, p.UID); err != nil {
			a.cfg.Log.Warn("agent: remove orphan", "uid", p.UID, "err", err)
		}
	}
}

// lookup finds a running pod's uid by namespace and name.
func (a *Agent) lookup(namespace, name string) (*podWorker, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	uid, ok := a.byKey[bus.NodePodKey(a.cfg.NodeName, namespace, name)]
	if !ok {
		return nil, false
	}
	w := a.workers[uid]
	return w, w != nil
}
