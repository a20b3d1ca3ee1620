// Package e2e holds the end-to-end tests and the benchmark of the
// scheduling workers: an in-process control plane on an embedded
// JetStream (command service, projector, queries), the scheduler and the
// workload controllers wired as `gantry up` wires them, and hollow nodes
// (agentd/hollow) standing in for agents. Tests wait on events (View
// changes), never on sleeps, and every wait is bounded.
//
//	go test ./workers/e2e/
//	go test ./workers/e2e/ -run '^$' -bench Scheduling -benchtime 1x
package e2e
