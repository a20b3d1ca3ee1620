package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gantry-sh/gantry/agentd/runtime"
)

// probeSet holds the probe results of one container attempt.
type probeSet struct {
	attempt int
	cancel  context.CancelFunc

	mu      sync.Mutex
	ready   bool
	started bool
	kill    string // why the container must be restarted
}

func (ps *probeSet) isReady() bool   { ps.mu.Lock(); defer ps.mu.Unlock(); return ps.ready }
func (ps *probeSet) isStarted() bool { ps.mu.Lock(); defer ps.mu.Unlock(); return ps.started }

func (ps *probeSet) killReason() string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.kill
}

type probeKind string

const (
	probeStartup   probeKind = "startup"
	probeLiveness  probeKind = "liveness"
	probeReadiness probeKind = "readiness"
)

// startProbes runs the container's probes until the attempt ends. Without
// a startup probe the container counts as started; without a readiness
// probe, as ready once started.
func (w *podWorker) startProbes(ctx context.Context, c corev1.Container, attempt int) *probeSet {
	pctx, cancel := context.WithCancel(ctx)
	ps := &probeSet{attempt: attempt, cancel: cancel, started: c.StartupProbe == nil, ready: c.ReadinessProbe == nil}
	for kind, p := range map[probeKind]*corev1.Probe{probeStartup: c.StartupProbe, probeLiveness: c.LivenessProbe, probeReadiness: c.ReadinessProbe} {
		if p != nil {
			go w.probeLoop(pctx, c, kind, p, ps)
		}
	}
	return ps
}

// probeLoop probes every periodSeconds until ctx ends (the attempt ended)
// or, for startup and liveness, until it has decided.
func (w *podWorker) probeLoop(ctx context.Context, c corev1.Container, kind probeKind, p *corev1.Probe, ps *probeSet) {
	period := seconds(p.PeriodSeconds, 10)
	success, failure := int(max(p.SuccessThreshold, 1)), int(max(p.FailureThreshold, 1))
	if !sleepCtx(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
		return
	}
	okRun, failRun := 0, 0
	for ; ; sleepCtx(ctx, period) {
		if ctx.Err() != nil {
			return
		}
		if kind != probeStartup && !ps.isStarted() {
			continue
		}
		err := w.probeOnce(ctx, c, p)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			okRun, failRun = okRun+1, 0
		} else {
			okRun, failRun = 0, failRun+1
		}
		if w.record(kind, ps, okRun >= success, failRun >= failure, err) {
			w.poke()
		}
		startupDecided := kind == probeStartup && (okRun >= success || failRun >= failure)
		if startupDecided || kind == probeLiveness && failRun >= failure {
			return // the container started, or must be restarted
		}
	}
}

// record applies one probe outcome and reports whether anything changed.
func (w *podWorker) record(kind probeKind, ps *probeSet, passed, failed bool, err error) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	switch kind {
	case probeStartup:
		if passed {
			ps.started = true
			return true
		}
		if failed {
			ps.kill = fmt.Sprintf("startup probe failed: %v", err)
			return true
		}
	case probeLiveness:
		if failed {
			ps.kill = fmt.Sprintf("%s: %v", reasonLivenessProbeFailed, err)
			return true
		}
	case probeReadiness:
		if passed && !ps.ready {
			ps.ready = true
			return true
		}
		if failed && ps.ready {
			ps.ready = false
			return true
		}
	}
	return false
}

// probeOnce runs one exec, httpGet or tcpSocket check within timeoutSeconds.
func (w *podWorker) probeOnce(ctx context.Context, c corev1.Container, p *corev1.Probe) error {
	ctx, cancel := context.WithTimeout(ctx, seconds(p.TimeoutSeconds, 1))
	defer cancel()
	switch {
	case p.Exec != nil:
		code, err := w.a.rt.Exec(ctx, w.uid, c.Name, runtime.ExecOptions{Cmd: p.Exec.Command})
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d", strings.Join(p.Exec.Command, " "), code)
		}
		return nil
	case p.HTTPGet != nil:
		return w.probeHTTP(ctx, c, p.HTTPGet)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = w.info.IP
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return nil // grpc probes are not implemented: they pass
}

func (w *podWorker) probeHTTP(ctx context.Context, c corev1.Container, g *corev1.HTTPGetAction) error {
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return err
	}
	host := g.Host
	if host == "" {
		host = w.info.IP
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "gantry-probe/1.0")
	for _, h := range g.HTTPHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes do not verify, as in Kubernetes
		DisableKeepAlives: true,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// resolvePort turns a number or a named container port into a number.
func resolvePort(p intstr.IntOrString, c corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("port %q is not a container port of %s", p.StrVal, c.Name)
}

func seconds(n int32, def int) time.Duration {
	if n <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(n) * time.Second
}

// sleepCtx sleeps d, or less if ctx ends; it reports whether ctx is alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// carryOver keeps what the last reported status said of this very
// container attempt (same container ID: an agent restart adopted it): a
// ready container stays ready, a started one started, until its probes
// say otherwise. Readiness does not drop because the agent restarted.
func (w *podWorker) carryOver(ps *probeSet, name, id string) {
	for _, st := range w.prev.ContainerStatuses {
		if st.Name != name || st.ContainerID != "containerd://"+id || st.State.Running == nil {
			continue
		}
		ps.mu.Lock()
		ps.ready = ps.ready || st.Ready
		ps.started = ps.started || (st.Started != nil && *st.Started) || st.Ready
		ps.mu.Unlock()
	}
}
