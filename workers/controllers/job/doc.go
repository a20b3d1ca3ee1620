// Package job runs batch Jobs to completion.
//
// The core is Reconcile(job, pods, env) → Result, pure with the clock and
// pod names injected. Non-indexed Jobs: keep min(parallelism, remaining
// completions) pods active; Complete at spec.completions successes (or,
// with completions unset, the work-queue rule: a success and nothing
// active); Failed with BackoffLimitExceeded once failures (plus container
// restarts under restartPolicy OnFailure) pass backoffLimit (default 6), or
// DeadlineExceeded once activeDeadlineSeconds have passed since startTime;
// a finished or suspended Job has its active pods deleted.
//
// Not yet: Indexed completion mode (rejected with an error), podFailurePolicy,
// successPolicy, the failed-pod re-creation back-off, pod tracking
// finalizers (counts come from the pods passed in, so finished pods must
// stay until the Job is finished), ttlSecondsAfterFinished.
//
// Subscribes: Job events (created, parallelism changed, suspended,
// deleted) and pod events of pods controlled by a Job (phase and readiness
// changes, deleted), one durable consumer "controller-job".
//
// Sends: create pod, delete pod, update Job status (active, ready,
// succeeded, failed, startTime, completionTime, Complete/Failed
// conditions). Requeues after Result.RequeueAfter for the deadline.
//
// Metrics: controller_job_reconciles_total{result},
// controller_job_pods_created_total, controller_job_finished_total{condition,reason}.
//
// Ready when: the Job and pod projections have caught up with the stream
// tail and this replica holds the leader lease.
package job
