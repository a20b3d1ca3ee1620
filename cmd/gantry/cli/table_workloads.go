package cli

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// moreTables are the columns of the kinds beyond the first issue's, as
// kubectl prints them.
var moreTables = map[string]columns{
	"node":                    {head: []string{"STATUS"}, wide: []string{"INTERNAL-IP", "POD-CIDR"}, row: typed(nodeRow)},
	"daemonset":               {head: []string{"DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE"}, row: typed(daemonSetRow)},
	"statefulset":             {head: []string{"READY"}, row: typed(statefulSetRow)},
	"job":                     {head: []string{"STATUS", "COMPLETIONS"}, row: typed(jobRow)},
	"cronjob":                 {head: []string{"SCHEDULE", "SUSPEND", "ACTIVE", "LAST SCHEDULE"}, row: typed(cronJobRow)},
	"horizontalpodautoscaler": {head: []string{"REFERENCE", "MINPODS", "MAXPODS", "REPLICAS"}, row: typed(hpaRow)},
	"resourcequota":           {head: []string{"REQUEST"}, row: typed(quotaRow)},
}

func nodeRow(o *corev1.Node) ([]string, []string) {
	status := "NotReady"
	for _, c := range o.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			status = "Ready"
		}
	}
	if o.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	ip := "<none>"
	for _, a := range o.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = a.Address
		}
	}
	return []string{status}, []string{ip, or(o.Spec.PodCIDR, "<none>")}
}

func daemonSetRow(o *appsv1.DaemonSet) ([]string, []string) {
	s := o.Status
	return []string{fmt.Sprint(s.DesiredNumberScheduled), fmt.Sprint(s.CurrentNumberScheduled), fmt.Sprint(s.NumberReady), fmt.Sprint(s.UpdatedNumberScheduled), fmt.Sprint(s.NumberAvailable)}, nil
}

func statefulSetRow(o *appsv1.StatefulSet) ([]string, []string) {
	return []string{fmt.Sprintf("%d/%d", o.Status.ReadyReplicas, deref(o.Spec.Replicas))}, nil
}

func jobRow(o *batchv1.Job) ([]string, []string) {
	status := "Running"
	for _, c := range o.Status.Conditions {
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
			status = string(c.Type)
		}
	}
	want := int32(1)
	if o.Spec.Completions != nil {
		want = *o.Spec.Completions
	}
	return []string{status, fmt.Sprintf("%d/%d", o.Status.Succeeded, want)}, nil
}

func cronJobRow(o *batchv1.CronJob) ([]string, []string) {
	last := "<none>"
	if o.Status.LastScheduleTime != nil {
		last = age(*o.Status.LastScheduleTime)
	}
	suspend := o.Spec.Suspend != nil && *o.Spec.Suspend
	return []string{o.Spec.Schedule, fmt.Sprint(suspend), fmt.Sprint(len(o.Status.Active)), last}, nil
}

func hpaRow(o *autoscalingv2.HorizontalPodAutoscaler) ([]string, []string) {
	min := int32(1)
	if o.Spec.MinReplicas != nil {
		min = *o.Spec.MinReplicas
	}
	ref := o.Spec.ScaleTargetRef.Kind + "/" + o.Spec.ScaleTargetRef.Name
	return []string{ref, fmt.Sprint(min), fmt.Sprint(o.Spec.MaxReplicas), fmt.Sprint(o.Status.CurrentReplicas)}, nil
}

func quotaRow(o *corev1.ResourceQuota) ([]string, []string) {
	var parts []string
	for name, hard := range o.Spec.Hard {
		used := o.Status.Used[name]
		parts = append(parts, fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String()))
	}
	sort.Strings(parts)
	return []string{or(strings.Join(parts, ", "), "<none>")}, nil
}
