package bus

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect dials a NATS server by URL.
func Connect(url, name string) (*Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", url, err)
	}
	return wrap(nc)
}

// ConnectLocal connects to an embedded server over loopback TCP, which
// costs less than ConnectInProcess's pipe: net.Pipe hands every write
// over synchronously, goroutine to goroutine, and a replay, which the
// server streams, paid about 1 µs more CPU per event for it (7.4 against
// 6.6 µs; BENCHMARKS.md, projection rebuild).
func ConnectLocal(ns *server.Server, name string) (*Conn, error) {
	addr, ok := ns.Addr().(*net.TCPAddr)
	if !ok {
		return ConnectInProcess(ns, name) // the server takes no TCP clients
	}
	host := addr.IP
	if host.IsUnspecified() { // listening everywhere: loopback is one of them
		host = net.IPv4(127, 0, 0, 1)
	}
	return Connect("nats://"+net.JoinHostPort(host.String(), strconv.Itoa(addr.Port)), name)
}

// ConnectInProcess connects to an embedded server without a socket. Its
// writes go without a deadline: on a pipe each deadline arms and stops a
// timer around every flush, on the path of every command's append and
// answer, and what could block a write, a server that stopped reading,
// closes the pipe when it stops.
func ConnectInProcess(ns *server.Server, name string) (*Conn, error) {
	nc, err := nats.Connect(ns.ClientURL(), nats.InProcessServer(ns), nats.Name(name), nats.FlusherTimeout(0))
	if err != nil {
		return nil, fmt.Errorf("bus: connect in-process: %w", err)
	}
	return wrap(nc)
}

func wrap(nc *nats.Conn) (*Conn, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Close drains and closes the connection.
func (c *Conn) Close() {
	if c == nil || c.NC == nil {
		return
	}
	_ = c.NC.Drain()
	c.NC.Close()
}

// duplicateWindow is how long the events stream remembers a Nats-Msg-Id
// (the server keeps every id of the window in memory: about 120 bytes
// each, so 2 minutes at a few thousand events/s held tens of MB).
//
// Nothing correct depends on a long window. Store.Append always publishes
// with an expected last subject sequence, and a retry after a lost ack is
// told from a conflict by comparing the id in the subject's last stored
// message (kept forever), not by the window: on an R1 stream the server
// checks the expected sequence before the window, so the window never
// even sees such a retry; on a replicated stream it checks the window
// first and acks the original sequence, and past the window the retry
// falls back to the stored-id comparison. The same message is only sent
// again by nats.go inside one Append (twice more, 250 ms apart, on no
// responders), which ends within the JetStream API timeout (5 s, as the
// command service appends without a deadline of its own): 10 s covers
// that twice over.
const duplicateWindow = 10 * time.Second

// Bootstrap creates (or updates to the expected configuration) the streams
// and buckets Gantry needs. It is idempotent.
func (c *Conn) Bootstrap(ctx context.Context) error {
	streams := []jetstream.StreamConfig{
		{
			Name:        EventsStream,
			Description: "Gantry: every accepted change to desired or observed state, kept forever",
			Subjects:    []string{AllEvents},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			DenyDelete:  true,
			DenyPurge:   true,
			Duplicates:  duplicateWindow,
			AllowDirect: true,
		},
		{
			Name:        RejectedStream,
			Description: "Gantry: every refused command and why, kept forever",
			Subjects:    []string{rejectedPrefix + ".>"},
			Storage:     jetstream.FileStorage,
			DenyDelete:  true,
			DenyPurge:   true,
			AllowDirect: true,
		},
	}
	for _, sc := range streams {
		if _, err := c.JS.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("bus: stream %s: %w", sc.Name, err)
		}
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: StateBucket, Description: "Gantry: current objects, projected from GANTRY_EVENTS", History: 1, Storage: jetstream.FileStorage},
		{Bucket: LeaseBucket, Description: "Gantry: node leases (heartbeats)", History: 1, Storage: jetstream.FileStorage, TTL: time.Hour},
		{Bucket: NodePodsBucket, Description: "Gantry: pods by node, projected from GANTRY_EVENTS", History: 1, Storage: jetstream.FileStorage},
		{Bucket: LeaderBucket, Description: "Gantry: who leads each control-plane role (bus.Elect)", History: 1, Storage: jetstream.FileStorage},
	}
	for _, kc := range buckets {
		if _, err := c.JS.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("bus: bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}
