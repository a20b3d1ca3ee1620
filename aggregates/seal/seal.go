// Package seal encrypts Secret values before they reach the event stream,
// which is kept forever: AES-256-GCM with a key kept in the data dir
// (mode 0600). Only the "data" member of a Secret's event or object is
// sealed; it travels as "sealedData", base64 of nonce‖ciphertext.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gantry-sh/gantry/aggregates"
)

// ErrSealed: a sealed value could not be opened (wrong key or corrupt).
var ErrSealed = errors.New("seal: cannot open sealed data")

const (
	plainField  = "data"
	sealedField = "sealedData"
)

// Sealer seals and opens Secret payloads.
type Sealer struct {
	aead cipher.AEAD
	rand io.Reader
}

// New makes a Sealer from a 32-byte key; random supplies nonces.
func New(key []byte, random io.Reader) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal: key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead, rand: random}, nil
}

// KeyFile reads the key at path, creating it (mode 0600) if absent.
func KeyFile(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != 32 {
			return nil, fmt.Errorf("seal: key file %s is %d bytes, want 32", path, len(key))
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("seal: %w", err)
	}
	key = make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("seal: new key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("seal: write key: %w", err)
	}
	return key, nil
}

// Seal replaces doc's top-level "data" with "sealedData". A doc without
// data is returned as it is.
func (s *Sealer) Seal(doc []byte) ([]byte, error) {
	m, plain, err := split(doc, plainField)
	if err != nil || plain == nil {
		return doc, err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	box := s.aead.Seal(nonce, nonce, plain, nil)
	m[sealedField], _ = json.Marshal(base64.StdEncoding.EncodeToString(box))
	return json.Marshal(m)
}

// Open is the inverse of Seal.
func (s *Sealer) Open(doc []byte) ([]byte, error) {
	m, sealed, err := split(doc, sealedField)
	if err != nil || sealed == nil {
		return doc, err
	}
	var b64 string
	if err := json.Unmarshal(sealed, &b64); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSealed, err)
	}
	box, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(box) < s.aead.NonceSize() {
		return nil, fmt.Errorf("%w: malformed", ErrSealed)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, box[:n], box[n:], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSealed, err)
	}
	m[plainField] = plain
	return json.Marshal(m)
}

// Redact drops the data of a Secret object, for output that must not show it.
func Redact(doc []byte) []byte {
	m, v, err := split(doc, plainField)
	if err != nil || v == nil {
		return doc
	}
	out, _ := json.Marshal(m)
	return out
}

// split decodes doc and removes field from it, returning its value.
func split(doc []byte, field string) (map[string]json.RawMessage, json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, nil, fmt.Errorf("seal: %w", err)
	}
	v, ok := m[field]
	if !ok {
		return m, nil, nil
	}
	delete(m, field)
	return m, v, nil
}

// SealEvent seals the Secret data an event carries: a created object's
// data, or the data in an update's merge patch.
func (s *Sealer) SealEvent(verb string, data []byte) ([]byte, error) {
	return s.eventData(verb, data, s.Seal)
}

// OpenEvent is the inverse of SealEvent.
func (s *Sealer) OpenEvent(verb string, data []byte) ([]byte, error) {
	return s.eventData(verb, data, s.Open)
}

func (s *Sealer) eventData(verb string, data []byte, f func([]byte) ([]byte, error)) ([]byte, error) {
	switch verb {
	case aggregates.Created:
		return f(data)
	case aggregates.Updated:
		var u aggregates.UpdatedData
		if err := json.Unmarshal(data, &u); err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		patch, err := f(u.Patch)
		if err != nil {
			return nil, err
		}
		return json.Marshal(aggregates.UpdatedData{Patch: patch})
	}
	return data, nil
}
