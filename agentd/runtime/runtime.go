package runtime

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gantry-sh/gantry/agentd/cni"
	corev1 "k8s.io/api/core/v1"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotFound: no such pod or container on this node.
	ErrNotFound = errors.New("not found")
	// ErrImagePull: the image could not be pulled; the message carries the registry's.
	ErrImagePull = errors.New("ErrImagePull")
	// ErrImageNeverPull: policy Never and the image is not present.
	ErrImageNeverPull = errors.New("ErrImageNeverPull")
	// ErrAlreadyRunning: a container of that name is already running in the pod.
	ErrAlreadyRunning = errors.New("container already running")
)

// Runtime runs pods and their containers on this node.
type Runtime interface {
	EnsureImage(ctx context.Context, ref string, policy corev1.PullPolicy) error
	// RunPod sets a pod up; the containers in start are created while its
	// network is attached and started once it is (see Containerd.RunPod).
	RunPod(ctx context.Context, pod PodSpec, start ...ContainerSpec) (PodInfo, error)
	StartContainer(ctx context.Context, podUID string, c ContainerSpec) error
	StopContainer(ctx context.Context, podUID, name string, grace time.Duration) error
	WaitContainer(ctx context.Context, podUID, name string) (ContainerStatus, error)
	ContainerStatus(ctx context.Context, podUID, name string) (ContainerStatus, error)
	Logs(ctx context.Context, podUID, name string, opts LogOptions, w io.Writer) error
	Exec(ctx context.Context, podUID, name string, opts ExecOptions) (int, error)
	ListPods(ctx context.Context) ([]PodInfo, error)
	RemovePod(ctx context.Context, podUID string) error
}

// PodSpec is what the runtime needs to set a pod up.
type PodSpec struct {
	UID, Name, Namespace string
	Hostname             string
	DNS                  DNSConfig
	HostAliases          []corev1.HostAlias
	Ports                []cni.PortMapping
}

// DNSConfig becomes the pod's /etc/resolv.conf.
type DNSConfig struct {
	Nameservers, Searches, Options []string
}

// PodInfo is a pod present on the node.
type PodInfo struct {
	UID, Name, Namespace string
	IP                   string
	Netns                string
	Containers           []ContainerStatus
}

// ContainerSpec is one container to start in a pod.
type ContainerSpec struct {
	Container corev1.Container
	// Env, when not nil, replaces Container.Env: the caller resolves
	// valueFrom (configMap, secret, fieldRef) into plain values.
	Env []corev1.EnvVar
	// Mounts are the volumes the caller prepared (EmptyDir, FilesDir, hostPath).
	Mounts []Mount
	// Attempt counts restarts, from 0.
	Attempt int
}

// Mount binds a host path into the container.
type Mount struct {
	ContainerPath, HostPath string
	ReadOnly                bool
}

// State of a container.
type State string

const (
	StateCreated State = "Created"
	StateRunning State = "Running"
	StateExited  State = "Exited"
)

// Reasons for an exited container, as Kubernetes names them.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
)

// ContainerStatus is a container's observed state.
type ContainerStatus struct {
	Name, ID, Image string
	Attempt         int
	State           State
	ExitCode        int
	Reason          string
	StartedAt       time.Time
	FinishedAt      time.Time
}

// LogOptions select what Logs writes.
type LogOptions struct {
	Previous bool
	Tail     int // lines from the end; 0 means all
	Follow   bool
}

// ExecOptions describe a command run in a running container.
type ExecOptions struct {
	Cmd    []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
}
