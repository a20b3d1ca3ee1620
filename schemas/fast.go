package schemas

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// A check is one schema compiled for Validate's fast path. It reads the
// document's bytes with jsonscan instead of decoding them into maps for the
// general validator, which costs several times more than the validation of
// a small command. It knows only the vocabulary the generated schemas use
// (type, properties, additionalProperties, required, items, minLength,
// minimum, oneOf, $ref, and the annotations title, description, format,
// contentEncoding, $defs, $id, $schema); a schema with anything else, and
// a document it cannot be sure about, get the answer unsure, and the
// general validator decides. Validate takes only its valid: a document is
// refused, with the general validator's message, only by the general
// validator. TestFastCheckAgreesWithValidator holds it to the general
// validator's verdicts.
type check struct {
	unsupported bool // a keyword it does not know: always unsure
	never       bool // the schema false
	types       jsonTypes
	props       map[string]*check
	noAddl      bool   // additionalProperties: false
	addl        *check // additionalProperties as a schema
	required    []string
	items       *check
	minLength   int
	hasMinimum  bool
	minimum     int64
	oneOf       []*check
	ref         *check
}

type verdict int8

// In order of precedence: a constraint that fails makes the whole invalid
// whatever else is unsure.
const (
	valid verdict = iota
	unsure
	invalid
)

type jsonTypes uint8

const (
	typeNull jsonTypes = 1 << iota
	typeBoolean
	typeInteger
	typeNumber
	typeString
	typeArray
	typeObject
)

var typeNames = map[string]jsonTypes{
	"null": typeNull, "boolean": typeBoolean, "integer": typeInteger, "number": typeNumber,
	"string": typeString, "array": typeArray, "object": typeObject,
}

// check is the fast verdict on doc, which may have white space around it.
func (c *check) check(doc []byte) verdict {
	if !jsonscan.Valid(doc) {
		return unsure
	}
	return c.value(bytes.Trim(doc, " \t\r\n"))
}

// value judges one valid JSON value, without white space around it.
func (c *check) value(v []byte) verdict {
	switch {
	case c.unsupported:
		return unsure
	case c.never:
		return invalid
	}
	r := valid
	if c.ref != nil {
		if r = c.ref.value(v); r == invalid {
			return invalid
		}
	}
	switch v[0] {
	case '{':
		r = max(r, c.is(typeObject))
		if r != invalid && (c.props != nil || c.noAddl || c.addl != nil || c.required != nil) {
			r = max(r, c.object(v))
		}
	case '[':
		r = max(r, c.is(typeArray))
		if r != invalid && c.items != nil {
			jsonscan.Array(v, func(elem []byte) bool {
				r = max(r, c.items.value(elem))
				return r != invalid
			})
		}
	case '"':
		r = max(r, c.is(typeString), c.stringLength(v))
	case 't', 'f':
		r = max(r, c.is(typeBoolean))
	case 'n':
		r = max(r, c.is(typeNull))
	default:
		r = max(r, c.number(v))
	}
	if r == invalid || len(c.oneOf) == 0 {
		return r
	}
	matched := 0
	for _, o := range c.oneOf {
		switch o.value(v) {
		case unsure:
			return unsure
		case valid:
			matched++
		}
	}
	if matched != 1 {
		return invalid
	}
	return r
}

func (c *check) is(t jsonTypes) verdict {
	if c.types == 0 || c.types&t != 0 {
		return valid
	}
	return invalid
}

// number judges a number literal: a plain integer literal is an integer;
// one with a fraction or an exponent may still be one (1.0), so a schema
// that takes integers but not numbers is unsure of it, as is minimum.
func (c *check) number(v []byte) verdict {
	integer := bytes.IndexAny(v, ".eE") < 0
	r := valid
	switch {
	case c.types == 0 || c.types&typeNumber != 0:
	case c.types&typeInteger != 0:
		if !integer {
			r = unsure
		}
	default:
		return invalid
	}
	if c.hasMinimum {
		n, err := strconv.ParseInt(string(v), 10, 64)
		switch {
		case !integer || err != nil:
			r = max(r, unsure)
		case n < c.minimum:
			return invalid
		}
	}
	return r
}

// stringLength checks minLength, which counts characters: a string's
// token without escapes and of ASCII only has one per byte; otherwise only
// "at least one" is sure (every escape and every byte makes one or more).
func (c *check) stringLength(v []byte) verdict {
	if c.minLength == 0 {
		return valid
	}
	n, plain := len(v)-2, jsonscan.ASCIIString(v) // bytes between the quotes; one character each when plain
	switch {
	case n >= c.minLength && (c.minLength == 1 || plain):
		return valid
	case n < c.minLength && (n == 0 || plain):
		return invalid
	}
	return unsure
}

// object checks the members against properties, additionalProperties and
// required. A key with escapes, or one given twice, makes it unsure: the
// decoded object keeps the last of the keys that decode alike, which may
// replace a member judged before.
func (c *check) object(v []byte) verdict {
	r, odd := valid, false
	var buf [32][]byte
	keys := buf[:0]
	jsonscan.Object(v, func(key []byte, plain bool, val []byte) bool {
		if !plain || len(keys) == cap(buf) || slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) }) {
			odd = true
			return false
		}
		keys = append(keys, key)
		sub := c.props[string(key)]
		switch {
		case sub != nil:
		case c.noAddl:
			r = invalid
		default:
			sub = c.addl
		}
		if sub != nil {
			r = max(r, sub.value(val))
		}
		return true
	})
	if odd {
		return unsure
	}
	if r != valid {
		return r
	}
	for _, name := range c.required {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return string(k) == name }) {
			return invalid
		}
	}
	return valid
}

// fastCompiler builds checks from the parsed schema files, sharing one
// check per location (so recursive references end).
type fastCompiler struct {
	docs  map[string]any    // the schema files by path, as jsonschema.UnmarshalJSON reads them
	nodes map[string]*check // by path#pointer
}

func newFastCompiler(docs map[string]any) *fastCompiler {
	return &fastCompiler{docs: docs, nodes: map[string]*check{}}
}

// compile is the check for the schema at path#pointer.
func (fc *fastCompiler) compile(path, pointer string) *check {
	key := path + "#" + pointer
	if c := fc.nodes[key]; c != nil {
		return c
	}
	c := &check{}
	fc.nodes[key] = c
	doc, ok := fc.docs[path]
	if ok {
		doc, ok = resolvePointer(doc, pointer)
	}
	if !ok {
		c.unsupported = true
		return c
	}
	fc.fill(c, path, pointer, doc)
	return c
}

// resolvePointer follows a JSON pointer ("" or "/a/b", ~0 and ~1 escapes).
func resolvePointer(doc any, pointer string) (any, bool) {
	if pointer == "" {
		return doc, true
	}
	if pointer[0] != '/' {
		return nil, false
	}
	for _, tok := range strings.Split(pointer[1:], "/") {
		switch d := doc.(type) {
		case map[string]any:
			var ok bool
			if doc, ok = d[unescapePointer.Replace(tok)]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(d) {
				return nil, false
			}
			doc = d[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

var (
	unescapePointer = strings.NewReplacer("~1", "/", "~0", "~")
	escapePointer   = strings.NewReplacer("~", "~0", "/", "~1")
)

// fill compiles the schema s found at path#pointer into c.
func (fc *fastCompiler) fill(c *check, path, pointer string, s any) {
	if b, ok := s.(bool); ok {
		c.never = !b
		return
	}
	m, ok := s.(map[string]any)
	if !ok {
		c.unsupported = true
		return
	}
	sub := func(name string) *check { return fc.compile(path, pointer+"/"+name) }
	for k, v := range m {
		switch k {
		case "$id", "$schema", "title", "description", "format", "contentEncoding", "$defs":
			// annotations (format and contentEncoding are not asserted by default in 2020-12)
			if k == "$id" && pointer != "" {
				c.unsupported = true // a new base for references inside
			}
		case "type":
			c.types, ok = parseTypes(v)
		case "properties":
			props, isMap := v.(map[string]any)
			ok = isMap
			c.props = make(map[string]*check, len(props))
			for name := range props {
				c.props[name] = fc.compile(path, pointer+"/properties/"+escapePointer.Replace(name))
			}
		case "additionalProperties":
			if b, isBool := v.(bool); isBool {
				c.noAddl = !b
			} else {
				c.addl = sub(k)
			}
		case "items":
			c.items = sub(k)
		case "required":
			list, isList := v.([]any)
			ok = isList
			for _, name := range list {
				s, isString := name.(string)
				ok = ok && isString
				c.required = append(c.required, s)
			}
		case "minLength":
			n, isNumber := v.(json.Number)
			i, err := n.Int64()
			ok = isNumber && err == nil && i >= 0
			c.minLength = int(i)
		case "minimum":
			n, isNumber := v.(json.Number)
			i, err := n.Int64()
			ok = isNumber && err == nil
			c.hasMinimum, c.minimum = true, i
		case "oneOf":
			list, isList := v.([]any)
			ok = isList && len(list) > 0
			for i := range list {
				c.oneOf = append(c.oneOf, fc.compile(path, pointer+"/oneOf/"+strconv.Itoa(i)))
			}
		case "$ref":
			ref, isString := v.(string)
			var target string
			if target, ok = refPath(path, ref); isString && ok {
				file, frag, _ := strings.Cut(target, "#")
				c.ref = fc.compile(file, frag)
			}
			ok = ok && isString
		default:
			ok = false
		}
		if !ok {
			c.unsupported = true
		}
	}
}

func parseTypes(v any) (jsonTypes, bool) {
	var names []any
	switch v := v.(type) {
	case string:
		names = []any{v}
	case []any:
		names = v
	default:
		return 0, false
	}
	var t jsonTypes
	for _, n := range names {
		s, _ := n.(string)
		bit, ok := typeNames[s]
		if !ok {
			return 0, false
		}
		t |= bit
	}
	if t&typeNumber != 0 {
		t |= typeInteger
	}
	return t, true
}

// refPath resolves a reference made in the file at path to
// "file#pointer": "#/…" stays in the file, Base+file… goes to another.
func refPath(path, ref string) (string, bool) {
	switch {
	case strings.HasPrefix(ref, "#"):
		return path + ref, ref == "#" || strings.HasPrefix(ref, "#/")
	case strings.HasPrefix(ref, Base):
		target := strings.TrimPrefix(ref, Base)
		_, frag, _ := strings.Cut(target, "#")
		return target, frag == "" || strings.HasPrefix(frag, "/")
	}
	return "", false
}
