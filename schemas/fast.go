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
// It reads doc once, checking it is JSON as it judges it; a document that
// is not (or nests deeper than jsonscan.MaxDepth) is unsure.
func (c *check) check(doc []byte) verdict {
	end, r, ok := c.value(doc, jsonscan.Space(doc, 0), 0)
	if !ok || jsonscan.Space(doc, end) != len(doc) {
		return unsure
	}
	return r
}

// value judges the JSON value at b[i], at depth, and returns where it
// ends; ok false: b holds no valid value there. A nil check takes any.
func (c *check) value(b []byte, i, depth int) (end int, r verdict, ok bool) {
	switch {
	case c == nil:
		end, ok = jsonscan.ValueAt(b, i, depth)
		return end, valid, ok
	case c.unsupported:
		end, ok = jsonscan.ValueAt(b, i, depth)
		return end, unsure, ok
	case c.never:
		end, ok = jsonscan.ValueAt(b, i, depth)
		return end, invalid, ok
	case c.ref != nil && c.onlyRef():
		return c.ref.value(b, i, depth)
	case i >= len(b) || depth > jsonscan.MaxDepth:
		return 0, unsure, false
	}
	r = valid
	if c.ref != nil {
		if _, r, ok = c.ref.value(b, i, depth); !ok {
			return 0, unsure, false
		}
	}
	var own verdict
	switch b[i] {
	case '{':
		end, own, ok = c.object(b, i, depth)
		r = max(r, c.is(typeObject), own)
	case '[':
		end, own, ok = c.array(b, i, depth)
		r = max(r, c.is(typeArray), own)
	case '"':
		if end, _, ok = jsonscan.String(b, i); ok {
			r = max(r, c.is(typeString), c.stringLength(b[i:end]))
		}
	case 't':
		end, ok = jsonscan.Literal(b, i, "true")
		r = max(r, c.is(typeBoolean))
	case 'f':
		end, ok = jsonscan.Literal(b, i, "false")
		r = max(r, c.is(typeBoolean))
	case 'n':
		end, ok = jsonscan.Literal(b, i, "null")
		r = max(r, c.is(typeNull))
	default:
		if end, ok = jsonscan.Number(b, i); ok {
			r = max(r, c.number(b[i:end]))
		}
	}
	if !ok {
		return 0, unsure, false
	}
	if r == invalid || len(c.oneOf) == 0 {
		return end, r, true
	}
	matched := 0
	for _, o := range c.oneOf {
		switch _, or, _ := o.value(b, i, depth); or {
		case unsure:
			return end, unsure, true
		case valid:
			matched++
		}
	}
	if matched != 1 {
		return end, invalid, true
	}
	return end, r, true
}

// onlyRef: the schema is a $ref and nothing else the fast path checks.
func (c *check) onlyRef() bool {
	return c.types == 0 && c.props == nil && !c.noAddl && c.addl == nil && c.required == nil && c.items == nil &&
		c.minLength == 0 && !c.hasMinimum && len(c.oneOf) == 0
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

// object checks the object at b[i] against properties,
// additionalProperties and required, and returns where it ends. A key
// with escapes, or one given twice, makes it unsure: the decoded object
// keeps the last of the keys that decode alike, which may replace a member
// judged before.
func (c *check) object(b []byte, i, depth int) (end int, r verdict, ok bool) {
	r, odd := valid, false
	constrained := c.props != nil || c.noAddl || c.addl != nil || c.required != nil
	var buf [32][]byte
	keys := buf[:0]
	j := jsonscan.Space(b, i+1)
	if j < len(b) && b[j] == '}' {
		end = j + 1
	} else {
		for {
			if j >= len(b) || b[j] != '"' {
				return 0, unsure, false
			}
			kend, plain, ok := jsonscan.String(b, j)
			if !ok {
				return 0, unsure, false
			}
			key := b[j+1 : kend-1]
			if j = jsonscan.Space(b, kend); j >= len(b) || b[j] != ':' {
				return 0, unsure, false
			}
			var sub *check
			switch {
			case odd || !constrained:
			case !plain || len(keys) == cap(buf) || slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) }):
				odd = true
			default:
				keys = append(keys, key)
				switch sub = c.props[string(key)]; {
				case sub != nil:
				case c.noAddl:
					r = invalid
				default:
					sub = c.addl
				}
			}
			vend, vr, ok := sub.value(b, jsonscan.Space(b, j+1), depth+1)
			if !ok {
				return 0, unsure, false
			}
			r = max(r, vr)
			var more bool
			if j, more, ok = jsonscan.After(b, vend, '}'); !ok {
				return 0, unsure, false
			}
			if !more {
				end = j
				break
			}
		}
	}
	switch {
	case odd:
		return end, unsure, true
	case r != valid:
		return end, r, true
	}
	for _, name := range c.required {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return string(k) == name }) {
			return end, invalid, true
		}
	}
	return end, valid, true
}

// array checks the elements of the array at b[i] against items, and
// returns where it ends.
func (c *check) array(b []byte, i, depth int) (end int, r verdict, ok bool) {
	j := jsonscan.Space(b, i+1)
	if j < len(b) && b[j] == ']' {
		return j + 1, valid, true
	}
	r = valid
	for {
		vend, vr, ok := c.items.value(b, j, depth+1)
		if !ok {
			return 0, unsure, false
		}
		r = max(r, vr)
		var more bool
		if j, more, ok = jsonscan.After(b, vend, ']'); !ok {
			return 0, unsure, false
		}
		if !more {
			return j, r, true
		}
	}
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
