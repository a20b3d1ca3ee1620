package bus

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// candidates runs Elect for role in n processes' stead, each on its own
// connection, and counts who leads: at no instant may two lead at once.
type candidates struct {
	t       *testing.T
	conns   []*Conn
	cancels []context.CancelFunc
	done    sync.WaitGroup

	mu      sync.Mutex
	leading []bool
	terms   []int // terms each one led
	overlap bool  // two led at once
}

// electOpts leave a wide gap between a leader that cannot renew stopping
// (RenewDeadline) and another starting (Lease), so no overlap is timing
// luck on a loaded machine.
var electOpts = ElectOptions{Lease: 2 * time.Second, RenewDeadline: 500 * time.Millisecond, Retry: 100 * time.Millisecond}

func startCandidates(t *testing.T, ns *server.Server, n int) *candidates {
	c := &candidates{t: t, leading: make([]bool, n), terms: make([]int, n)}
	for i := range n {
		conn, err := ConnectInProcess(ns, "candidate")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		c.conns, c.cancels = append(c.conns, conn), append(c.cancels, cancel)
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			err := Elect(ctx, conn, "controllers", "candidate-"+string(rune('a'+i)), electOpts, func(term context.Context) error {
				c.set(i, true)
				<-term.Done()
				c.set(i, false)
				return nil
			})
			if err != nil {
				t.Errorf("candidate %d: %v", i, err)
			}
		}()
	}
	t.Cleanup(func() {
		for _, cancel := range c.cancels {
			cancel()
		}
		c.done.Wait()
		for _, conn := range c.conns {
			conn.Close()
		}
	})
	return c
}

func (c *candidates) set(i int, leading bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if leading {
		for _, l := range c.leading {
			c.overlap = c.overlap || l
		}
		c.terms[i]++
	}
	c.leading[i] = leading
}

// leader waits (at most 20 s) until exactly one other than not leads.
func (c *candidates) leader(not int) int {
	c.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		who := -1
		for i, l := range c.leading {
			if l && i != not {
				who = i
			}
		}
		overlap := c.overlap
		c.mu.Unlock()
		if overlap {
			c.t.Fatal("two candidates led at once")
		}
		if who >= 0 {
			return who
		}
	}
	c.t.Fatal("nobody took the lead")
	return -1
}

// TestElectionHandsOver: of three candidates one leads; when it stops it
// lets the role go and another takes it without waiting out the lease;
// when a leader's connection dies it stops leading once it cannot renew,
// and another takes over after the lease; never two at once.
func TestElectionHandsOver(t *testing.T) {
	ns, conn := startTestServer(t)
	c := startCandidates(t, ns, 3)
	first := c.leader(-1)

	c.cancels[first]() // a clean stop: the record is released
	second := c.leader(first)
	kv, err := conn.JS.KeyValue(context.Background(), LeaderBucket)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(context.Background(), "controllers")
	if err != nil {
		t.Fatal(err)
	}
	var held Leadership
	if err := json.Unmarshal(entry.Value(), &held); err != nil || held.Holder != "candidate-"+string(rune('a'+second)) || held.LeaseSeconds != 2 {
		t.Fatalf("record %s (%v), want candidate %d's", entry.Value(), err, second)
	}

	c.conns[second].Close() // a crash, as the bus sees it: no release
	if third := c.leader(second); third == first {
		t.Fatal("the stopped candidate took the lead")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leading[second] || c.overlap {
		t.Fatalf("the cut-off leader still leads (%v) or two led at once (%v)", c.leading[second], c.overlap)
	}
}
