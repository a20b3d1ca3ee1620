package ingress

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// ClassName is the IngressClass this router serves.
const ClassName = "gantry"

// Objects is what a route table is built from.
type Objects struct {
	Ingresses []*networkingv1.Ingress
	Services  map[string]*corev1.Service              // "ns/name"
	Slices    map[string][]*discoveryv1.EndpointSlice // by service "ns/name"
	Secrets   map[string]*corev1.Secret               // "ns/name"
}

// Table is an immutable route table.
type Table struct {
	hosts     map[string][]route // exact host; "" for rules without a host
	wildcards map[string][]route // "*.example.com" by "example.com"
	fallback  *backend
	certs     map[string]*tls.Certificate
	firstCert *tls.Certificate
	Warnings  []string
}

type route struct {
	path    string
	exact   bool
	backend *backend
}

// backend is the ready endpoints of one service port.
type backend struct {
	name      string // ns/service:port
	endpoints []string
	next      atomic.Uint64
}

func (b *backend) pick() (string, bool) {
	if b == nil || len(b.endpoints) == 0 {
		return "", false
	}
	return b.endpoints[b.next.Add(1)%uint64(len(b.endpoints))], true
}

// Serves reports whether ing is of this router's class.
func Serves(ing *networkingv1.Ingress) bool {
	if c := ing.Spec.IngressClassName; c != nil {
		return *c == ClassName
	}
	if a, ok := ing.Annotations["kubernetes.io/ingress.class"]; ok {
		return a == ClassName
	}
	return true
}

// Build makes the route table. Ingresses are taken in namespace/name
// order; the first to claim a host and path keeps it.
func Build(o Objects) *Table {
	t := &Table{hosts: map[string][]route{}, wildcards: map[string][]route{}, certs: map[string]*tls.Certificate{}}
	ings := append([]*networkingv1.Ingress(nil), o.Ingresses...)
	sort.Slice(ings, func(i, j int) bool { return ings[i].Namespace+"/"+ings[i].Name < ings[j].Namespace+"/"+ings[j].Name })
	for _, ing := range ings {
		if Serves(ing) {
			t.add(o, ing)
		}
	}
	for _, m := range []map[string][]route{t.hosts, t.wildcards} {
		for h := range m {
			sort.SliceStable(m[h], func(i, j int) bool { return better(m[h][i], m[h][j]) })
		}
	}
	return t
}

// better orders routes: longer paths first, Exact before Prefix.
func better(a, b route) bool {
	if len(a.path) != len(b.path) {
		return len(a.path) > len(b.path)
	}
	return a.exact && !b.exact
}

func (t *Table) add(o Objects, ing *networkingv1.Ingress) {
	if d := ing.Spec.DefaultBackend; d != nil && t.fallback == nil {
		t.fallback = t.resolve(o, ing.Namespace, d)
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		host := strings.ToLower(r.Host)
		target := t.hosts
		if rest, ok := strings.CutPrefix(host, "*."); ok {
			target, host = t.wildcards, rest
		}
		for _, p := range r.HTTP.Paths {
			rt := route{path: normalise(p.Path), exact: p.PathType != nil && *p.PathType == networkingv1.PathTypeExact}
			if taken(target[host], rt) {
				t.Warnings = append(t.Warnings, fmt.Sprintf("ingress %s/%s: %s%s is already routed", ing.Namespace, ing.Name, r.Host, p.Path))
				continue
			}
			rt.backend = t.resolve(o, ing.Namespace, &p.Backend)
			target[host] = append(target[host], rt)
		}
	}
	for _, tl := range ing.Spec.TLS {
		t.addCert(o, ing, tl)
	}
}

func normalise(p string) string {
	if p == "" {
		return "/"
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

func taken(routes []route, r route) bool {
	for _, x := range routes {
		if x.path == r.path && x.exact == r.exact {
			return true
		}
	}
	return false
}

func (t *Table) addCert(o Objects, ing *networkingv1.Ingress, tl networkingv1.IngressTLS) {
	sec := o.Secrets[ing.Namespace+"/"+tl.SecretName]
	if sec == nil {
		t.Warnings = append(t.Warnings, fmt.Sprintf("ingress %s/%s: secret %q not found", ing.Namespace, ing.Name, tl.SecretName))
		return
	}
	cert, err := tls.X509KeyPair(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Warnings = append(t.Warnings, fmt.Sprintf("ingress %s/%s: secret %q: %v", ing.Namespace, ing.Name, tl.SecretName, err))
		return
	}
	if t.firstCert == nil {
		t.firstCert = &cert
	}
	for _, h := range tl.Hosts {
		if _, ok := t.certs[strings.ToLower(h)]; !ok {
			t.certs[strings.ToLower(h)] = &cert
		}
	}
}

// resolve finds the ready endpoints of an ingress backend.
func (t *Table) resolve(o Objects, ns string, b *networkingv1.IngressBackend) *backend {
	if b.Service == nil {
		return &backend{name: "<resource backend>"}
	}
	key := ns + "/" + b.Service.Name
	out := &backend{name: fmt.Sprintf("%s:%s", key, portString(b.Service.Port))}
	svc := o.Services[key]
	if svc == nil {
		return out
	}
	sp, ok := servicePort(svc, b.Service.Port)
	if !ok {
		return out
	}
	seen := map[string]bool{}
	for _, es := range o.Slices[key] {
		port, ok := slicePort(es, sp.Name)
		if !ok {
			continue
		}
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready || len(ep.Addresses) == 0 {
				continue
			}
			addr := joinHostPort(ep.Addresses[0], port)
			if !seen[addr] {
				seen[addr] = true
				out.endpoints = append(out.endpoints, addr)
			}
		}
	}
	sort.Strings(out.endpoints)
	return out
}

func portString(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return fmt.Sprint(p.Number)
}

func servicePort(svc *corev1.Service, p networkingv1.ServiceBackendPort) (corev1.ServicePort, bool) {
	for _, sp := range svc.Spec.Ports {
		if p.Name != "" && sp.Name == p.Name || p.Name == "" && sp.Port == p.Number {
			return sp, true
		}
	}
	return corev1.ServicePort{}, false
}

func slicePort(es *discoveryv1.EndpointSlice, name string) (int32, bool) {
	for _, p := range es.Ports {
		n := ""
		if p.Name != nil {
			n = *p.Name
		}
		if n == name && p.Port != nil && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
			return *p.Port, true
		}
	}
	return 0, false
}

func joinHostPort(ip string, port int32) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}

// match picks the backend of a request's host and path.
func (t *Table) match(host, path string) *backend {
	host = strings.ToLower(host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	candidates := [][]route{t.hosts[host]}
	if _, rest, ok := strings.Cut(host, "."); ok {
		candidates = append(candidates, t.wildcards[rest])
	}
	candidates = append(candidates, t.hosts[""])
	for _, routes := range candidates {
		for _, r := range routes {
			if r.matches(path) {
				return r.backend
			}
		}
	}
	return t.fallback
}

func (r route) matches(path string) bool {
	if r.exact {
		return path == r.path
	}
	if r.path == "/" {
		return true
	}
	return path == r.path || strings.HasPrefix(path, r.path+"/")
}

// certificate picks the certificate for an SNI name.
func (t *Table) certificate(name string) *tls.Certificate {
	name = strings.ToLower(name)
	if c := t.certs[name]; c != nil {
		return c
	}
	if _, rest, ok := strings.Cut(name, "."); ok {
		if c := t.certs["*."+rest]; c != nil {
			return c
		}
	}
	return t.firstCert
}

func decode[T any](raw []byte) *T {
	v := new(T)
	if json.Unmarshal(raw, v) != nil {
		return nil
	}
	return v
}
