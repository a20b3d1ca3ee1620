package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"sort"
	"strings"
)

// Chain and set names carry a hash of the full name (so truncation cannot
// collide) and a readable tail, as kube-proxy does.
const maxNameLen = 200

func hashed(prefix, readable string) string {
	sum := sha256.Sum256([]byte(prefix + readable))
	h := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:5]))
	name := prefix + "-" + h + "-" + readable
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	return name
}

func svcChainName(sp *ServicePort) string { return hashed("svc", sp.Key()) }
func extChainName(sp *ServicePort) string { return hashed("ext", sp.Key()) }

func epChainName(sp *ServicePort, e Endpoint) string {
	return hashed("ep", fmt.Sprintf("%s__%s/%d", sp.Key(), e.IP, e.Port))
}

// affinitySetName is the dynamic set of clients stuck to an endpoint; the
// timeout is in the name since a set's timeout cannot change in place.
func affinitySetName(sp *ServicePort, e Endpoint) string {
	return hashed("aff", fmt.Sprintf("%s__%s/%d/%ds", sp.Key(), e.IP, e.Port, int(sp.AffinityTimeout.Seconds())))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedRefs[V any](m map[ref]V) []ref {
	keys := make([]ref, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].table != keys[j].table {
			return keys[i].table < keys[j].table
		}
		return keys[i].name < keys[j].name
	})
	return keys
}

// ownedChain reports whether a chain name is one the proxy creates per
// service (as opposed to the fixed chains).
func ownedChain(name string) bool {
	for _, p := range []string{"svc-", "ext-", "ep-"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
