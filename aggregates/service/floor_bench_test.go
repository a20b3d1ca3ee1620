package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/bus"
)

// BenchmarkCommandFloor: what one sequential command over TCP costs with
// no command service work at all, against a raw synchronous publish, in the
// same run. A responder on an in-process connection (as the command
// service's) answers at once ("echo"), or first appends an event of the
// same size with the same headers as Store.Append ("append"); the raw
// publisher publishes that size over TCP. The ratio raw/append is what a
// command could reach if deciding it cost nothing.
//
//	go test ./aggregates/service -run '^$' -bench CommandFloor -benchtime 8000x
func BenchmarkCommandFloor(b *testing.B) {
	ns, err := bus.StartServer(bus.ServerOptions{Port: -1, StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	svc, err := bus.ConnectInProcess(ns, "floor-service")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	cl, err := bus.Connect(ns.ClientURL(), "floor-client")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	ctx := context.Background()
	if _, err := svc.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "FLOOR", Subjects: []string{"floor.evt.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	event := bytes.Repeat([]byte{'x'}, 420) // a scaled event's size
	command := bytes.Repeat([]byte{'y'}, 520)
	if _, err := svc.NC.Subscribe("floor.echo", func(m *nats.Msg) { _ = m.Respond(event[:40]) }); err != nil {
		b.Fatal(err)
	}
	var last uint64
	if _, err := svc.NC.Subscribe("floor.append", func(m *nats.Msg) {
		msg := &nats.Msg{Subject: "floor.evt.obj", Data: event, Header: nats.Header{
			"Content-Type": {bus.ContentType}, jetstream.MsgIDHeader: {uuid.NewString()},
			jetstream.ExpectedLastSubjSeqHeader: {strconv.FormatUint(last, 10)}}}
		resp, err := svc.NC.RequestMsg(msg, 5*time.Second)
		var ack struct {
			Seq   uint64          `json:"seq"`
			Error json.RawMessage `json:"error"`
		}
		if err != nil || json.Unmarshal(resp.Data, &ack) != nil || ack.Error != nil {
			return // no answer: the sender fails the benchmark
		}
		last = ack.Seq
		_ = m.Respond(event[:40])
	}); err != nil {
		b.Fatal(err)
	}
	if err := svc.NC.Flush(); err != nil {
		b.Fatal(err)
	}
	per := max(1, b.N/4)
	timeRound := func(send func() error) time.Duration {
		start := time.Now()
		for range per {
			if err := send(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	var raw, echo, appended time.Duration
	b.ResetTimer()
	for range 4 { // alternating, so a noisy neighbour hits all alike
		raw += timeRound(func() error { _, err := cl.JS.Publish(ctx, "floor.evt.raw", event); return err })
		echo += timeRound(func() error { _, err := cl.NC.Request("floor.echo", command, 5*time.Second); return err })
		appended += timeRound(func() error { _, err := cl.NC.Request("floor.append", command, 5*time.Second); return err })
	}
	n := float64(per * 4)
	b.ReportMetric(float64(raw.Microseconds())/n, "raw-µs")
	b.ReportMetric(float64(echo.Microseconds())/n, "echo-µs")
	b.ReportMetric(float64(appended.Microseconds())/n, "append-µs")
	b.ReportMetric(raw.Seconds()/appended.Seconds(), "raw/append")
}
