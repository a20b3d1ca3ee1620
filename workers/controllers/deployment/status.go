package deployment

import (
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, as the Kubernetes deployment controller sets them.
const (
	reasonNewRSCreated       = "NewReplicaSetCreated"
	reasonFoundNewRS         = "FoundNewReplicaSet"
	reasonRSUpdated          = "ReplicaSetUpdated"
	reasonNewRSAvailable     = "NewReplicaSetAvailable"
	reasonTimedOut           = "ProgressDeadlineExceeded"
	reasonPaused             = "DeploymentPaused"
	reasonResumed            = "DeploymentResumed"
	reasonMinimumAvailable   = "MinimumReplicasAvailable"
	reasonMinimumUnavailable = "MinimumReplicasUnavailable"
)

// syncStatus computes the counts from the RSs, the Available condition,
// and (unless paused) the Progressing condition with the deadline.
func (s *state) syncStatus() {
	all := s.withNew(s.oldRSs)
	want := replicas(s.d)
	st := &s.status
	st.ObservedGeneration = s.d.Generation
	st.Replicas = sumStatus(all, actual)
	st.UpdatedReplicas = sumStatus([]*appsv1.ReplicaSet{s.newRS}, actual)
	st.ReadyReplicas = sumStatus(all, ready)
	st.AvailableReplicas = sumStatus(all, available)
	st.UnavailableReplicas = max(want-st.AvailableReplicas, 0)
	if st.AvailableReplicas >= want-maxUnavailable(s.d) {
		s.setCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinimumAvailable, "Deployment has minimum availability.")
	} else {
		s.setCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinimumUnavailable, "Deployment does not have minimum availability.")
	}
	s.syncPaused()
	if !s.d.Spec.Paused && s.hasDeadline() {
		s.syncProgress()
	}
}

func (s *state) syncPaused() {
	cond := s.condition(appsv1.DeploymentProgressing)
	switch {
	case s.d.Spec.Paused && (cond == nil || cond.Reason != reasonPaused):
		s.setCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused")
	case !s.d.Spec.Paused && cond != nil && cond.Reason == reasonPaused:
		s.setCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed")
	}
}

// syncProgress: complete → NewReplicaSetAvailable; moved since the last
// status → ReplicaSetUpdated (deadline restarts); stuck past
// progressDeadlineSeconds → False, ProgressDeadlineExceeded.
func (s *state) syncProgress() {
	cond := s.condition(appsv1.DeploymentProgressing)
	name := ""
	if s.newRS != nil {
		name = s.newRS.Name
	}
	switch {
	case cond != nil && cond.Reason == reasonNewRSAvailable && s.status.Replicas == s.status.UpdatedReplicas:
	case s.complete():
		s.setProgressing(corev1.ConditionTrue, reasonNewRSAvailable, "ReplicaSet %q has successfully progressed.", name)
	case s.progressing():
		s.setProgressing(corev1.ConditionTrue, reasonRSUpdated, "ReplicaSet %q is progressing.", name)
	case s.timedOut():
		s.setProgressing(corev1.ConditionFalse, reasonTimedOut, "ReplicaSet %q has timed out progressing.", name)
	}
}

// complete: every replica updated and available, nothing extra.
func (s *state) complete() bool {
	want := replicas(s.d)
	st := s.statusNow()
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want &&
		st.ObservedGeneration >= s.d.Generation
}

// statusNow is the count part of the status as the RSs stand.
func (s *state) statusNow() appsv1.DeploymentStatus {
	all := s.withNew(s.oldRSs)
	return appsv1.DeploymentStatus{
		ObservedGeneration: s.d.Generation,
		Replicas:           sumStatus(all, actual),
		UpdatedReplicas:    sumStatus([]*appsv1.ReplicaSet{s.newRS}, actual),
		AvailableReplicas:  sumStatus(all, available),
		ReadyReplicas:      sumStatus(all, ready),
	}
}

// progressing: the rollout moved since the status the Deployment carries.
func (s *state) progressing() bool {
	old, now := s.d.Status, s.status
	return now.UpdatedReplicas > old.UpdatedReplicas ||
		now.ReadyReplicas > old.ReadyReplicas ||
		now.AvailableReplicas > old.AvailableReplicas ||
		now.Replicas-now.UpdatedReplicas < old.Replicas-old.UpdatedReplicas
}

func (s *state) timedOut() bool {
	cond := s.condition(appsv1.DeploymentProgressing)
	if cond == nil || cond.Reason == reasonNewRSAvailable || cond.Reason == reasonPaused {
		return false
	}
	if cond.Reason == reasonTimedOut {
		return true
	}
	return s.deadline(cond).Before(s.env.Now)
}

// hasDeadline: progressDeadlineSeconds unset means the default; MaxInt32
// means no deadline, as in Kubernetes.
func (s *state) hasDeadline() bool {
	p := s.d.Spec.ProgressDeadlineSeconds
	return p == nil || *p != math.MaxInt32
}

func (s *state) deadline(cond *appsv1.DeploymentCondition) time.Time {
	secs := int32(defaultProgressDeadlineSeconds)
	if s.d.Spec.ProgressDeadlineSeconds != nil {
		secs = *s.d.Spec.ProgressDeadlineSeconds
	}
	return cond.LastUpdateTime.Add(time.Duration(secs) * time.Second)
}

// requeueAfter is the time left to the progress deadline of an unfinished
// rollout, so a stuck rollout is marked even if no event arrives.
func (s *state) requeueAfter() time.Duration {
	cond := s.condition(appsv1.DeploymentProgressing)
	if s.d.Spec.Paused || !s.hasDeadline() || cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason == reasonNewRSAvailable {
		return 0
	}
	return max(s.deadline(cond).Sub(s.env.Now), time.Second)
}

func (s *state) noteFoundNewRS() {
	if s.condition(appsv1.DeploymentProgressing) == nil && !s.d.Spec.Paused {
		s.setProgressing(corev1.ConditionTrue, reasonFoundNewRS, "Found new replica set %q", s.newRS.Name)
	}
}

func (s *state) setProgressing(status corev1.ConditionStatus, reason, format, name string) {
	s.setCondition(appsv1.DeploymentProgressing, status, reason, fmt.Sprintf(format, name))
}

func (s *state) condition(t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range s.status.Conditions {
		if s.status.Conditions[i].Type == t {
			return &s.status.Conditions[i]
		}
	}
	return nil
}

// setCondition updates or adds a condition. lastUpdateTime moves whenever
// the reason or message changes or the rollout progressed;
// lastTransitionTime only when the status flips.
func (s *state) setCondition(t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, msg string) {
	now := metav1.NewTime(s.env.Now)
	cond := s.condition(t)
	if cond == nil {
		s.status.Conditions = append(s.status.Conditions, appsv1.DeploymentCondition{
			Type: t, Status: status, Reason: reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now,
		})
		return
	}
	if cond.Status == status && cond.Reason == reason && cond.Message == msg && reason != reasonRSUpdated {
		return
	}
	if cond.Status != status {
		cond.LastTransitionTime = now
	}
	cond.Status, cond.Reason, cond.Message, cond.LastUpdateTime = status, reason, msg, now
}
