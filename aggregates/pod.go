package aggregates

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Pod rules: at least one container, each with a unique DNS-label name and
// an image; ports in range; requests no larger than limits; restartPolicy
// one of Kubernetes'. The spec is immutable but for container images (as in
// Kubernetes); nodeName changes only by binding; a pod bound to a node is
// deleted in two steps (terminating, then finalized by its agent).
func Pod() *Kind {
	return &Kind{
		Name: "Pod", Token: "pod", Plural: "pods", Aliases: []string{"po"},
		Version: "v1", Namespaced: true,
		Verbs: []string{VerbBind, VerbFinalize, VerbPatch},
		New:   func() Object { return &corev1.Pod{} },
		Default: func(o Object) {
			defaultPodSpec(&o.(*corev1.Pod).Spec)
		},
		Validate: func(o Object) field.ErrorList {
			return validatePodSpec(&o.(*corev1.Pod).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(old, new Object) field.ErrorList {
			return validatePodUpdate(old.(*corev1.Pod), new.(*corev1.Pod))
		},
		Unimplemented: podUnimplemented("spec"),
	}
}

func podUnimplemented(spec string) []string {
	return []string{
		spec + ".ephemeralContainers", spec + ".securityContext.seLinuxOptions",
		spec + ".volumes[].persistentVolumeClaim", spec + ".volumes[].nfs",
		spec + ".volumes[].csi", spec + ".runtimeClassName", spec + ".overhead",
	}
}

func decodePod(raw []byte) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if err := Unmarshal(raw, pod); err != nil {
		return nil, fmt.Errorf("aggregates: stored pod: %w", err)
	}
	return pod, nil
}

func defaultPodSpec(s *corev1.PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = corev1.RestartPolicyAlways
	}
	if s.TerminationGracePeriodSeconds == nil {
		g := int64(30)
		s.TerminationGracePeriodSeconds = &g
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst
	}
	if s.SchedulerName == "" {
		s.SchedulerName = corev1.DefaultSchedulerName
	}
	for _, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range list {
			defaultContainer(&list[i])
		}
	}
}

func defaultContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = corev1.PullIfNotPresent
		if imageTagless(c.Image) {
			c.ImagePullPolicy = corev1.PullAlways
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
}

func validatePodSpec(s *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), "a pod needs at least one container"))
	}
	names := map[string]bool{}
	errs = append(errs, validateContainers(s.InitContainers, p.Child("initContainers"), names)...)
	errs = append(errs, validateContainers(s.Containers, p.Child("containers"), names)...)
	errs = append(errs, oneOf(string(s.RestartPolicy), p.Child("restartPolicy"), "Always", "OnFailure", "Never")...)
	if g := s.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than or equal to 0"))
	}
	vols := map[string]bool{}
	for i, v := range s.Volumes {
		vp := p.Child("volumes").Index(i).Child("name")
		errs = append(errs, validateDNSLabel(v.Name, vp)...)
		if vols[v.Name] {
			errs = append(errs, field.Duplicate(vp, v.Name))
		}
		vols[v.Name] = true
	}
	return errs
}

func validateContainers(cs []corev1.Container, p *field.Path, names map[string]bool) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		c, cp := &cs[i], p.Index(i)
		errs = append(errs, validateDNSLabel(c.Name, cp.Child("name"))...)
		if names[c.Name] {
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		}
		names[c.Name] = true
		if c.Image == "" {
			errs = append(errs, field.Required(cp.Child("image"), "a container needs an image"))
		}
		for j, port := range c.Ports {
			pp := cp.Child("ports").Index(j)
			errs = append(errs, validatePort(port.ContainerPort, pp.Child("containerPort"))...)
			if port.HostPort != 0 {
				errs = append(errs, validatePort(port.HostPort, pp.Child("hostPort"))...)
			}
			errs = append(errs, oneOf(string(port.Protocol), pp.Child("protocol"), "TCP", "UDP", "SCTP")...)
		}
		errs = append(errs, validateResources(c.Resources, cp.Child("resources"))...)
		errs = append(errs, oneOf(string(c.ImagePullPolicy), cp.Child("imagePullPolicy"), "Always", "IfNotPresent", "Never")...)
	}
	return errs
}

func validateResources(r corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, q := range r.Requests {
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), q.String(), "must be greater than or equal to 0"))
		}
		if lim, ok := r.Limits[name]; ok && q.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), q.String(), "must be less than or equal to "+string(name)+" limit of "+lim.String()))
		}
	}
	for name, q := range r.Limits {
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p.Child("limits").Key(string(name)), q.String(), "must be greater than or equal to 0"))
		}
	}
	return errs
}

// validatePodUpdate: only container images may change (and labels and
// annotations, which are metadata); binding goes through the bind verb.
func validatePodUpdate(old, new *corev1.Pod) field.ErrorList {
	a, b := old.Spec.DeepCopy(), new.Spec.DeepCopy()
	for _, s := range []*corev1.PodSpec{a, b} {
		for i := range s.Containers {
			s.Containers[i].Image = ""
		}
		for i := range s.InitContainers {
			s.InitContainers[i].Image = ""
		}
	}
	b.NodeName = a.NodeName // an update never moves a pod
	new.Spec.NodeName = old.Spec.NodeName
	if string(mustJSON(a)) != string(mustJSON(b)) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "pod updates may not change fields other than spec.containers[*].image and spec.initContainers[*].image")}
	}
	return nil
}
