package dns

import (
	"net/netip"
	"sort"
)

// Service implements View.
func (s *Store) Service(ns, name string) (*ServiceRecords, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.records[key{ns, name}]
	return r, ok
}

// HasNamespace implements View.
func (s *Store) HasNamespace(ns string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.namespaces[ns] > 0
}

// PTR implements View.
func (s *Store) PTR(ip netip.Addr) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.ptr[ip]
	return n, ok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
