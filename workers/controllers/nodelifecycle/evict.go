package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// evictions returns the pods whose time on the node is up and how long
// until the next one is (0 if none is pending). A pod must tolerate every
// NoExecute taint; it stays for the smallest tolerationSeconds among them,
// counted from the taint's timeAdded. Pods with no toleration for the
// not-ready/unreachable taints get the configured default.
func evictions(taints []corev1.Taint, pods []*corev1.Pod, env Env) ([]*corev1.Pod, time.Duration) {
	var evict []*corev1.Pod
	var next time.Duration
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		deadline, ok := evictAt(taints, p, env)
		if !ok {
			continue
		}
		if wait := deadline.Sub(env.Now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		evict = append(evict, p)
	}
	return evict, next
}

// evictAt is when the pod must go; ok is false when it may stay forever.
func evictAt(taints []corev1.Taint, p *corev1.Pod, env Env) (time.Time, bool) {
	var at time.Time
	found := false
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		secs, forever, tolerated := tolerationSeconds(t, p.Spec.Tolerations, env.Config.DefaultTolerationSeconds)
		added := env.Now
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		switch {
		case !tolerated:
			return added, true
		case forever:
			continue
		}
		if due := added.Add(time.Duration(secs) * time.Second); !found || due.Before(at) {
			at, found = due, true
		}
	}
	return at, found
}

// tolerationSeconds: the smallest tolerationSeconds among matching
// tolerations; forever if a matching one has none.
func tolerationSeconds(t *corev1.Taint, tols []corev1.Toleration, def int64) (secs int64, forever, tolerated bool) {
	for i := range tols {
		tol := &tols[i]
		if !tolerates(tol, t) {
			continue
		}
		if tol.TolerationSeconds == nil {
			forever = true
			continue
		}
		s := max(*tol.TolerationSeconds, 0)
		if !tolerated || s < secs {
			secs = s
		}
		tolerated = true
	}
	if forever && !tolerated {
		return 0, true, true
	}
	if !tolerated && (t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable) {
		return def, false, true
	}
	return secs, false, tolerated
}

func tolerates(tol *corev1.Toleration, t *corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != t.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != t.Key {
		return false
	}
	switch tol.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return tol.Value == t.Value
	}
	return false
}
