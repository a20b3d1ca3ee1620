package bus

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkUnmarshalEnvelope: decoding one stored event (a ~600-byte
// deployment creation), the per-event cost of every replay.
func BenchmarkUnmarshalEnvelope(b *testing.B) {
	data := json.RawMessage(`{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web-1234","namespace":"bench","uid":"6600ad99-1fd3-47de-880a-0ca035ec44cd","generation":1,"creationTimestamp":"2026-11-22T02:35:27Z","labels":{"app":"web"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"busybox:1","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","schedulerName":"default-scheduler"}}},"status":{}}`)
	e := Envelope{ID: "0e1670a3-cf77-4f29-b66f-be316c5b468f", Source: "user/root", Type: EventType("deployment", "created"), Subject: "deployment/bench/web-1234",
		Time: time.Now(), Actor: "user/root", CausationID: "05fb3544-5606-4957-825b-cf3ad3ab22b9", CorrelationID: "05fb3544-5606-4957-825b-cf3ad3ab22b9", Data: data}
	raw, err := e.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := UnmarshalEnvelope(raw); err != nil {
			b.Fatal(err)
		}
	}
}
