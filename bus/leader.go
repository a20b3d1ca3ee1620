package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Leadership is the record a role's leader keeps under the role's key in
// LeaderBucket, as a Kubernetes Lease: who holds it, since when, when it
// last renewed it and for how long a record stands unrenewed.
type Leadership struct {
	Holder       string    `json:"holder"`
	Acquired     time.Time `json:"acquired"`
	Renewed      time.Time `json:"renewed"`
	LeaseSeconds float64   `json:"leaseSeconds"`
	Transitions  int       `json:"transitions"` // how many times the role changed hands
}

// ElectOptions time an election; the zero value is kube-controller-manager's
// (15 s lease, 10 s renew deadline, 2 s retry period).
type ElectOptions struct {
	// Lease is how long a candidate waits, seeing the record unchanged,
	// before it takes the role over.
	Lease time.Duration
	// RenewDeadline is how long the leader keeps leading while its
	// renewals fail; shorter than Lease, so it stops before anyone starts.
	RenewDeadline time.Duration
	// Retry is how often the leader renews and candidates look.
	Retry time.Duration
	// Observe, if set, hears every change of who leads ("" when nobody
	// does), this identity's included.
	Observe func(leader string)
}

func (o *ElectOptions) defaults() {
	if o.Lease <= 0 {
		o.Lease = 15 * time.Second
	}
	if o.RenewDeadline <= 0 || o.RenewDeadline >= o.Lease {
		o.RenewDeadline = o.Lease * 2 / 3
	}
	if o.Retry <= 0 {
		o.Retry = min(2*time.Second, o.RenewDeadline/4)
	}
}

// Elect runs lead while identity holds role, until ctx ends or lead fails:
// several processes calling it for one role take turns, one at a time.
// The holder renews its record every Retry; a candidate takes the role
// once it has seen the record unchanged for Lease (timed by its own clock,
// never by the holder's), or at once when the holder let it go. lead's
// context ends when the holder can no longer renew for RenewDeadline or
// another took the role; Elect waits for lead to return before it stands
// again. When ctx ends the holder releases the role, so a successor need
// not wait out the lease. Elect returns lead's error, or nil.
func Elect(ctx context.Context, c *Conn, role, identity string, o ElectOptions, lead func(context.Context) error) error {
	o.defaults()
	kv, err := c.JS.KeyValue(ctx, LeaderBucket)
	if err != nil {
		return fmt.Errorf("bus: bucket %s: %w", LeaderBucket, err)
	}
	e := &election{kv: kv, role: role, me: identity, o: o}
	tick := time.NewTicker(o.Retry)
	defer tick.Stop()
	for {
		if held, ok := e.acquire(ctx); ok {
			err := e.lead(ctx, held, lead)
			if err != nil || ctx.Err() != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

type election struct {
	kv   jetstream.KeyValue
	role string
	me   string
	o    ElectOptions

	seen     string    // the leader last observed
	rev      uint64    // the revision of the record last read
	observed time.Time // when this process first saw that revision
}

// acquire takes the role if nobody holds it, its holder let it go, or its
// record has not changed for Lease; it returns the record written.
func (e *election) acquire(ctx context.Context) (Leadership, bool) {
	now := time.Now()
	entry, err := e.kv.Get(ctx, e.role)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		e.observe("")
		taken := e.record(Leadership{Acquired: now}, now)
		return taken, e.write(e.kv.Create(ctx, e.role, encode(taken)))
	}
	if err != nil {
		return Leadership{}, false // the bus is unreachable: look again later
	}
	var held Leadership
	if json.Unmarshal(entry.Value(), &held) != nil || held.Holder == "" {
		held.Holder = "(unreadable)" // expires like any other holder's record
	}
	if entry.Revision() != e.rev {
		e.rev, e.observed = entry.Revision(), now
		e.observe(held.Holder)
	}
	if held.Holder != e.me && now.Sub(e.observed) < e.o.Lease {
		return Leadership{}, false
	}
	taken := e.record(Leadership{Acquired: now, Transitions: held.Transitions}, now)
	if held.Holder != e.me {
		taken.Transitions++
	}
	return taken, e.write(e.kv.Update(ctx, e.role, encode(taken), entry.Revision()))
}

// write keeps the revision a write made; false: it made none.
func (e *election) write(rev uint64, err error) bool {
	if err != nil {
		return false
	}
	e.rev = rev
	return true
}

// lead runs lead while renewals keep the record this process's.
func (e *election) lead(ctx context.Context, held Leadership, lead func(context.Context) error) error {
	e.observe(e.me)
	term, end := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- lead(term) }()
	renewed := time.Now()
	tick := time.NewTicker(e.o.Retry)
	defer tick.Stop()
	for {
		select {
		case err := <-done: // lead returned on its own: the role goes with it
			end()
			e.release()
			if err == nil && ctx.Err() == nil {
				err = fmt.Errorf("bus: %s: the leader's work ended", e.role)
			}
			return err
		case <-ctx.Done():
			end()
			err := <-done
			e.release()
			return termError(err)
		case <-tick.C:
		}
		now := time.Now()
		rev, err := e.kv.Update(ctx, e.role, encode(e.record(held, now)), e.rev)
		switch {
		case err == nil:
			e.rev, renewed = rev, now
			continue
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch): // another took the role
		case now.Sub(renewed) < e.o.RenewDeadline:
			continue // the bus did not answer: try again while the lease holds
		}
		end()
		err = <-done
		e.rev = 0 // read the record afresh
		e.observe("")
		return termError(err)
	}
}

// termError is what lead returned once its term was ended: its context's
// cancellation is how a term ends, not a failure.
func termError(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// release gives the role up at once, if the record is still this
// process's (a plain delete could drop a successor's).
func (e *election) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.kv.Delete(ctx, e.role, jetstream.LastRevision(e.rev))
	e.observe("")
}

// record is l as this process writes it: held by it, renewed now.
func (e *election) record(l Leadership, now time.Time) Leadership {
	l.Holder, l.Renewed, l.LeaseSeconds = e.me, now, e.o.Lease.Seconds()
	return l
}

func encode(l Leadership) []byte {
	b, _ := json.Marshal(l) // plain fields: it cannot fail
	return b
}

func (e *election) observe(leader string) {
	if leader != e.seen {
		e.seen = leader
		if e.o.Observe != nil {
			e.o.Observe(leader)
		}
	}
}
