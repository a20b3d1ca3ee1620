package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-sh/gantry/agentd/runtime"
	"github.com/gantry-sh/gantry/projections"
)

// env resolves a container's environment: envFrom, then env, with
// valueFrom (configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef)
// read now and $(VAR) references expanded, as the kubelet does.
func (w *podWorker) env(ctx context.Context, pod *corev1.Pod, c corev1.Container) ([]corev1.EnvVar, error) {
	out := []corev1.EnvVar{}
	vars := map[string]string{}
	set := func(name, value string) {
		vars[name] = value
		out = append(out, corev1.EnvVar{Name: name, Value: value})
	}
	for _, from := range c.EnvFrom {
		data, err := w.envSource(ctx, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		for k, v := range data {
			set(from.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, vars))
			continue
		}
		v, ok, err := w.valueFrom(ctx, pod, c, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	return out, nil
}

func (w *podWorker) envSource(ctx context.Context, ns string, from corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := w.a.configMap(ctx, ns, from.ConfigMapRef.Name)
		if optionalMissing(err, from.ConfigMapRef.Optional) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := w.a.secret(ctx, ns, from.SecretRef.Name)
		if optionalMissing(err, from.SecretRef.Optional) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		for k, v := range s.Data {
			m[k] = string(v)
		}
		return m, nil
	}
	return nil, nil
}

func (w *podWorker) valueFrom(ctx context.Context, pod *corev1.Pod, c corev1.Container, src *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := w.a.configMap(ctx, pod.Namespace, ref.Name)
		if optionalMissing(err, ref.Optional) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok && !isTrue(ref.Optional) {
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return v, ok, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := w.a.secret(ctx, pod.Namespace, ref.Name)
		if optionalMissing(err, ref.Optional) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		v, ok := s.Data[ref.Key]
		if !ok && !isTrue(ref.Optional) {
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), ok, nil
	case src.FieldRef != nil:
		v, err := w.field(pod, src.FieldRef.FieldPath)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := w.a.resourceField(c, src.ResourceFieldRef)
		return v, err == nil, err
	}
	return "", false, nil
}

// field answers the downward API's fieldRef paths.
func (w *podWorker) field(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return w.info.IP, nil
	case "status.hostIP", "status.hostIPs":
		return w.a.nodeIP(), nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if key, ok := strings.CutPrefix(path, prefix+"['"); ok && strings.HasSuffix(key, "']") {
			return m[strings.TrimSuffix(key, "']")], nil
		}
	}
	return "", fmt.Errorf("fieldRef %q is not supported", path)
}

// resourceField answers resourceFieldRef; without a limit it is the
// node's allocatable, as in Kubernetes.
func (a *Agent) resourceField(c corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("resourceFieldRef %q is not supported", ref.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		q, ok = a.nodeStatus(a.cfg.Clock.Now()).Allocatable[corev1.ResourceName(name)]
	}
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %q is not supported", ref.Resource)
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	// ceil(q / divisor), computed in milli-units
	n := (q.MilliValue() + div.MilliValue() - 1) / div.MilliValue()
	return strconv.FormatInt(n, 10), nil
}

func optionalMissing(err error, optional *bool) bool {
	return err != nil && apierrors.IsNotFound(err) && isTrue(optional)
}

func isTrue(b *bool) bool { return b != nil && *b }

// expand replaces $(NAME) with earlier variables' values; $$ is a literal
// $; unknown references stay as written.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) {
			switch s[i+1] {
			case '$':
				b.WriteByte('$')
				i++
				continue
			case '(':
				if j := strings.IndexByte(s[i+2:], ')'); j >= 0 {
					if v, ok := vars[s[i+2:i+2+j]]; ok {
						b.WriteString(v)
					} else {
						b.WriteString(s[i : i+3+j])
					}
					i += 2 + j
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// expandCommand expands $(VAR) in command and args with the resolved env.
func expandCommand(c corev1.Container, env []corev1.EnvVar) corev1.Container {
	vars := map[string]string{}
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	c.Command = append([]string(nil), c.Command...)
	c.Args = append([]string(nil), c.Args...)
	for i := range c.Command {
		c.Command[i] = expand(c.Command[i], vars)
	}
	for i := range c.Args {
		c.Args[i] = expand(c.Args[i], vars)
	}
	if len(c.Command) == 0 {
		c.Command = nil
	}
	if len(c.Args) == 0 {
		c.Args = nil
	}
	return c
}

// configMap and secret read through the query API (never the stream).
func (a *Agent) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	return cm, a.get(ctx, "configmap", ns, name, cm)
}

func (a *Agent) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := a.get(ctx, "secret", ns, name, s); err != nil {
		return nil, err
	}
	for k, v := range s.StringData {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[k] = []byte(v)
	}
	return s, nil
}

func (a *Agent) get(ctx context.Context, kind, ns, name string, out any) error {
	var resp projections.ListResponse
	req := projections.ListRequest{Kind: kind, Namespace: ns, Name: name}
	if err := a.client.Query(ctx, projections.QueryList, req, &resp); err != nil {
		return err
	}
	if len(resp.Items) == 0 {
		return apierrors.NewNotFound(corev1.Resource(kind), name)
	}
	return json.Unmarshal(resp.Items[0], out)
}

// dnsConfig is the pod's resolv.conf: the cluster DNS with the search path
// for ClusterFirst (when a cluster DNS is configured), the node's own
// nameservers for Default, and the pod's dnsConfig merged in.
func (a *Agent) dnsConfig(pod *corev1.Pod) runtime.DNSConfig {
	var d runtime.DNSConfig
	policy := pod.Spec.DNSPolicy
	if policy == corev1.DNSClusterFirstWithHostNet {
		policy = corev1.DNSClusterFirst
	}
	switch {
	case policy == corev1.DNSNone:
	case policy == corev1.DNSClusterFirst && len(a.cfg.ClusterDNS) > 0:
		dom := a.cfg.ClusterDomain
		d.Nameservers = append(d.Nameservers, a.cfg.ClusterDNS...)
		d.Searches = []string{pod.Namespace + ".svc." + dom, "svc." + dom, dom}
		d.Options = []string{"ndots:5"}
	default:
		d.Nameservers, d.Searches = hostResolv()
	}
	if c := pod.Spec.DNSConfig; c != nil {
		d.Nameservers = append(d.Nameservers, c.Nameservers...)
		d.Searches = append(d.Searches, c.Searches...)
		for _, o := range c.Options {
			if o.Value != nil {
				d.Options = append(d.Options, o.Name+":"+*o.Value)
			} else {
				d.Options = append(d.Options, o.Name)
			}
		}
	}
	return d
}

func hostResolv() (ns, search []string) {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			ns = append(ns, f[1])
		case "search":
			search = append(search, f[1:]...)
		}
	}
	return ns, search
}
