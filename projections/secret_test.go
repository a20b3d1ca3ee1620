package projections_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// TestSecretValuesNeverReachTheStream: the plain value appears nowhere in
// the events stream's bytes (nor the rejected stream's), yet reads see it.
func TestSecretValuesNeverReachTheStream(t *testing.T) {
	c := startCluster(t, 1)
	c.createNamespace(t, "default")
	const plain = "correct-horse-battery-staple"
	obj := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"password":"` + plain + `"}}`
	c.mustDo(t, "secret", "apply", aggregates.Command{Namespace: "default", Name: "db", Object: []byte(obj)})
	c.mustDo(t, "secret", "apply", aggregates.Command{Namespace: "default", Name: "db", Object: []byte(strings.Replace(obj, plain, plain+"-2", 1))})
	bad := strings.Replace(obj, `"stringData"`, `"stringDatum"`, 1)
	if _, err := c.do(t, "secret", "apply", aggregates.Command{Namespace: "default", Name: "db", Object: []byte(bad)}); err == nil {
		t.Fatal("a secret with an unknown field was accepted")
	}
	got := c.list(t, projectionsList("secret", "default", "db"))
	if !strings.Contains(string(got.Items[0]), base64.StdEncoding.EncodeToString([]byte(plain+"-2"))) {
		t.Fatalf("read does not show the current value: %s", got.Items[0])
	}
	var history bytes.Buffer
	if err := c.store.Replay(context.Background(), nil, 1, 100, func(e bus.Envelope) error {
		history.Write(e.Data)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.stop()
	files := readTree(t, c.dir)
	for _, v := range []string{plain, base64.StdEncoding.EncodeToString([]byte(plain)), base64.StdEncoding.EncodeToString([]byte(plain + "-2"))} {
		if bytes.Contains(files, []byte(v)) {
			t.Errorf("the store holds %q in plain", v)
		}
	}
	if !bytes.Contains(history.Bytes(), []byte("sealedData")) {
		t.Fatalf("no sealed data in the events: %s", history.String())
	}
}
