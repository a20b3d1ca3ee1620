package deployment

import (
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ErrInvalid classifies a Deployment the controller refuses to roll out.
var ErrInvalid = errors.New("invalid deployment")

// Defaults applied when a field is unset, as in apps/v1.
const (
	defaultRevisionHistoryLimit    = 10
	defaultProgressDeadlineSeconds = 600
)

// defaultRollingPercent is the apps/v1 default of maxSurge and maxUnavailable.
const defaultRollingPercent = "25%"

// Validate checks the rolling update parameters: each an int or a
// percentage, not negative, not both zero.
func Validate(d *appsv1.Deployment) error {
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return nil
	}
	surge, unavail := rollingParams(d)
	s, err := intstr.GetScaledValueFromIntOrPercent(&surge, 100, true)
	if err != nil || s < 0 {
		return fmt.Errorf("deployment %s/%s: spec.strategy.rollingUpdate.maxSurge %q: must be a non-negative integer or percentage: %w", d.Namespace, d.Name, surge.String(), ErrInvalid)
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(&unavail, 100, false)
	if err != nil || u < 0 {
		return fmt.Errorf("deployment %s/%s: spec.strategy.rollingUpdate.maxUnavailable %q: must be a non-negative integer or percentage: %w", d.Namespace, d.Name, unavail.String(), ErrInvalid)
	}
	if s == 0 && u == 0 {
		return fmt.Errorf("deployment %s/%s: spec.strategy.rollingUpdate: maxSurge and maxUnavailable may not both be 0: %w", d.Namespace, d.Name, ErrInvalid)
	}
	return nil
}

func rollingParams(d *appsv1.Deployment) (surge, unavail intstr.IntOrString) {
	surge, unavail = intstr.FromString(defaultRollingPercent), intstr.FromString(defaultRollingPercent)
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			surge = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			unavail = *ru.MaxUnavailable
		}
	}
	return surge, unavail
}

// resolveFenceposts turns maxSurge and maxUnavailable into pod counts for
// the desired replicas: surge rounds up, unavailable rounds down, and if
// both come to zero maxUnavailable becomes 1 so the rollout can move.
func resolveFenceposts(d *appsv1.Deployment) (surge, unavail int32) {
	s, u := rollingParams(d)
	desired := int(replicas(d))
	surgeN, _ := intstr.GetScaledValueFromIntOrPercent(&s, desired, true)
	unavailN, _ := intstr.GetScaledValueFromIntOrPercent(&u, desired, false)
	if surgeN == 0 && unavailN == 0 {
		unavailN = 1
	}
	return int32(surgeN), int32(unavailN)
}

func isRolling(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType
}

// maxSurge is the pods allowed above replicas (0 for Recreate).
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRolling(d) {
		return 0
	}
	s, _ := resolveFenceposts(d)
	return s
}

// maxUnavailable is the pods allowed below replicas, at most replicas.
func maxUnavailable(d *appsv1.Deployment) int32 {
	if !isRolling(d) || replicas(d) == 0 {
		return 0
	}
	_, u := resolveFenceposts(d)
	return min(u, replicas(d))
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}
