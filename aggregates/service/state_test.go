package service

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/gantry-sh/gantry/aggregates"
)

func TestStateCacheBounds(t *testing.T) {
	tests := []struct {
		name         string
		puts, size   int
		wantMaxCount int
	}{
		{"bounded by entries", 3 * cacheLimit, 16, cacheLimit},
		{"bounded by bytes", 3 * cacheLimit, 2048, cacheBytes / 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newStateCache()
			raw := bytes.Repeat([]byte{'x'}, tt.size)
			for i := range tt.puts {
				c.put("s."+strconv.Itoa(i), aggregates.State{Raw: raw, Seq: uint64(i + 1)})
				if len(c.entries) > tt.wantMaxCount || c.bytes > cacheBytes {
					t.Fatalf("after %d puts: %d entries, %d bytes", i+1, len(c.entries), c.bytes)
				}
			}
			if len(c.entries) != tt.wantMaxCount || c.bytes != tt.wantMaxCount*tt.size {
				t.Fatalf("full cache: %d entries, %d bytes; want %d entries of %d bytes", len(c.entries), c.bytes, tt.wantMaxCount, tt.size)
			}
			last := "s." + strconv.Itoa(tt.puts-1)
			if st, ok := c.get(last); !ok || st.Seq != uint64(tt.puts) {
				t.Fatalf("the last put %s is not cached", last)
			}
		})
	}
}

func TestStateCacheReplaceAndDelete(t *testing.T) {
	c := newStateCache()
	c.put("a", aggregates.State{Raw: []byte("12345"), Seq: 1})
	c.put("a", aggregates.State{Raw: []byte("12"), Seq: 2})
	if st, _ := c.get("a"); st.Seq != 2 || c.bytes != 2 || len(c.entries) != 1 {
		t.Fatalf("replace: seq %d, %d bytes, %d entries", st.Seq, c.bytes, len(c.entries))
	}
	c.delete("a")
	c.delete("missing")
	if _, ok := c.get("a"); ok || c.bytes != 0 {
		t.Fatalf("delete: still cached or %d bytes", c.bytes)
	}
}
