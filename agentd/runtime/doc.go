// Package runtime runs pods on a node. Runtime is the small contract the
// agent's pod worker uses; Containerd implements it on containerd + runc
// with CNI networking (package agentd/cni).
//
// A pod is a network namespace that all its containers join, so they share
// an IP and localhost; there is no pause container. Its record (pod.json,
// /etc/hosts, /etc/hostname, /etc/resolv.conf, volumes, logs) lives under
// DataDir/pods/<uid>/, and its containers are containerd containers in the
// caller's containerd namespace, labelled with the pod uid, name, namespace,
// container name and attempt. Both survive an agent restart, so a new
// Runtime lists (adopts) what the old one started.
//
// Container output goes, through the runc shim, to one file per container
// per attempt (logs/<container>/<attempt>.log), which is what makes
// --previous, --tail and follow work and keeps logs across agent restarts.
//
// When a container's task exits, the runtime records exit code, finish time
// and reason (Completed, Error, OOMKilled from the cgroup's oom_kill counter,
// read before the task is deleted) in the container's labels and deletes the
// task. Exits are learnt from one subscription to containerd's /tasks/exit
// events for the namespace (OnExit, WaitContainer), not from a Wait stream
// per container.
package runtime
