package agent

import (
	"errors"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Config is what an agent needs to know about its node and its timings.
// Zero durations take the defaults given beside them.
type Config struct {
	NodeName string
	// Labels are set on the Node at registration (kubernetes.io/hostname,
	// kubernetes.io/os and kubernetes.io/arch are added).
	Labels map[string]string
	// Taints are set when the Node is first registered (as the kubelet's
	// --register-with-taints); later changes are the cluster's.
	Taints []corev1.Taint
	// PodCIDR is the node's pod network, e.g. "10.244.1.0/24".
	PodCIDR string
	// NodeIP is the node's InternalIP (default: the first global IPv4 address).
	NodeIP string
	// ClusterDNS are the nameservers written to pods' resolv.conf (ClusterFirst).
	ClusterDNS []string
	// ClusterDomain is the DNS search suffix (default "cluster.local").
	ClusterDomain string
	// MaxPods is the node's pod capacity (default 110).
	MaxPods int64

	LeaseInterval   time.Duration // lease renewal (5s)
	LeaseDuration   time.Duration // how long a lease holds without renewal (40s)
	MetricsInterval time.Duration // usage published on the metrics subject (10s)
	// ResyncInterval: each pod is reconciled at least this often, which is
	// also how often configMap and secret volumes are re-read (10s).
	ResyncInterval time.Duration
	Backoff        Backoff

	Clock Clock
	Log   *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.NodeName == "" {
		return c, errors.New("agent: Config.NodeName is required")
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.MaxPods == 0 {
		c.MaxPods = 110
	}
	c.LeaseInterval = orDefault(c.LeaseInterval, 5*time.Second)
	c.LeaseDuration = orDefault(c.LeaseDuration, 40*time.Second)
	c.MetricsInterval = orDefault(c.MetricsInterval, 10*time.Second)
	c.ResyncInterval = orDefault(c.ResyncInterval, 10*time.Second)
	c.Backoff = c.Backoff.withDefaults()
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Clock is the time the agent reads; tests inject their own.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
