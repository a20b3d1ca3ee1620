package bus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func testBucket(t *testing.T, c *Conn, name string) jetstream.KeyValue {
	t.Helper()
	kv, err := c.JS.CreateOrUpdateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: name, History: 1})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// The writer's puts and deletes are stored exactly as KeyValue's own.
func TestKVWriterMatchesKeyValue(t *testing.T) {
	ctx := context.Background()
	c := startTestBus(t)
	kv := testBucket(t, c, "t")
	w, err := NewKVWriter(c, KVWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	if _, err := kv.Put(ctx, "lib.put", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "lib.del", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "lib.del"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() (uint64, error){
		func() (uint64, error) { return w.Put(ctx, "t", "w.put", []byte("v1")) },
		func() (uint64, error) { return w.Put(ctx, "t", "w.del", []byte("v1")) },
		func() (uint64, error) { return w.Delete(ctx, "t", "w.del") },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "w.put"); err != nil || string(e.Value()) != "v1" || e.Operation() != jetstream.KeyValuePut {
		t.Fatalf("get w.put = %v, %v", e, err)
	}
	if _, err := kv.Get(ctx, "w.del"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("get w.del: %v, want ErrKeyNotFound", err)
	}
	s, err := c.JS.Stream(ctx, "KV_t")
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{"lib.put", "w.put"}, {"lib.del", "w.del"}} {
		lib, err1 := s.GetLastMsgForSubject(ctx, "$KV.t."+pair[0])
		ours, err2 := s.GetLastMsgForSubject(ctx, "$KV.t."+pair[1])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		for _, h := range []nats.Header{lib.Header, ours.Header} { // what direct get adds
			for _, k := range []string{"Nats-Sequence", "Nats-Stream", "Nats-Subject", "Nats-Time-Stamp"} {
				delete(h, k)
			}
		}
		if string(lib.Data) != string(ours.Data) || fmt.Sprint(lib.Header) != fmt.Sprint(ours.Header) {
			t.Errorf("%s stored as %q %v, %s as %q %v", pair[0], lib.Data, lib.Header, pair[1], ours.Data, ours.Header)
		}
	}
	// A watcher sees the writer's delete as a delete.
	wt, err := kv.Watch(ctx, "w.del")
	if err != nil {
		t.Fatal(err)
	}
	defer wt.Stop()
	if e := <-wt.Updates(); e == nil || e.Operation() != jetstream.KeyValueDelete {
		t.Fatalf("watch w.del: %v", e)
	}
	if _, err := w.Put(ctx, "t", "bad..key", nil); !errors.Is(err, jetstream.ErrInvalidKey) {
		t.Fatalf("invalid key: %v", err)
	}
}

// Many writes to a few keys with a one-write window: they coalesce, and
// what the bucket shows for each key only moves forward, ending on the
// last value.
func TestKVWriterOrderAndCoalescing(t *testing.T) {
	c := startTestBus(t)
	for _, window := range []int{2, 1024} {
		t.Run(fmt.Sprintf("window-%d", window), func(t *testing.T) { testKVWriterOrder(t, c, window) })
	}
}

func testKVWriterOrder(t *testing.T, c *Conn, window int) {
	ctx := context.Background()
	bucket := fmt.Sprintf("order%d", window)
	kv := testBucket(t, c, bucket)
	watch, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()
	const keys, writes = 8, 3000
	var mu sync.Mutex
	seen := map[string][]int{}
	last := map[string]int{}
	go func() {
		for e := range watch.Updates() {
			if e == nil {
				continue
			}
			n := -1 // a delete
			if e.Operation() == jetstream.KeyValuePut {
				n, _ = strconv.Atoi(string(e.Value()))
			}
			mu.Lock()
			seen[e.Key()] = append(seen[e.Key()], n)
			mu.Unlock()
		}
	}()
	w, err := NewKVWriter(c, KVWriterOptions{Window: window})
	if err != nil {
		t.Fatal(err)
	}
	for i := range writes {
		key := fmt.Sprintf("k%d", i%keys)
		if i%97 == 0 { // now and then a delete, then the value again
			if _, err := w.Delete(ctx, bucket, key); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Put(ctx, bucket, key, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		last[key] = i
		mu.Unlock()
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		done := !slices.ContainsFunc(slices.Collect(maps.Keys(last)), func(k string) bool { return last[k] != lastOf(seen[k]) })
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher never saw the last values")
		}
	}
	published, coalesced := w.Stats()
	t.Logf("%d writes: %d published, %d coalesced", writes+writes/97+1, published, coalesced)
	if window == 2 && coalesced == 0 {
		t.Error("nothing coalesced with a window of 2")
	}
	mu.Lock()
	defer mu.Unlock()
	for k, vs := range seen {
		prev := -2
		for _, v := range vs {
			if v != -1 && v <= prev {
				t.Fatalf("%s went back: %v", k, vs)
			}
			prev = max(prev, v)
		}
		if lastOf(vs) != last[k] {
			t.Fatalf("%s ends on %d, want %d", k, lastOf(vs), last[k])
		}
	}
}

func lastOf(vs []int) int {
	if len(vs) == 0 {
		return -3
	}
	return vs[len(vs)-1]
}

// Once WaitAcked(t) returns, every write with a ticket ≤ t is readable.
func TestKVWriterAcked(t *testing.T) {
	ctx := context.Background()
	c := startTestBus(t)
	kv := testBucket(t, c, "t")
	w, err := NewKVWriter(c, KVWriterOptions{Window: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	const n = 3000
	tickets := make([]uint64, n)
	checked := 0
	for i := range n {
		if tickets[i], err = w.Put(ctx, "t", fmt.Sprintf("k%d", i), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		if i > 0 && tickets[i] <= tickets[i-1] {
			t.Fatalf("tickets not increasing: %d then %d", tickets[i-1], tickets[i])
		}
		if i%500 == 499 {
			if err := w.WaitAcked(ctx, tickets[i]); err != nil {
				t.Fatal(err)
			}
			if a := w.Acked(); a < tickets[i] {
				t.Fatalf("Acked %d after waiting for %d", a, tickets[i])
			}
			for j := checked; j <= i; j++ {
				if e, err := kv.Get(ctx, fmt.Sprintf("k%d", j)); err != nil || string(e.Value()) != strconv.Itoa(j) {
					t.Fatalf("k%d not stored once ticket %d was acknowledged: %v %v", j, tickets[i], e, err)
				}
			}
			checked = i + 1
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if w.Acked() != w.Written() {
		t.Fatalf("after Flush: acked %d, written %d", w.Acked(), w.Written())
	}
}

// A write nobody stores fails the writer: the error comes back from
// Flush and from every later call, it is not dropped.
func TestKVWriterSurfacesErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := startTestBus(t)
	w, err := NewKVWriter(c, KVWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	ticket, err := w.Put(ctx, "no-such-bucket", "k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WaitAcked(ctx, ticket); err == nil || ctx.Err() != nil {
		t.Fatalf("WaitAcked = %v, want the write's failure", err)
	}
	if w.Err() == nil {
		t.Fatal("Err() = nil after a failed write")
	}
	if _, err := w.Put(ctx, "no-such-bucket", "k2", []byte("v")); err == nil {
		t.Fatal("Put after a failure succeeded")
	}
	if err := w.Flush(ctx); err == nil {
		t.Fatal("Flush after a failure succeeded")
	}
	t.Logf("failure: %v", w.Err())
}
