// Package schemas publishes a JSON Schema for every command and event type
// and every resource kind, and validates incoming command data against
// them. The files are generated from the Go types (go generate ./schemas);
// TestSchemasMatchTypes fails when they drift.
package schemas

//go:generate go run ./gen

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
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
	fast     *fastCompiler
	ready    sync.Map // path → *compiled, written under mu
	commands sync.Map // commandKey → *compiled
}

// compiled is one schema, for the general validator and for the fast path
// (fast.go).
type compiled struct {
	schema *jsonschema.Schema
	fast   *check
}

type commandKey struct{ kind, verb string }

// NewValidator loads every embedded schema.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	docs := map[string]any{} // by path, for the fast path's compiler too
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
		docs[path] = doc
		return c.AddResource(Base+path, doc)
	})
	if err != nil {
		return nil, err
	}
	return &Validator{compiler: c, fast: newFastCompiler(docs)}, nil
}

// Validate checks data against the schema at path (e.g. "commands/<type>.json").
func (v *Validator) Validate(path string, data []byte) error {
	s, err := v.schema(path)
	if err != nil {
		return err
	}
	return s.validate(data)
}

func (s *compiled) validate(data []byte) error {
	if s.fast.check(data) == valid {
		return nil
	}
	doc, ok := parseJSON(data)
	if !ok {
		var err error
		if doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(data)); err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
	}
	if err := s.schema.Validate(doc); err != nil {
		return fmt.Errorf("%s", oneLine(err))
	}
	return nil
}

// ValidateCommand checks the data of a command of kind and verb.
func (v *Validator) ValidateCommand(kind, verb string, data []byte) error {
	key := commandKey{kind, verb}
	s, ok := v.commands.Load(key)
	if !ok {
		c, err := v.schema("commands/dev.gantry.cmd." + kind + "." + verb + ".v1.json")
		if err != nil {
			return err
		}
		v.commands.Store(key, c)
		s = c
	}
	return s.(*compiled).validate(data)
}

// ValidateEvent checks the data of an event of kind and verb.
func (v *Validator) ValidateEvent(kind, verb string, data []byte) error {
	return v.Validate("events/dev.gantry."+kind+"."+verb+".v1.json", data)
}

func (v *Validator) schema(path string) (*compiled, error) {
	if s, ok := v.ready.Load(path); ok { // every command looks its schema up: no lock
		return s.(*compiled), nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.ready.Load(path); ok { // compiled while this waited for mu
		return s.(*compiled), nil
	}
	if _, err := fs.Stat(files, path); err != nil {
		return nil, fmt.Errorf("schemas: no schema %s", path)
	}
	s, err := v.compiler.Compile(Base + path)
	if err != nil {
		return nil, fmt.Errorf("schemas: compile %s: %w", path, err)
	}
	c := &compiled{schema: s, fast: v.fast.compile(path, "")}
	v.ready.Store(path, c)
	return c, nil
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

// parseJSON is jsonschema.UnmarshalJSON (encoding/json with UseNumber, into
// any) without the decoder's reflection and re-scanning, which cost more
// than the validation itself on a command. It is strict: ok is false on
// anything it is not sure to read exactly as encoding/json does, and the
// caller then asks encoding/json (for the same result or its error).
func parseJSON(b []byte) (doc any, ok bool) {
	p := jsonParser{b: b}
	p.ws()
	doc, ok = p.value(0)
	if !ok {
		return nil, false
	}
	p.ws()
	return doc, p.i == len(p.b)
}

type jsonParser struct {
	b []byte
	i int
}

// maxDepth is encoding/json's nesting limit: deeper documents fall back.
const maxDepth = 10000

func (p *jsonParser) ws() { p.i = jsonscan.Space(p.b, p.i) }

func (p *jsonParser) value(depth int) (any, bool) {
	if p.i >= len(p.b) || depth > maxDepth {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()

	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *jsonParser) literal(lit string) bool {
	end, ok := jsonscan.Literal(p.b, p.i, lit)
	p.i = end
	return ok
}

func (p *jsonParser) object(depth int) (any, bool) {
	m := map[string]any{}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, true
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, false
		}
		key, ok := p.str()
		if !ok {
			return nil, false
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.ws()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[key] = v // a repeated key: the last wins, as in encoding/json
		if end, ok := p.next('}'); !ok || end {
			return m, ok
		}
	}
}

func (p *jsonParser) array(depth int) (any, bool) {
	a := make([]any, 0)
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if end, ok := p.next(']'); !ok || end {
			return a, ok
		}
	}
}

// next reads what follows a container's member: a comma (another member
// comes) or closer (end: the container is done); ok false for anything else.
func (p *jsonParser) next(closer byte) (end, ok bool) {
	p.ws()
	switch {
	case p.i >= len(p.b):
		return false, false
	case p.b[p.i] == ',':
		p.i++
		p.ws()
		return false, true
	case p.b[p.i] == closer:
		p.i++
		return true, true
	}
	return false, false
}

// str reads a string; one with escapes or non-ASCII bytes is handed to
// encoding/json, which unescapes and replaces invalid UTF-8.
func (p *jsonParser) str() (string, bool) {
	start := p.i
	end, plain, ok := jsonscan.String(p.b, start)
	if !ok {
		return "", false
	}
	p.i = end
	tok := p.b[start:end]
	if plain && jsonscan.ASCII(tok) {
		return string(tok[1 : len(tok)-1]), true
	}
	var s string
	if json.Unmarshal(tok, &s) != nil {
		return "", false
	}
	return s, true
}

// number reads a number by JSON's grammar, as a json.Number (UseNumber).
func (p *jsonParser) number() (any, bool) {
	start := p.i
	end, ok := jsonscan.Number(p.b, start)
	if !ok {
		return nil, false
	}
	p.i = end
	return json.Number(p.b[start:end]), true
}
