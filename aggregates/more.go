package aggregates

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Node rules: cluster-scoped; registered by its agent, which reports its
// status; cordon, taints and labels change through patch and label.
func Node() *Kind {
	return &Kind{
		Name: "Node", Token: "node", Plural: "nodes", Aliases: []string{"no"},
		Version: "v1",
		Verbs:   []string{VerbPatch},
		New:     func() Object { return &corev1.Node{} },
		Validate: func(o Object) field.ErrorList {
			var errs field.ErrorList
			for i, t := range o.(*corev1.Node).Spec.Taints {
				p := field.NewPath("spec", "taints").Index(i)
				if t.Key == "" {
					errs = append(errs, field.Required(p.Child("key"), "a taint needs a key"))
				}
				errs = append(errs, oneOf(string(t.Effect), p.Child("effect"), "NoSchedule", "PreferNoSchedule", "NoExecute")...)
			}
			return errs
		},
	}
}

// DaemonSet rules: a selector matching a valid template with restartPolicy Always.
func DaemonSet() *Kind {
	return &Kind{
		Name: "DaemonSet", Token: "daemonset", Plural: "daemonsets", Aliases: []string{"ds"},
		Group: "apps", Version: "v1", Namespaced: true,
		Verbs: []string{VerbPatch},
		New:   func() Object { return &appsv1.DaemonSet{} },
		Default: func(o Object) {
			ds := o.(*appsv1.DaemonSet)
			if ds.Spec.UpdateStrategy.Type == "" {
				ds.Spec.UpdateStrategy.Type = appsv1.RollingUpdateDaemonSetStrategyType
			}
			defaultPodSpec(&ds.Spec.Template.Spec)
		},
		Validate: func(o Object) field.ErrorList {
			ds := o.(*appsv1.DaemonSet)
			return validateWorkload(nil, ds.Spec.Selector, &ds.Spec.Template, field.NewPath("spec"))
		},
		ValidateUpdate: func(old, new Object) field.ErrorList {
			return immutableSelector(old.(*appsv1.DaemonSet).Spec.Selector, new.(*appsv1.DaemonSet).Spec.Selector)
		},
	}
}

// StatefulSet rules: those of a ReplicaSet; serviceName names its headless service.
func StatefulSet() *Kind {
	return &Kind{
		Name: "StatefulSet", Token: "statefulset", Plural: "statefulsets", Aliases: []string{"sts"},
		Group: "apps", Version: "v1", Namespaced: true,
		Verbs: []string{VerbScale, VerbPatch},
		New:   func() Object { return &appsv1.StatefulSet{} },
		Default: func(o Object) {
			s := o.(*appsv1.StatefulSet)
			defaultReplicas(&s.Spec.Replicas)
			if s.Spec.PodManagementPolicy == "" {
				s.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
			}
			defaultPodSpec(&s.Spec.Template.Spec)
		},
		Validate: func(o Object) field.ErrorList {
			s := o.(*appsv1.StatefulSet)
			return validateWorkload(s.Spec.Replicas, s.Spec.Selector, &s.Spec.Template, field.NewPath("spec"))
		},
		ValidateUpdate: func(old, new Object) field.ErrorList {
			return immutableSelector(old.(*appsv1.StatefulSet).Spec.Selector, new.(*appsv1.StatefulSet).Spec.Selector)
		},
	}
}

// Job rules: a valid template whose restartPolicy is OnFailure or Never;
// completions and parallelism not negative.
func Job() *Kind {
	return &Kind{
		Name: "Job", Token: "job", Plural: "jobs",
		Group: "batch", Version: "v1", Namespaced: true,
		Verbs: []string{VerbPatch},
		New:   func() Object { return &batchv1.Job{} },
		Default: func(o Object) {
			j := o.(*batchv1.Job)
			one, six := int32(1), int32(6)
			if j.Spec.Parallelism == nil {
				j.Spec.Parallelism = &one
			}
			if j.Spec.BackoffLimit == nil {
				j.Spec.BackoffLimit = &six
			}
			defaultPodSpec(&j.Spec.Template.Spec)
		},
		Validate: func(o Object) field.ErrorList {
			j := o.(*batchv1.Job)
			p := field.NewPath("spec")
			errs := validatePodSpec(&j.Spec.Template.Spec, p.Child("template", "spec"))
			errs = append(errs, oneOf(string(j.Spec.Template.Spec.RestartPolicy), p.Child("template", "spec", "restartPolicy"), "OnFailure", "Never")...)
			for name, v := range map[string]*int32{"completions": j.Spec.Completions, "parallelism": j.Spec.Parallelism, "backoffLimit": j.Spec.BackoffLimit} {
				if v != nil && *v < 0 {
					errs = append(errs, field.Invalid(p.Child(name), *v, "must be greater than or equal to 0"))
				}
			}
			return errs
		},
	}
}

// CronJob rules: a schedule and a job template.
func CronJob() *Kind {
	return &Kind{
		Name: "CronJob", Token: "cronjob", Plural: "cronjobs", Aliases: []string{"cj"},
		Group: "batch", Version: "v1", Namespaced: true,
		Verbs: []string{VerbPatch},
		New:   func() Object { return &batchv1.CronJob{} },
		Default: func(o Object) {
			c := o.(*batchv1.CronJob)
			if c.Spec.ConcurrencyPolicy == "" {
				c.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
			}
			defaultPodSpec(&c.Spec.JobTemplate.Spec.Template.Spec)
		},
		Validate: func(o Object) field.ErrorList {
			c := o.(*batchv1.CronJob)
			p := field.NewPath("spec")
			var errs field.ErrorList
			if c.Spec.Schedule == "" {
				errs = append(errs, field.Required(p.Child("schedule"), "a cron schedule is required"))
			}
			errs = append(errs, oneOf(string(c.Spec.ConcurrencyPolicy), p.Child("concurrencyPolicy"), "Allow", "Forbid", "Replace")...)
			return append(errs, validatePodSpec(&c.Spec.JobTemplate.Spec.Template.Spec, p.Child("jobTemplate", "spec", "template", "spec"))...)
		},
	}
}

// EndpointSlice rules: written by the endpoints controller; an address type.
func EndpointSlice() *Kind {
	return &Kind{
		Name: "EndpointSlice", Token: "endpointslice", Plural: "endpointslices", Aliases: []string{"endpoints", "ep"},
		Group: "discovery.k8s.io", Version: "v1", Namespaced: true,
		New: func() Object { return &discoveryv1.EndpointSlice{} },
		Validate: func(o Object) field.ErrorList {
			return oneOf(string(o.(*discoveryv1.EndpointSlice).AddressType), field.NewPath("addressType"), "IPv4", "IPv6", "FQDN")
		},
	}
}

// Ingress rules: each rule's paths name a backend service and a path type.
func Ingress() *Kind {
	return &Kind{
		Name: "Ingress", Token: "ingress", Plural: "ingresses", Aliases: []string{"ing"},
		Group: "networking.k8s.io", Version: "v1", Namespaced: true,
		Verbs: []string{VerbPatch},
		New:   func() Object { return &networkingv1.Ingress{} },
		Validate: func(o Object) field.ErrorList {
			var errs field.ErrorList
			for i, r := range o.(*networkingv1.Ingress).Spec.Rules {
				if r.HTTP == nil {
					continue
				}
				for j, path := range r.HTTP.Paths {
					p := field.NewPath("spec", "rules").Index(i).Child("http", "paths").Index(j)
					pt := ""
					if path.PathType != nil {
						pt = string(*path.PathType)
					}
					errs = append(errs, oneOf(pt, p.Child("pathType"), "Exact", "Prefix", "ImplementationSpecific")...)
				}
			}
			return errs
		},
	}
}

// HorizontalPodAutoscaler rules: minReplicas at least 1 and no more than
// maxReplicas; a scale target.
func HorizontalPodAutoscaler() *Kind {
	return &Kind{
		Name: "HorizontalPodAutoscaler", Token: "horizontalpodautoscaler", Plural: "horizontalpodautoscalers", Aliases: []string{"hpa"},
		Group: "autoscaling", Version: "v2", Namespaced: true,
		Verbs: []string{VerbPatch},
		New:   func() Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		Validate: func(o Object) field.ErrorList {
			h := o.(*autoscalingv2.HorizontalPodAutoscaler)
			p := field.NewPath("spec")
			var errs field.ErrorList
			min := int32(1)
			if h.Spec.MinReplicas != nil {
				min = *h.Spec.MinReplicas
			}
			if min < 1 {
				errs = append(errs, field.Invalid(p.Child("minReplicas"), min, "must be greater than or equal to 1"))
			}
			if h.Spec.MaxReplicas < min {
				errs = append(errs, field.Invalid(p.Child("maxReplicas"), h.Spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
			}
			if h.Spec.ScaleTargetRef.Kind == "" || h.Spec.ScaleTargetRef.Name == "" {
				errs = append(errs, field.Required(p.Child("scaleTargetRef"), "kind and name of the object to scale"))
			}
			return errs
		},
	}
}

// IngressClass rules: cluster-scoped; a controller name. Gantry's ingress
// serves the class named "gantry" (and Ingresses naming no class).
func IngressClass() *Kind {
	return &Kind{
		Name: "IngressClass", Token: "ingressclass", Plural: "ingressclasses",
		Group: "networking.k8s.io", Version: "v1",
		Verbs: []string{VerbPatch},
		New:   func() Object { return &networkingv1.IngressClass{} },
		Validate: func(o Object) field.ErrorList {
			if o.(*networkingv1.IngressClass).Spec.Controller == "" {
				return field.ErrorList{field.Required(field.NewPath("spec", "controller"), "the controller that implements the class")}
			}
			return nil
		},
	}
}
