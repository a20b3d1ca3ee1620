package seal

import (
	"bytes"
	"crypto/rand"
	"os"
	"strings"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	s, err := New(bytes.Repeat([]byte{7}, 32), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"metadata":{"name":"db"},"data":{"password":"aHVudGVyMg=="}}`)
	sealed, err := s.Seal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "aHVudGVyMg") || !strings.Contains(string(sealed), "sealedData") {
		t.Fatalf("sealed doc shows the value: %s", sealed)
	}
	opened, err := s.Open(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(opened), `"password":"aHVudGVyMg=="`) {
		t.Fatalf("opened = %s", opened)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32), rand.Reader)
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("a different key opened the secret")
	}
}

func TestKeyFileIsPrivateAndStable(t *testing.T) {
	path := t.TempDir() + "/k/secret.key"
	a, err := KeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := KeyFile(path)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second read differs: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}
