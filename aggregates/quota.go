package aggregates

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Quota rules. A ResourceQuota caps what a namespace may hold: pods,
// requests.cpu, requests.memory, limits.cpu, limits.memory, cpu and memory
// (requests), services, configmaps, secrets, and count/<resource>[.<group>]
// for any kind. Creating an object charges its usage to every quota of its
// namespace; if any hard limit would be exceeded the create is forbidden
// and nothing is charged. Deleting it releases the charge. A LimitRange
// fills in a container's default requests and limits, and refuses what is
// outside its min and max.

// ResourceQuota is the kind; its status.used is kept by the command service.
func ResourceQuota() *Kind {
	return &Kind{
		Name: "ResourceQuota", Token: "resourcequota", Plural: "resourcequotas", Aliases: []string{"quota"},
		Version: "v1", Namespaced: true,
		New: func() Object { return &corev1.ResourceQuota{} },
		Validate: func(o Object) field.ErrorList {
			var errs field.ErrorList
			for name, q := range o.(*corev1.ResourceQuota).Spec.Hard {
				if q.Sign() < 0 {
					errs = append(errs, field.Invalid(field.NewPath("spec", "hard").Key(string(name)), q.String(), "must be greater than or equal to 0"))
				}
			}
			return errs
		},
	}
}

// LimitRange is the kind.
func LimitRange() *Kind {
	return &Kind{
		Name: "LimitRange", Token: "limitrange", Plural: "limitranges", Aliases: []string{"limits"},
		Version: "v1", Namespaced: true,
		New: func() Object { return &corev1.LimitRange{} },
		Validate: func(o Object) field.ErrorList {
			var errs field.ErrorList
			for i, it := range o.(*corev1.LimitRange).Spec.Limits {
				errs = append(errs, oneOf(string(it.Type), field.NewPath("spec", "limits").Index(i).Child("type"), "Container", "Pod")...)
			}
			return errs
		},
	}
}

// Usage is what one object counts against quotas.
func Usage(k *Kind, obj Object) corev1.ResourceList {
	u := corev1.ResourceList{countName(k): resource.MustParse("1")}
	switch k.Token {
	case "pod":
		u[corev1.ResourcePods] = resource.MustParse("1")
		for name, q := range podResources(obj.(*corev1.Pod), false) {
			u["requests."+name] = q
			u[name] = q
		}
		for name, q := range podResources(obj.(*corev1.Pod), true) {
			u["limits."+name] = q
		}
	case "service", "configmap", "secret":
		u[corev1.ResourceName(k.Plural)] = resource.MustParse("1")
	}
	return u
}

func countName(k *Kind) corev1.ResourceName {
	if k.Group == "" {
		return corev1.ResourceName("count/" + k.Plural)
	}
	return corev1.ResourceName("count/" + k.Plural + "." + k.Group)
}

// podResources sums app containers' requests (or limits), taking the
// largest init container where that is larger, as Kubernetes does.
func podResources(p *corev1.Pod, limits bool) corev1.ResourceList {
	pick := func(c corev1.Container) corev1.ResourceList {
		if limits {
			return c.Resources.Limits
		}
		return c.Resources.Requests
	}
	sum := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := pick(c)[name]; ok {
				cur := sum[name]
				cur.Add(q)
				sum[name] = cur
			}
		}
	}
	for _, c := range p.Spec.InitContainers {
		for name, q := range pick(c) {
			if cur, ok := sum[name]; (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && (!ok || q.Cmp(cur) > 0) {
				sum[name] = q.DeepCopy()
			}
		}
	}
	return sum
}

// Charge adds usage to the quota's used amounts, or refuses with the
// quota's name and what would be exceeded, in Kubernetes' words.
func Charge(q *corev1.ResourceQuota, k *Kind, name string, usage corev1.ResourceList) (corev1.ResourceList, error) {
	used := q.Status.Used.DeepCopy()
	if used == nil {
		used = corev1.ResourceList{}
	}
	var requested, current, limited []string
	for res, hard := range q.Spec.Hard {
		req, ok := usage[res]
		if !ok {
			continue
		}
		next := used[res].DeepCopy()
		next.Add(req)
		if next.Cmp(hard) > 0 {
			cur := used[res]
			requested = append(requested, string(res)+"="+req.String())
			current = append(current, string(res)+"="+cur.String())
			limited = append(limited, string(res)+"="+hard.String())
			continue
		}
		used[res] = next
	}
	if len(requested) > 0 {
		sort.Strings(requested)
		sort.Strings(current)
		sort.Strings(limited)
		return nil, apierrors.NewForbidden(k.GroupResource(), name, fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s",
			q.Name, strings.Join(requested, ","), strings.Join(current, ","), strings.Join(limited, ",")))
	}
	return used, nil
}

// Release takes usage off the quota's used amounts (never below zero).
func Release(q *corev1.ResourceQuota, usage corev1.ResourceList) corev1.ResourceList {
	used := q.Status.Used.DeepCopy()
	for res, amount := range usage {
		cur, ok := used[res]
		if !ok {
			continue
		}
		cur.Sub(amount)
		if cur.Sign() < 0 {
			cur = resource.MustParse("0")
		}
		used[res] = cur
	}
	return used
}

// ApplyLimitRanges fills in containers' default requests and limits and
// refuses a container outside a range's min or max.
func ApplyLimitRanges(pod *corev1.Pod, ranges []*corev1.LimitRange) error {
	var errs field.ErrorList
	for _, lr := range ranges {
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypeContainer {
				continue
			}
			for i := range pod.Spec.Containers {
				c := &pod.Spec.Containers[i]
				defaultResources(&c.Resources, item)
				errs = append(errs, checkRange(lr.Name, c, item, field.NewPath("spec", "containers").Index(i).Child("resources"))...)
			}
		}
	}
	if len(errs) > 0 {
		return apierrors.NewForbidden(Pod().GroupResource(), pod.Name, errs.ToAggregate())
	}
	return nil
}

func defaultResources(r *corev1.ResourceRequirements, item corev1.LimitRangeItem) {
	for name, q := range item.Default {
		if _, ok := r.Limits[name]; !ok {
			if r.Limits == nil {
				r.Limits = corev1.ResourceList{}
			}
			r.Limits[name] = q.DeepCopy()
		}
	}
	for name, q := range item.DefaultRequest {
		if _, ok := r.Requests[name]; !ok {
			if r.Requests == nil {
				r.Requests = corev1.ResourceList{}
			}
			r.Requests[name] = q.DeepCopy()
		}
	}
	for name, q := range r.Limits { // a request defaults to its limit
		if _, ok := r.Requests[name]; !ok {
			if r.Requests == nil {
				r.Requests = corev1.ResourceList{}
			}
			r.Requests[name] = q.DeepCopy()
		}
	}
}

func checkRange(lr string, c *corev1.Container, item corev1.LimitRangeItem, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, max := range item.Max {
		if lim, ok := c.Resources.Limits[name]; ok && lim.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(p.Child("limits").Key(string(name)), lim.String(), fmt.Sprintf("maximum %s usage per Container is %s (LimitRange %s)", name, max.String(), lr)))
		}
	}
	for name, min := range item.Min {
		if req, ok := c.Resources.Requests[name]; ok && req.Cmp(min) < 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), req.String(), fmt.Sprintf("minimum %s usage per Container is %s (LimitRange %s)", name, min.String(), lr)))
		}
	}
	return errs
}
