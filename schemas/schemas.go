// Package schemas publishes a JSON Schema for every command and event type
// and every resource kind, and validates incoming command data against
// them. The files are generated from the Go types (go generate ./schemas);
// TestSchemasMatchTypes fails when they drift.
package schemas

//go:generate go run ./gen

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Base is the URL every schema's $id starts with.
const Base = "https://gantry.dev/schemas/"

//go:embed kinds commands events
var files embed.FS

// FS is the schema files, by path (kinds/pod.json, commands/<type>.json, events/<type>.json).
func FS() fs.FS { return files }

// Validator validates documents against the embedded schemas, compiling
// each schema once, on first use.
type Validator struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

// NewValidator loads every embedded schema.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("schemas: %s: %w", path, err)
		}
		return c.AddResource(Base+path, doc)
	})
	if err != nil {
		return nil, err
	}
	return &Validator{compiler: c, compiled: map[string]*jsonschema.Schema{}}, nil
}

// Validate checks data against the schema at path (e.g. "commands/<type>.json").
func (v *Validator) Validate(path string, data []byte) error {
	s, err := v.schema(path)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("%s", oneLine(err))
	}
	return nil
}

// ValidateCommand checks the data of a command of kind and verb.
func (v *Validator) ValidateCommand(kind, verb string, data []byte) error {
	return v.Validate("commands/dev.gantry.cmd."+kind+"."+verb+".v1.json", data)
}

// ValidateEvent checks the data of an event of kind and verb.
func (v *Validator) ValidateEvent(kind, verb string, data []byte) error {
	return v.Validate("events/dev.gantry."+kind+"."+verb+".v1.json", data)
}

func (v *Validator) schema(path string) (*jsonschema.Schema, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.compiled[path]; ok {
		return s, nil
	}
	if _, err := fs.Stat(files, path); err != nil {
		return nil, fmt.Errorf("schemas: no schema %s", path)
	}
	s, err := v.compiler.Compile(Base + path)
	if err != nil {
		return nil, fmt.Errorf("schemas: compile %s: %w", path, err)
	}
	v.compiled[path] = s
	return s, nil
}

var english = message.NewPrinter(language.English)

// oneLine flattens the validator's error tree into "at /path: message; …".
func oneLine(err error) string {
	var ve *jsonschema.ValidationError
	if e, ok := err.(*jsonschema.ValidationError); ok {
		ve = e
	} else {
		return err.Error()
	}
	var parts []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			parts = append(parts, fmt.Sprintf("at %q: %s", "/"+strings.Join(e.InstanceLocation, "/"), e.ErrorKind.LocalizedString(english)))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(parts) > 5 {
		parts = append(parts[:5], fmt.Sprintf("and %d more", len(parts)-5))
	}
	return strings.Join(parts, "; ")
}
