package aggregates

import (
	"slices"
	"testing"
)

// TestWarningsNameUnimplementedFields: a field Gantry accepts but does not
// act on is named once set to anything but null, found in any element of
// a list and under an escaped key; the last of duplicate keys counts.
func TestWarningsNameUnimplementedFields(t *testing.T) {
	pod := func(spec string) []byte {
		return []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]` + spec + `}}`)
	}
	k := Pod()
	warned := func(path string) string {
		return `Pod "p": field spec.` + path + ` is accepted but not implemented by Gantry`
	}
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{``, nil},
		{`,"runtimeClassName":"kata"`, []string{warned("runtimeClassName")}},
		{`,"runtimeClassName":null`, nil},
		{`,"runtimeClassName":""`, []string{warned("runtimeClassName")}},
		{`,"runtime\u0043lassName":"kata"`, []string{warned("runtimeClassName")}},
		{`,"volumes":[{"name":"a","emptyDir":{}},{"name":"b","nfs":{"server":"s","path":"/"}}]`, []string{warned("volumes[].nfs")}},
		{`,"volumes":[{"name":"a","emptyDir":{}}]`, nil},
		{`,"securityContext":{"seLinuxOptions":{"level":"s0"}},"overhead":{"cpu":"1"}`, []string{warned("securityContext.seLinuxOptions"), warned("overhead")}},
		{`,"securityContext":{"seLinuxOptions":null}`, nil},
		// The scheduler places by pod (anti-)affinity, namespaceSelector included.
		{`,"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"kubernetes.io/hostname"}]},` +
			`"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":10,"podAffinityTerm":{"labelSelector":{},"namespaceSelector":{"matchLabels":{"team":"a"}},"topologyKey":"zone"}}]}}`, nil},
	} {
		_, got, err := DecodeManifest(k, pod(tc.spec))
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: warnings %q, want %q", tc.spec, got, tc.want)
		}
	}
	// Duplicate keys pass a decode into maps (strict decoding refuses them
	// first; present still reads them as encoding/json would).
	if !present([]byte(`{"a":null,"a":{"b":1}}`), "a.b") || present([]byte(`{"a":{"b":1},"a":null}`), "a.b") {
		t.Error("the last of duplicate keys does not count")
	}
	if present([]byte(`{"a":"x"}`), "a[].b") || present([]byte(`{"a":[1,"x"]}`), "a[].b") || !present([]byte(`{"a":[1,{"b":false}]}`), "a[].b") {
		t.Error("a list step reads something other than objects in a list")
	}
}
