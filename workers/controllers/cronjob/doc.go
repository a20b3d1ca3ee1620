// Package cronjob creates Jobs on a schedule.
//
// The core is Reconcile(cronJob, jobs, env) → Result, pure with the clock
// injected. spec.schedule is standard five-field cron or a descriptor
// (@yearly, @monthly, @weekly, @daily, @midnight, @hourly, @every <d>),
// read in spec.timeZone (unset: UTC; Kubernetes uses the controller's
// local zone). The run due is the latest schedule time after the last
// one (status.lastScheduleTime, else the creation time) and not after
// now; it is skipped if startingDeadlineSeconds have passed since it. Its
// Job is named <cronjob>-<minutes since the epoch>, so a time runs once.
// concurrencyPolicy Forbid leaves a due run waiting while one is active
// (it starts when that one finishes, deadline permitting); Replace deletes
// the active runs first; Allow runs alongside. Finished Jobs beyond
// successfulJobsHistoryLimit (default 3) and failedJobsHistoryLimit
// (default 1) are deleted, oldest first. suspend stops new runs.
//
// Subscribes: CronJob events and events of Jobs a CronJob controls
// (created, status changed, deleted), consumer "controller-cronjob". Each
// CronJob is also woken at its next schedule time by a timer on the
// injected Clock.
//
// Sends: create job, delete job, status cronjob (active,
// lastScheduleTime, lastSuccessfulTime).
//
// Metrics: controller_cronjob_reconciles_total{result},
// controller_cronjob_jobs_started_total, controller_cronjob_runs_skipped_total.
//
// Ready when: the CronJob and Job projections have caught up with the
// stream tail and this replica holds the leader lease.
package cronjob
