package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestValueAgreesWithEncodingJSON: a whole text is one valid value by
// Value exactly when encoding/json says it is valid (up to MaxDepth).
func TestValueAgreesWithEncodingJSON(t *testing.T) {
	alphabet := []string{`{`, `}`, `[`, `]`, `"`, `\`, `\"`, `\u00e9`, `\x`, `:`, `,`, ` `, "\n", "\x01",
		`a`, `é`, `0`, `1`, `-`, `.`, `e`, `+`, `true`, `false`, `null`, `tru`, `"k"`, `"v"`, `12`, `-0.5e+3`}
	rapid.Check(t, func(t *rapid.T) {
		parts := rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 24).Draw(t, "parts")
		text := []byte(strings.Join(parts, ""))
		if Valid(text) != json.Valid(text) {
			t.Fatalf("%q: Valid says %v, encoding/json %v", text, Valid(text), json.Valid(text))
		}
	})
	for _, valid := range []string{`{"a":[1,-0.5e+3,true,false,null,"x\"y\u00e9"]}`, `  "s"  `, `0`, `[]`, `{}`} {
		if !Valid([]byte(valid)) {
			t.Errorf("%s: not read as one value", valid)
		}
	}
	deep := []byte(strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2))
	if _, ok := Value(deep, 0); ok {
		t.Error("nesting past MaxDepth accepted")
	}
}

// TestLongStringAgreesWithEncodingJSON: strings long enough for the
// vector search (longString), with quotes, backslashes, escapes and
// control characters anywhere in them, end where encoding/json says and
// are plain exactly when they have no escape; a text that is no valid
// string is refused.
func TestLongStringAgreesWithEncodingJSON(t *testing.T) {
	alphabet := []string{`a`, `0123456789abcdef`, `é`, `"`, `\`, `\"`, `\\`, `\n`, `\u00e9`, `\u00`, `\x`, "\x01", "\x1f", ` `, `<&>`}
	rapid.Check(t, func(t *rapid.T) {
		lead := strings.Repeat("x", rapid.IntRange(30, 70).Draw(t, "lead"))
		parts := rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 40).Draw(t, "parts")
		text := []byte(`"` + lead + strings.Join(parts, "") + `"` + rapid.SampledFrom([]string{"", `,1`, ` "b"`}).Draw(t, "after"))
		end, plain, ok := String(text, 0)
		// The shortest prefix that is one valid string is where it ends.
		want := -1
		for n := 2; n <= len(text); n++ {
			if text[n-1] == '"' && json.Valid(text[:n]) {
				want = n
				break
			}
		}
		switch {
		case want < 0 && ok:
			t.Fatalf("%q: String took %d bytes, encoding/json no prefix", text, end)
		case want >= 0 && (!ok || end != want):
			t.Fatalf("%q: String says %d, %v; encoding/json %d", text, end, ok, want)
		case ok && plain != !bytes.Contains(text[:end], []byte(`\`)):
			t.Fatalf("%q: plain %v", text[:end], plain)
		}
	})
}

// TestStringPlain: plain means the bytes between the quotes are the value.
func TestStringPlain(t *testing.T) {
	for _, tc := range []struct {
		in        string
		plain, ok bool
	}{
		{`"abc"`, true, true}, {`"a long string of plain bytes, longer than eight"`, true, true},
		{`"é"`, true, true}, {`"a\nb"`, false, true}, {`"\u00e9"`, false, true},
		{`"\x"`, false, false}, {"\"a\x01\"", false, false}, {`"open`, false, false},
	} {
		end, plain, ok := String([]byte(tc.in), 0)
		if ok != tc.ok || ok && (plain != tc.plain || end != len(tc.in)) {
			t.Errorf("%s: end %d plain %v ok %v", tc.in, end, plain, ok)
		}
		if ok && plain {
			var s string
			if json.Unmarshal([]byte(tc.in), &s) != nil || s != tc.in[1:len(tc.in)-1] {
				t.Errorf("%s: plain but decodes to %q", tc.in, s)
			}
		}
	}
}

// TestScanString checks the eight-bytes-at-a-time string scanner against
// a byte-by-byte one.
func TestScanString(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := rapid.SliceOfN(rapid.SampledFrom([]byte{'a', '"', '\\', 'n', 'u', '0', 'F', 0, 0x1f, 0x20, 0x7f, 0x80, 0xff}), 0, 40).Draw(t, "b")
		b := append([]byte{'"'}, body...)
		wantEnd, wantPlain, wantOK := 0, true, false
		for j := 1; j < len(b); j++ {
			c := b[j]
			if c == '"' {
				wantEnd, wantOK = j+1, true
				break
			}
			if c < 0x20 {
				break
			}
			if c == '\\' {
				wantPlain = false
				if j+1 >= len(b) {
					break
				}
				if e := b[j+1]; e == 'u' {
					if j+6 > len(b) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
						break
					}
					j += 5
				} else if strings.IndexByte(`"\\/bfnrt`, e) >= 0 {
					j++
				} else {
					break
				}
			}
		}
		end, plain, ok := String(b, 0)
		if ok != wantOK || ok && (end != wantEnd || plain != wantPlain) {
			t.Fatalf("String(%q) = %d %v %v, want %d %v %v", b, end, plain, ok, wantEnd, wantPlain, wantOK)
		}
	})
}

// TestObject: Object yields an object's members in order, with plain
// keys told apart, refuses what is not one object, and stops when told.
func TestObject(t *testing.T) {
	var got []string
	ok := Object([]byte(` {"a":1, "b\n":{"c":[true,null]} ,"a":"x"} `), func(k []byte, plain bool, v []byte) bool {
		got = append(got, fmt.Sprintf("%s=%s/%v", k, v, plain))
		return true
	})
	if want := []string{`a=1/true`, `b\n={"c":[true,null]}/false`, `a="x"/true`}; !ok || !slices.Equal(got, want) {
		t.Fatalf("Object = %v %q, want true %q", ok, got, want)
	}
	for _, bad := range []string{``, `[]`, `{"a":1} x`, `{"a" 1}`, `{"a":1,}`, `{a:1}`, `{"a":tru}`} {
		if Object([]byte(bad), func([]byte, bool, []byte) bool { return true }) {
			t.Errorf("%q read as an object", bad)
		}
	}
	if !Object([]byte(`{}`), func([]byte, bool, []byte) bool { t.Error("member of {}"); return true }) {
		t.Error("{} refused")
	}
	n := 0
	if Object([]byte(`{"a":1,"b":2}`), func([]byte, bool, []byte) bool { n++; return false }) || n != 1 {
		t.Errorf("stopping: ok or %d calls", n)
	}
}

// TestArray: elements in order, each a valid value; anything but one
// array is refused; a false from elem stops the walk.
func TestArray(t *testing.T) {
	var got []string
	ok := Array([]byte(` [1, {"a":[2]} ,"x",[],null] `), func(v []byte) bool {
		got = append(got, string(v))
		return true
	})
	if want := []string{`1`, `{"a":[2]}`, `"x"`, `[]`, `null`}; !ok || !slices.Equal(got, want) {
		t.Errorf("ok %v, elements %q, want %q", ok, got, want)
	}
	for _, bad := range []string{`[1,]`, `[1 2]`, `{"a":1}`, `[1] 2`, `[`, ``, `"x"`} {
		if Array([]byte(bad), func([]byte) bool { return true }) {
			t.Errorf("%s: read as an array", bad)
		}
	}
	if !Array([]byte(`[ ]`), func([]byte) bool { t.Error("element of [ ]"); return true }) {
		t.Error("[ ] refused")
	}
	n := 0
	if Array([]byte(`[1,2]`), func([]byte) bool { n++; return false }) || n != 1 {
		t.Errorf("a false from elem: %d elements read", n)
	}
}

func TestValidNeverDisagreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`, `[]`, ` {"a":1} `, `{"a":1,"a":2}`, `{"a":[1,-2.5e+3,0,true,false,null,"x"]}`, `"x"`, `12`, `-0.0E1`,
		`{"s":"\u00e9\n\"q\"\/\b\f\r\t\\"}`, "{\"s\":\"caf\xc3\xa9\"}", "{\"s\":\"bad\xff\"}",
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":tru}`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{a:1}`,
		"{\"a\":\"x\ty\"}", `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, `{"a":1} x`, `{"a":1}{}`, ``, ` `, `{"a":"`, `{"a":"\`,
		`[[[[]]]]`, `{"a":{"b":{}}}`, `nul`, `1 2`, `{"a":1 "b":2}`, `-`, `-01`, `2.5`, `1E5`, `{"a":"\\"}`, `[1 2]`, `{,}`, `[,]`,
		strings.Repeat("[", 2000) + strings.Repeat("]", 2000),
	}
	for _, d := range docs {
		if got, want := Valid([]byte(d)), json.Valid([]byte(d)); got && !want {
			t.Errorf("%q: Valid true, json.Valid false", d)
		} else if got != want && len(d) < 1000 {
			t.Errorf("%q: Valid %v, json.Valid %v", d, got, want)
		}
	}
}

func TestLiteralReaders(t *testing.T) {
	for _, c := range []struct {
		tok   string
		ascii bool
	}{{`"web"`, true}, {`""`, true}, {`"a\"b"`, false}, {`"é"`, false}, {`"ab`, false}, {`"a"x`, false}, {`web`, false}, {``, false}} {
		if got := ASCIIString([]byte(c.tok)); got != c.ascii {
			t.Errorf("ASCIIString(%s) = %v", c.tok, got)
		}
	}
	for _, c := range []struct {
		tok  string
		bits int
		n    int64
		ok   bool
	}{{`3`, 32, 3, true}, {`-2`, 32, -2, true}, {`-0`, 64, 0, true}, {`2147483648`, 32, 0, false}, {`2147483648`, 64, 2147483648, true}, {`1.0`, 64, 0, false}, {`1e2`, 64, 0, false}, {`-`, 64, 0, false}, {`"3"`, 64, 0, false}} {
		if n, ok := Int([]byte(c.tok), c.bits); n != c.n || ok != c.ok {
			t.Errorf("Int(%s, %d) = %d, %v", c.tok, c.bits, n, ok)
		}
	}
	for _, c := range []struct {
		tok string
		n   uint64
		ok  bool
	}{{`17`, 17, true}, {`18446744073709551615`, 18446744073709551615, true}, {`18446744073709551616`, 0, false}, {`-1`, 0, false}, {``, 0, false}, {`1.0`, 0, false}} {
		if n, ok := Uint([]byte(c.tok)); n != c.n || ok != c.ok {
			t.Errorf("Uint(%s) = %d, %v", c.tok, n, ok)
		}
	}
	if !Verbatim("user/alice") || !Verbatim([]byte("a.b-c")) || Verbatim("a<b") || Verbatim([]byte("é")) {
		t.Error("Verbatim")
	}
}

// TestASCII: one byte of 0x80 or over anywhere, at every length and
// offset the eight-byte steps meet, and the answer is false.
func TestASCII(t *testing.T) {
	for n := range 40 {
		b := bytes.Repeat([]byte{'a'}, n)
		if !ASCII(b) {
			t.Fatalf("%d ASCII bytes refused", n)
		}
		for i := range n {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				b[i] = c
				if ASCII(b) {
					t.Fatalf("byte %#x at %d of %d taken for ASCII", c, i, n)
				}
			}
			b[i] = 0x7f
		}
	}
}

// TestVerbatim: every byte value at every position of strings the
// eight-byte steps meet, against the rule byte by byte.
func TestVerbatim(t *testing.T) {
	plain := func(c byte) bool {
		return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	for n := range 20 {
		b := bytes.Repeat([]byte{'a'}, n)
		if !Verbatim(b) || !Verbatim(string(b)) {
			t.Fatalf("%d plain bytes refused", n)
		}
		for i := range n {
			for c := range 256 {
				b[i] = byte(c)
				if got := Verbatim(b); got != plain(byte(c)) || Verbatim(string(b)) != got {
					t.Fatalf("byte %#x at %d of %d: Verbatim %v", c, i, n, got)
				}
			}
			b[i] = 'a'
		}
	}
}
