// Package containerd runs containerd as a supervised part of the node agent.
//
// Ensure uses the containerd answering at Options.Address if there is one
// (a system daemon, or another agent's), and otherwise starts a containerd
// process of its own with root, state and socket under Options.DataDir and
// the CRI plugin disabled (Gantry does not speak CRI). The returned Daemon
// holds a connected client; Close stops the daemon only if Ensure started
// it, by PID.
//
// Client version: the client is github.com/containerd/containerd/v2 v2.4.2.
// It speaks the containerd 1.x gRPC API that Debian 12's daemon (1.6.20)
// serves, as well as 1.7 and 2.x daemons, as long as Gantry sticks to the
// classic services (images, content, snapshots, containers, tasks, events)
// and the client-side Pull. The v2-only Transfer and Sandbox services do not
// exist on 1.6 and must not be used.
package containerd
