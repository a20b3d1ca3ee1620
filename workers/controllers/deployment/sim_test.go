package deployment

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func makeDeployment(n int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "d-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
}

func rolling(surge, unavail intstr.IntOrString) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{
			Type:          appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail},
		}
	}
}

// podSet is the fake pods of one RS: total and how many are ready.
type podSet struct{ total, ready int32 }

// sim is a fake cluster: it applies Reconcile's intents, plays the
// ReplicaSet controller (create instantly, delete not-ready pods first),
// and makes pods ready one step after they appear unless stuck is set.
type sim struct {
	t     *testing.T
	d     *appsv1.Deployment
	rss   []*appsv1.ReplicaSet
	pods  map[string]*podSet
	now   time.Time
	stuck bool
	last  Result

	// lagDeletes makes the ReplicaSet controller delete surplus pods one
	// step late, after that step's creations, as a real one may: its
	// deletions and another RS's creations race. peak is the most pods
	// that existed at once.
	lagDeletes bool
	pending    map[string]int32 // RS name → size its pods are cut to next step
	peak       int32
}

func newSim(t *testing.T, d *appsv1.Deployment) *sim {
	return &sim{t: t, d: d, pods: map[string]*podSet{}, pending: map[string]int32{}, now: t0}
}

func (s *sim) step() {
	s.t.Helper()
	res, err := Reconcile(s.d, s.rss, Env{Now: s.now})
	if err != nil {
		s.t.Fatal(err)
	}
	s.last = res
	s.apply(res)
	s.playReplicaSets()
	s.now = s.now.Add(10 * time.Second)
}

func (s *sim) apply(res Result) {
	if res.Create != nil {
		s.rss = append(s.rss, res.Create.DeepCopy())
		s.pods[res.Create.Name] = &podSet{}
	}
	for _, u := range res.Update {
		i := slices.IndexFunc(s.rss, func(rs *appsv1.ReplicaSet) bool { return rs.Name == u.Name })
		st := s.rss[i].Status
		s.rss[i] = u.DeepCopy()
		s.rss[i].Status = st
	}
	for _, del := range res.Delete {
		s.rss = slices.DeleteFunc(s.rss, func(rs *appsv1.ReplicaSet) bool { return rs.Name == del.Name })
	}
	s.d.Status = res.Status
	if res.Revision != "" {
		metav1.SetMetaDataAnnotation(&s.d.ObjectMeta, RevisionAnnotation, res.Revision)
	}
}

func (s *sim) playReplicaSets() {
	late := s.pending
	s.pending = map[string]int32{}
	for _, rs := range s.rss {
		p := s.pods[rs.Name]
		if !s.stuck {
			p.ready = p.total // pods that existed last step are ready now
		}
		want := specReplicas(rs)
		switch {
		case p.total > want && s.lagDeletes:
			s.pending[rs.Name] = want
		case p.total > want:
			p.cut(want)
		}
		p.total = max(p.total, want)
	}
	var total int32
	for _, p := range s.pods {
		total += p.total
	}
	s.peak = max(s.peak, total)
	for name, want := range late {
		if p := s.pods[name]; p != nil && p.total > want {
			p.cut(want)
		}
	}
	for _, rs := range s.rss {
		p := s.pods[rs.Name]
		rs.Status = appsv1.ReplicaSetStatus{Replicas: p.total, ReadyReplicas: p.ready, AvailableReplicas: p.ready, ObservedGeneration: rs.Generation}
	}
}

// cut deletes pods down to want, those not ready first.
func (p *podSet) cut(want int32) {
	notReady := p.total - p.ready
	p.ready -= max(p.total-want-notReady, 0)
	p.total = want
}

func (s *sim) readyPods() int32 {
	var n int32
	for _, p := range s.pods {
		n += p.ready
	}
	return n
}

// podsByImage counts existing pods per container image.
func (s *sim) podsByImage() map[string]int32 {
	out := map[string]int32{}
	for _, rs := range s.rss {
		if n := s.pods[rs.Name].total; n > 0 {
			out[rs.Spec.Template.Spec.Containers[0].Image] += n
		}
	}
	return out
}

func (s *sim) settled() bool {
	want := replicas(s.d)
	st := s.d.Status
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want && len(s.last.Update) == 0 && s.last.Create == nil
}

// run steps until settled, checking invariant after every step.
func (s *sim) run(invariant func()) int {
	s.t.Helper()
	for i := 1; i <= 100; i++ {
		s.step()
		if invariant != nil {
			invariant()
		}
		if s.settled() {
			return i
		}
	}
	s.t.Fatalf("did not settle: status %+v pods %v", s.d.Status, s.podsByImage())
	return 0
}

func (s *sim) setImage(image string) {
	s.d.Spec.Template.Spec.Containers[0].Image = image
	s.d.Generation++
}

func (s *sim) setReplicas(n int32) {
	s.d.Spec.Replicas = &n
	s.d.Generation++
}

// rolledToV2 is a sim of a Deployment of 3 (maxSurge 1, maxUnavailable 0)
// rolled out on web:v1, then to web:v2.
func rolledToV2(t *testing.T) *sim {
	d := makeDeployment(3, "web:v1")
	rolling(intstr.FromInt32(1), intstr.FromInt32(0))(d)
	s := newSim(t, d)
	s.run(nil)
	s.setImage("web:v2")
	s.run(nil)
	return s
}
