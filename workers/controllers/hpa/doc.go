// Package hpa runs autoscaling/v2 HorizontalPodAutoscalers on Resource
// metrics (cpu, memory) from the node agents.
//
// The core is Reconcile(hpa, target, state, env) → Result, pure with the
// clock and the pod samples injected; State (recent recommendations and
// scale events) is kept in memory by the loop, as Kubernetes does. Per
// metric: usage summed over the running pods that have a sample, as
// utilization of their requests (averageUtilization) or per pod
// (averageValue); desired = ceil(ratio × pods measured), no change within
// 10%; the largest over metrics. Then behavior: scale up to the lowest and
// down to the highest recommendation of the stabilization window (default
// 0s up, 300s down), the rate policies (default up: max of 100% and 4
// pods per 15s; down: 100% per 15s; selectPolicy Max/Min/Disabled), then
// minReplicas (default 1) and maxReplicas.
//
// Metrics source: agents publish NodeUsage JSON on bus.MetricsSubject(node)
// every few seconds ({"node","time","pods":[{"namespace","name","uid",
// "containers":[{"name","cpuUsageNanoseconds","cpuMillicores",
// "memoryWorkingSetBytes"}]}]}); BusMetrics subscribes to bus.AllMetrics
// and keeps each pod's latest sample.
//
// Not yet: Pods, Object, External and ContainerResource metrics; the
// missing-metric and not-yet-ready pod adjustments (pods without a sample
// are left out of the average); the CPU initialization period.
//
// Subscribes: HorizontalPodAutoscaler events, consumer "controller-hpa";
// bus.AllMetrics (plain NATS). Reads the scale target (Deployment,
// ReplicaSet, StatefulSet) and its pods from the view. Every HPA is
// evaluated every Sync (default 15s).
//
// Sends: scale <target kind>, with the metric values that caused it in
// the command's reason; status horizontalpodautoscaler (currentReplicas,
// desiredReplicas, currentMetrics, lastScaleTime, conditions AbleToScale,
// ScalingActive, ScalingLimited).
//
// Metrics: controller_hpa_reconciles_total{result},
// controller_hpa_scales_total{direction}.
//
// Ready when: the view has caught up with the stream tail, metrics have
// arrived for a Sync period, and this replica holds the leader lease.
package hpa
