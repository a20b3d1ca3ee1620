package aggregates

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ReplicaSet rules: replicas ≥ 0; a non-empty selector that the template's
// labels match; a valid pod template with restartPolicy Always; the
// selector is immutable.
func ReplicaSet() *Kind {
	return &Kind{
		Name: "ReplicaSet", Token: "replicaset", Plural: "replicasets", Aliases: []string{"rs"},
		Group: "apps", Version: "v1", Namespaced: true,
		Verbs: []string{VerbScale, VerbPatch},
		New:   func() Object { return &appsv1.ReplicaSet{} },
		Default: func(o Object) {
			rs := o.(*appsv1.ReplicaSet)
			defaultReplicas(&rs.Spec.Replicas)
			defaultPodSpec(&rs.Spec.Template.Spec)
		},
		Validate: func(o Object) field.ErrorList {
			rs := o.(*appsv1.ReplicaSet)
			return validateWorkload(rs.Spec.Replicas, rs.Spec.Selector, &rs.Spec.Template, field.NewPath("spec"))
		},
		ValidateUpdate: func(old, new Object) field.ErrorList {
			return immutableSelector(old.(*appsv1.ReplicaSet).Spec.Selector, new.(*appsv1.ReplicaSet).Spec.Selector)
		},
		Unimplemented: podUnimplemented("spec.template.spec"),
	}
}

// Deployment rules: those of a ReplicaSet, plus a strategy of RollingUpdate
// (maxSurge and maxUnavailable not both zero) or Recreate.
func Deployment() *Kind {
	return &Kind{
		Name: "Deployment", Token: "deployment", Plural: "deployments", Aliases: []string{"deploy"},
		Group: "apps", Version: "v1", Namespaced: true,
		Verbs: []string{VerbScale, VerbPatch},
		New:   func() Object { return &appsv1.Deployment{} },
		Default: func(o Object) {
			d := o.(*appsv1.Deployment)
			defaultReplicas(&d.Spec.Replicas)
			defaultDeploymentStrategy(&d.Spec)
			defaultPodSpec(&d.Spec.Template.Spec)
		},
		Validate: func(o Object) field.ErrorList {
			d := o.(*appsv1.Deployment)
			p := field.NewPath("spec")
			errs := validateWorkload(d.Spec.Replicas, d.Spec.Selector, &d.Spec.Template, p)
			return append(errs, validateStrategy(d.Spec.Strategy, p.Child("strategy"))...)
		},
		ValidateUpdate: func(old, new Object) field.ErrorList {
			return immutableSelector(old.(*appsv1.Deployment).Spec.Selector, new.(*appsv1.Deployment).Spec.Selector)
		},
		Unimplemented: podUnimplemented("spec.template.spec"),
	}
}

func defaultReplicas(r **int32) {
	if *r == nil {
		one := int32(1)
		*r = &one
	}
}

func defaultDeploymentStrategy(s *appsv1.DeploymentSpec) {
	if s.Strategy.Type == "" {
		s.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		quarter := intstr.FromString("25%")
		if s.Strategy.RollingUpdate.MaxSurge == nil {
			s.Strategy.RollingUpdate.MaxSurge = &quarter
		}
		if s.Strategy.RollingUpdate.MaxUnavailable == nil {
			s.Strategy.RollingUpdate.MaxUnavailable = &quarter
		}
	}
	if s.RevisionHistoryLimit == nil {
		ten := int32(10)
		s.RevisionHistoryLimit = &ten
	}
	if s.ProgressDeadlineSeconds == nil {
		six := int32(600)
		s.ProgressDeadlineSeconds = &six
	}
}

func validateWorkload(replicas *int32, sel *metav1.LabelSelector, tpl *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if replicas != nil && *replicas < 0 {
		errs = append(errs, field.Invalid(p.Child("replicas"), *replicas, "must be greater than or equal to 0"))
	}
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		errs = append(errs, field.Required(p.Child("selector"), "a selector is required"))
	} else if s, err := metav1.LabelSelectorAsSelector(sel); err != nil {
		errs = append(errs, field.Invalid(p.Child("selector"), sel, err.Error()))
	} else if !s.Matches(labels.Set(tpl.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), tpl.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, validatePodSpec(&tpl.Spec, p.Child("template", "spec"))...)
	if tpl.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("template", "spec", "restartPolicy"), tpl.Spec.RestartPolicy, []string{"Always"}))
	}
	return errs
}

func validateStrategy(s appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	errs := oneOf(string(s.Type), p.Child("type"), "RollingUpdate", "Recreate")
	if s.Type == appsv1.RecreateDeploymentStrategyType && s.RollingUpdate != nil {
		errs = append(errs, field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
	}
	if ru := s.RollingUpdate; s.Type == appsv1.RollingUpdateDeploymentStrategyType && ru != nil {
		surge, err1 := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, 100, true)
		unavail, err2 := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, 100, false)
		for _, e := range []struct {
			err  error
			name string
		}{{err1, "maxSurge"}, {err2, "maxUnavailable"}} {
			if e.err != nil {
				errs = append(errs, field.Invalid(p.Child("rollingUpdate", e.name), "", e.err.Error()))
			}
		}
		if err1 == nil && err2 == nil && surge == 0 && unavail == 0 {
			errs = append(errs, field.Invalid(p.Child("rollingUpdate", "maxUnavailable"), ru.MaxUnavailable.String(), "may not be 0 when `maxSurge` is 0"))
		}
		if err1 == nil && surge < 0 || err2 == nil && unavail < 0 {
			errs = append(errs, field.Invalid(p.Child("rollingUpdate"), "", "maxSurge and maxUnavailable must be greater than or equal to 0"))
		}
	}
	return errs
}

func immutableSelector(old, new *metav1.LabelSelector) field.ErrorList {
	if string(mustJSON(old)) != string(mustJSON(new)) {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "selector"), new, "field is immutable")}
	}
	return nil
}
