package dns

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestStoreUpdates(t *testing.T) {
	pg := []discoveryv1.EndpointPort{epPort("pg", corev1.ProtocolTCP, 5432)}
	ip := netip.MustParseAddr("10.244.1.1")
	tests := []struct {
		name     string
		apply    func(s *Store)
		wantEPs  int
		wantPTR  bool
		wantSvc  bool
		wantNsOK bool
	}{
		{"slice before service is kept", func(s *Store) {
			s.UpsertSlice(sliceObj("default", "db", "db-1", pg, ep{ip: "10.244.1.1", ready: true}))
			s.UpsertService(svcObj("default", "db", "None"))
		}, 1, true, true, true},
		{"slice replaced drops old endpoint", func(s *Store) {
			s.UpsertService(svcObj("default", "db", "None"))
			s.UpsertSlice(sliceObj("default", "db", "db-1", pg, ep{ip: "10.244.1.1", ready: true}))
			s.UpsertSlice(sliceObj("default", "db", "db-1", pg, ep{ip: "10.244.1.9", ready: true}))
		}, 1, false, true, true},
		{"slice deleted", func(s *Store) {
			s.UpsertService(svcObj("default", "db", "None"))
			s.UpsertSlice(sliceObj("default", "db", "db-1", pg, ep{ip: "10.244.1.1", ready: true}))
			s.DeleteSlice("default", "db-1")
		}, 0, false, true, true},
		{"slice relabelled to another service", func(s *Store) {
			s.UpsertService(svcObj("default", "db", "None"))
			s.UpsertSlice(sliceObj("default", "db", "db-1", pg, ep{ip: "10.244.1.1", ready: true}))
			s.UpsertSlice(sliceObj("default", "other", "db-1", pg, ep{ip: "10.244.1.1", ready: true}))
		}, 0, false, true, true},
		{"service deleted", func(s *Store) {
			s.UpsertService(svcObj("default", "db", "None"))
			s.UpsertSlice(sliceObj("default", "db", "db-1", pg, ep{ip: "10.244.1.1", ready: true}))
			s.DeleteService("default", "db")
		}, 0, false, false, false},
		{"not-ready endpoint hidden", func(s *Store) {
			s.UpsertService(svcObj("default", "db", "None"))
			s.UpsertSlice(sliceObj("default", "db", "db-1", pg, ep{ip: "10.244.1.1"}))
		}, 0, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore()
			tt.apply(s)
			rec, ok := s.Service("default", "db")
			if ok != tt.wantSvc {
				t.Fatalf("service present %v, want %v", ok, tt.wantSvc)
			}
			if ok && len(rec.Endpoints) != tt.wantEPs {
				t.Errorf("endpoints %d, want %d", len(rec.Endpoints), tt.wantEPs)
			}
			if _, ok := s.PTR(ip); ok != tt.wantPTR {
				t.Errorf("PTR present %v, want %v", ok, tt.wantPTR)
			}
			if s.HasNamespace("default") != tt.wantNsOK {
				t.Errorf("namespace present %v, want %v", !tt.wantNsOK, tt.wantNsOK)
			}
		})
	}
}
