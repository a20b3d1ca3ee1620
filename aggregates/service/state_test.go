package service

import (
	"bytes"
	"strconv"
	"testing"
	"time"

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

// The cache copies what it is given into its chunks, and what it hands out
// stays as it was through later puts, evictions and compactions.
func TestStateCacheKeepsItsOwnCopies(t *testing.T) {
	c := newStateCache()
	want := map[string]string{}
	var handedOut []aggregates.State
	var handedWant []string
	buf := make([]byte, 0, 4096)
	compactions := 0
	for i := range 6 * cacheLimit {
		subject := []byte("gantry.evt.pod.default.p" + strconv.Itoa(i%(2*cacheLimit)))
		buf = append(buf[:0], `{"i":`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, bytes.Repeat([]byte{'x'}, i%1500)...)
		buf = append(buf, '}')
		written := c.written
		c.put(string(subject), aggregates.State{Raw: buf, Seq: uint64(i + 1)})
		if c.written < written {
			compactions++
		}
		want[string(subject)] = string(buf)
		clear(buf) // the caller's buffer is reused: the cache must not share it
		clear(subject)
		if i%997 == 0 {
			st, _ := c.get("gantry.evt.pod.default.p" + strconv.Itoa(i%(2*cacheLimit)))
			handedOut, handedWant = append(handedOut, st), append(handedWant, string(st.Raw))
			if cap(st.Raw) != len(st.Raw) { // an append would write where the next entry goes
				t.Fatalf("a cached object has room to append: len %d, cap %d", len(st.Raw), cap(st.Raw))
			}
		}
		if c.written >= 2*cacheBytes {
			t.Fatalf("after %d puts: %d bytes written since the last compaction", i+1, c.written)
		}
	}
	if compactions == 0 {
		t.Fatal("no compaction happened: the test does not cover it")
	}
	for subject, st := range c.entries {
		if got := string(st.Raw); got != want[subject] {
			t.Fatalf("%s: cached %.40q, put %.40q", subject, got, want[subject])
		}
	}
	for i, st := range handedOut {
		if string(st.Raw) != handedWant[i] {
			t.Fatalf("a state handed out changed: %.40q, was %.40q", st.Raw, handedWant[i])
		}
	}
}

// An idle service lets its cache go; a busy one keeps it.
func TestStateCacheDroppedWhenIdle(t *testing.T) {
	s := &Service{cache: newStateCache()}
	s.cache.put("gantry.evt.pod.default.web", aggregates.State{Raw: []byte(`{}`), Seq: 1})
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s.last.Store(t0.UnixNano())
	s.dropIdleCache(t0.Add(cacheIdle - time.Second))
	if _, ok := s.cache.get("gantry.evt.pod.default.web"); !ok {
		t.Fatal("dropped before the service was idle for cacheIdle")
	}
	s.dropIdleCache(t0.Add(cacheIdle + time.Second))
	if len(s.cache.entries) != 0 || s.cache.bytes != 0 || s.cache.chunk != nil {
		t.Fatalf("idle for longer than cacheIdle: %d entries, %d bytes still cached", len(s.cache.entries), s.cache.bytes)
	}
}

// TestRememberKeepsTheLater: the cache takes a subject's state unless it
// holds a later one (a state read or appended a moment ago that reaches it
// after a later one did).
func TestRememberKeepsTheLater(t *testing.T) {
	s := &Service{cache: newStateCache()}
	s.remember("a", aggregates.State{Raw: []byte(`{"v":1}`), Seq: 5})
	s.remember("b", aggregates.State{Raw: []byte(`{"v":3}`), Seq: 9})
	s.remember("b", aggregates.State{Raw: []byte(`{"v":2}`), Seq: 8})
	s.remember("a", aggregates.State{Raw: []byte(`{"v":4}`), Seq: 6})
	for subject, want := range map[string]uint64{"a": 6, "b": 9} {
		if st, ok := s.cache.get(subject); !ok || st.Seq != want {
			t.Errorf("%s: %+v (%v), want seq %d", subject, st, ok, want)
		}
	}
}
