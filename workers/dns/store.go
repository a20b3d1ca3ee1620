package dns

import (
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Store is the in-memory View, updated by the worker's event loop. Readers
// take a read lock only to fetch an immutable snapshot.
type Store struct {
	mu         sync.RWMutex
	services   map[key]*corev1.Service
	slices     map[key]map[string]*discoveryv1.EndpointSlice // by service
	records    map[key]*ServiceRecords
	namespaces map[string]int
	ptr        map[netip.Addr]string
	owner      map[key]key // slice ns/name → service it belongs to
}

type key struct{ ns, name string }

var _ View = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		services:   map[key]*corev1.Service{},
		slices:     map[key]map[string]*discoveryv1.EndpointSlice{},
		records:    map[key]*ServiceRecords{},
		namespaces: map[string]int{},
		ptr:        map[netip.Addr]string{},
		owner:      map[key]key{},
	}
}

// UpsertService adds or replaces a service.
func (s *Store) UpsertService(svc *corev1.Service) {
	k := key{svc.Namespace, svc.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[k]; !ok {
		s.namespaces[k.ns]++
	}
	s.services[k] = svc
	s.rebuild(k)
}

// DeleteService forgets a service (its slices are kept until deleted, so
// the order of events does not matter).
func (s *Store) DeleteService(ns, name string) {
	k := key{ns, name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[k]; !ok {
		return
	}
	delete(s.services, k)
	if s.namespaces[ns]--; s.namespaces[ns] <= 0 {
		delete(s.namespaces, ns)
	}
	s.rebuild(k)
}

// UpsertSlice adds or replaces an endpoint slice; it belongs to the service
// named by its kubernetes.io/service-name label.
func (s *Store) UpsertSlice(es *discoveryv1.EndpointSlice) {
	k := key{es.Namespace, es.Labels[discoveryv1.LabelServiceName]}
	if k.name == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.dropSliceLocked(es.Namespace, es.Name); ok && prev != k {
		s.rebuild(prev)
	}
	if s.slices[k] == nil {
		s.slices[k] = map[string]*discoveryv1.EndpointSlice{}
	}
	s.slices[k][es.Name] = es
	s.owner[key{es.Namespace, es.Name}] = k
	s.rebuild(k)
}

// DeleteSlice forgets an endpoint slice.
func (s *Store) DeleteSlice(ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.dropSliceLocked(ns, name); ok {
		s.rebuild(k)
	}
}

// dropSliceLocked removes slice ns/name from the service holding it and
// returns that service (a relabelled slice moves between services).
func (s *Store) dropSliceLocked(ns, name string) (key, bool) {
	sk := key{ns, name}
	k, ok := s.owner[sk]
	if !ok {
		return key{}, false
	}
	delete(s.owner, sk)
	delete(s.slices[k], name)
	if len(s.slices[k]) == 0 {
		delete(s.slices, k)
	}
	return k, true
}
