package projections

import (
	"bytes"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/gantry-sh/gantry/bus"
)

// TestArena: objects stored, replaced and deleted in any order read back
// as stored; bytes a reader took never change afterwards; a chunk's live
// count is the bytes its entries hold there; and every chunk but the one
// being filled stays at least half live (dead bytes are
// reclaimed by moving the live ones out).
func TestArena(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var a arena
		entries := make([]Entry, 40)
		want := make([][]byte, len(entries))
		type taken struct{ raw, copy []byte }
		var readers []taken
		ops := rapid.IntRange(1, 3000).Draw(t, "ops")
		for op := range ops {
			i := rapid.IntRange(0, len(entries)-1).Draw(t, "entry")
			var raw []byte
			if rapid.IntRange(0, 9).Draw(t, "delete") > 0 {
				size := rapid.IntRange(1, 3000).Draw(t, "size")
				if rapid.IntRange(0, 200).Draw(t, "huge") == 0 {
					size = chunkMaxObject + 1
				}
				raw = bytes.Repeat([]byte{byte(op)}, size)
			}
			want[i] = raw
			if raw != nil && rapid.Bool().Draw(t, "in-place") {
				raw = append(a.tail(), raw...) // as the View writes: at the tail, if it fits
			}
			a.keep(&entries[i], raw)
			if op%17 == 0 && entries[i].Raw != nil {
				readers = append(readers, taken{entries[i].Raw, bytes.Clone(entries[i].Raw)})
			}
		}
		live := map[*chunk]int{}
		for i := range entries {
			e := &entries[i]
			if !bytes.Equal(e.Raw, want[i]) {
				t.Fatalf("entry %d holds %d bytes, want %d", i, len(e.Raw), len(want[i]))
			}
			if e.chunk != nil {
				live[e.chunk] += len(e.Raw)
			} else if len(e.Raw) > 0 && len(e.Raw) <= chunkMaxObject {
				t.Fatalf("entry %d: %d bytes outside the arena", i, len(e.Raw))
			}
		}
		for c, n := range live {
			if c.live != n {
				t.Fatalf("chunk counts %d live bytes, its entries hold %d", c.live, n)
			}
			if c != a.cur && c.live*2 < len(c.buf) {
				t.Fatalf("chunk %d of %d bytes live, not compacted", c.live, len(c.buf))
			}
		}
		for _, r := range readers {
			if !bytes.Equal(r.raw, r.copy) {
				t.Fatal("bytes a reader took changed")
			}
		}
	})
}

// TestViewKeepsObjectsInChunks: the View's entries hold their JSON in the
// arena, and a deleted object's entry is taken again by the next one.
func TestViewKeepsObjectsInChunks(t *testing.T) {
	v := NewView(nil)
	for i := range 3 {
		name := fmt.Sprintf("cm-%d", i)
		if err := v.Fold(testEvent(uint64(i+1), name, "created", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"`+name+`"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range v.objects["configmap"] {
		if m.chunk == nil || m.chunk != v.arena.cur {
			t.Fatalf("%s not in the arena's chunk", m.Name)
		}
	}
	before := v.objects["configmap"]["default/cm-1"]
	if err := v.Fold(testEvent(4, "cm-1", "deleted", `{}`)); err != nil {
		t.Fatal(err)
	}
	if err := v.Fold(testEvent(5, "cm-9", "created", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-9"}}`)); err != nil {
		t.Fatal(err)
	}
	if after := v.objects["configmap"]["default/cm-9"]; after != before {
		t.Fatal("a new object did not take the deleted one's entry")
	}
	if en, ok := v.Get("configmap", "default", "cm-9"); !ok || en.Name != "cm-9" || en.Seq != 5 {
		t.Fatalf("cm-9: %+v", en)
	}
	if _, ok := v.Get("configmap", "default", "cm-1"); ok {
		t.Fatal("cm-1 still there")
	}
}

func testEvent(seq uint64, name, verb, data string) bus.Envelope {
	return bus.Envelope{Seq: seq, StreamSubject: bus.EventSubject("configmap", "default", name),
		Type: bus.EventType("configmap", verb), Data: []byte(data)}
}
