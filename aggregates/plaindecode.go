package aggregates

import (
	"bytes"
	"reflect"
	"unicode/utf8"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"

	"github.com/gantry-sh/gantry/schemas/jsonscan"
)

// manifests decodes what a plain manifest holds into its typed object:
// case sensitive and refusing unknown fields, as the strict decoder is,
// with codecs it builds once per type instead of reflecting on every
// field of every manifest. Kubernetes decoded its API objects with it
// for years.
var manifests = withStringMaps(jsoniter.Config{CaseSensitive: true, DisallowUnknownFields: true}.Froze())

// withStringMaps gives api a decoder of map[string]string, the maps of
// labels, annotations, selectors and ConfigMap data, that assigns to the
// map directly: jsoniter's own goes through reflection for every entry.
// It must be called before api decodes anything.
func withStringMaps(api jsoniter.API) jsoniter.API {
	api.RegisterExtension(&stringMaps{})
	return api
}

type stringMaps struct{ jsoniter.DummyExtension }

var stringMapType = reflect2.TypeOf(map[string]string(nil))

func (*stringMaps) CreateDecoder(typ reflect2.Type) jsoniter.ValDecoder {
	if typ == stringMapType {
		return stringMapDecoder{}
	}
	return nil
}

// stringMapDecoder decodes as encoding/json does: null leaves the map
// nil, an entry's null its empty string; anything else is an error.
type stringMapDecoder struct{}

func (stringMapDecoder) Decode(ptr unsafe.Pointer, iter *jsoniter.Iterator) {
	m := (*map[string]string)(ptr)
	if iter.ReadNil() {
		*m = nil
		return
	}
	if *m == nil {
		*m = map[string]string{}
	}
	iter.ReadMapCB(func(it *jsoniter.Iterator, key string) bool {
		(*m)[key] = it.ReadString()
		return it.Error == nil
	})
}

// decodePlain decodes a plain manifest (plainJSON) into obj, and reports
// false, leaving obj to be thrown away, for anything else and for any
// error: the strict decoder then decides and words it. For a plain
// manifest both decoders agree (TestDecodePlainMatchesStrict); plainJSON
// draws its lines where they do not or might not: the strict decoder
// refuses repeated keys and replaces invalid UTF-8, and matches escaped
// keys after unescaping them; jsoniter parses fractions and exponents its
// own way.
func decodePlain(raw []byte, obj any) bool {
	if o, ok := obj.(Object); ok {
		if decodeObject(raw, o) { // plain, as it checks
			return true
		}
		reflect.ValueOf(obj).Elem().SetZero() // what decodeObject left
	}
	return plainJSON(raw) && manifests.Unmarshal(raw, obj) == nil
}

// plainJSON reports whether b is one JSON value whose strings are valid
// UTF-8, whose numbers are written as integers (no fraction, no
// exponent) and whose objects name no key twice, and none with escapes.
func plainJSON(b []byte) bool {
	end, ok := plainValue(b, jsonscan.Space(b, 0), 0)
	return ok && jsonscan.Space(b, end) == len(b)
}

func plainValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > jsonscan.MaxDepth {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := jsonscan.String(b, i)
		return end, ok && validUTF8(b[i+1:end-1])
	case c == '{':
		return plainObject(b, i, depth)
	case c == '[':
		i = jsonscan.Space(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			end, ok := plainValue(b, i, depth+1)
			if !ok {
				return 0, false
			}
			var more bool
			if i, more, ok = jsonscan.After(b, end, ']'); !ok || !more {
				return i, ok
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		end, ok := jsonscan.Number(b, i)
		return end, ok && bytes.IndexAny(b[i:end], ".eE") < 0
	}
	return jsonscan.Value(b, i) // true, false, null, or not JSON
}

func validUTF8(b []byte) bool { return jsonscan.ASCII(b) || utf8.Valid(b) }

// plainObject checks an object's members and that no key repeats: a
// manifest's objects are small, so earlier keys are compared in turn
// until there are many.
func plainObject(b []byte, i, depth int) (int, bool) {
	var few [16][]byte
	keys := few[:0]
	var many map[string]struct{}
	i = jsonscan.Space(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		end, plain, ok := jsonscan.String(b, i)
		key := b[i+1 : max(end-1, i+1)]
		if !ok || !plain || !validUTF8(key) {
			return 0, false
		}
		if many != nil {
			if _, dup := many[string(key)]; dup {
				return 0, false
			}
			many[string(key)] = struct{}{}
		} else {
			for _, k := range keys {
				if bytes.Equal(k, key) {
					return 0, false
				}
			}
			if keys = append(keys, key); len(keys) > 32 {
				many = make(map[string]struct{}, 2*len(keys))
				for _, k := range keys {
					many[string(k)] = struct{}{}
				}
			}
		}
		if i = jsonscan.Space(b, end); i >= len(b) || b[i] != ':' {
			return 0, false
		}
		if end, ok = plainValue(b, jsonscan.Space(b, i+1), depth+1); !ok {
			return 0, false
		}
		var more bool
		if i, more, ok = jsonscan.After(b, end, '}'); !ok || !more {
			return i, ok
		}
	}
}
