package jose

// Tests of the strict JSON parser and the JWS/JWK helpers that DPoP proof
// validation relies on. FuzzParseObject checks ParseObject against a second
// implementation built on encoding/json.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// joseNest returns n nested containers (the outermost an object).
func joseNest(n int) string {
	if n < 1 {
		panic("n < 1")
	}
	return `{"a":` + strings.Repeat("[", n-1) + "1" + strings.Repeat("]", n-1) + "}"
}

func joseNestObjects(n int) string {
	return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
}

func TestParseObjectDuplicates(t *testing.T) {
	dup := []struct{ name, in string }{
		{"plain", `{"a":1,"a":2}`},
		{"same_value", `{"a":1,"a":1}`},
		{"different_types", `{"htu":"x","htu":null}`},
		{"escaped_u", `{"htu":"x","h\u0074u":"y"}`},
		{"escaped_first", `{"\u0061lg":"none","alg":"ES256"}`},
		{"fully_escaped", `{"typ":"a","\u0074\u0079\u0070":"b"}`},
		{"escaped_upper_hex", `{"jku":1,"\u006Aku":2}`},
		{"escaped_solidus", `{"a/b":1,"a\/b":2}`},
		{"escaped_non_ascii", `{"é":1,"\u00e9":2}`},
		{"escaped_surrogate_pair", `{"😀":1,"\ud83d\ude00":2}`},
		{"far_apart", `{"a":1,"b":2,"c":3,"d":4,"a":5}`},
		{"nested_object", `{"x":{"a":1,"a":2}}`},
		{"nested_escaped", `{"jwk":{"kty":"EC","\u006bty":"oct"}}`},
		{"nested_in_array", `{"x":[1,{"a":1,"a":2}]}`},
		{"deeply_nested", `{"x":{"y":{"z":{"k":1,"k":1}}}}`},
		{"nested_after_valid", `{"x":{"a":1},"y":{"b":1,"b":2}}`},
		{"empty_names", `{"":1,"":2}`},
	}
	for _, tc := range dup {
		t.Run("dup/"+tc.name, func(t *testing.T) {
			if m, err := ParseObject([]byte(tc.in)); !errors.Is(err, errJSONDuplicate) {
				t.Fatalf("ParseObject(%s) = %v, %v; want errJSONDuplicate", tc.in, m, err)
			}
		})
	}
	ok := []struct{ name, in string }{
		{"same_name_in_sibling_objects", `{"a":{"a":1},"b":{"a":1}}`},
		{"same_name_nested_and_top", `{"a":{"a":{"a":1}}}`},
		{"case_differs", `{"a":1,"A":2}`},
		{"array_of_same_objects", `{"x":[{"a":1},{"a":1}]}`},
		{"name_prefix", `{"ht":1,"htu":2,"htu ":3}`},
	}
	for _, tc := range ok {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			if _, err := ParseObject([]byte(tc.in)); err != nil {
				t.Fatalf("ParseObject(%s): %v", tc.in, err)
			}
		})
	}
	// Lone surrogates decode to U+FFFD, so these collide: refusing them is
	// the safe direction (no parser can see two different names).
	if _, err := ParseObject([]byte(`{"\ud800":1,"\udc00":2}`)); err == nil {
		t.Error(`lone surrogates "\ud800" and "\udc00" accepted as distinct names`)
	}
}

func TestParseObjectMembers(t *testing.T) {
	m, err := ParseObject([]byte(` {"h\u0074u" : "https://x/y" , "n":[1, {"a":"b"}],"e":{},"s":"\"q\"" } ` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{
		{Name: "htu", Value: []byte(`"https://x/y"`)},
		{Name: "n", Value: []byte(`[1, {"a":"b"}]`)},
		{Name: "e", Value: []byte(`{}`)},
		{Name: "s", Value: []byte(`"\"q\""`)},
	}
	if len(m) != len(want) {
		t.Fatalf("got %d members", len(m))
	}
	for i := range want {
		if m[i].Name != want[i].Name || !bytes.Equal(m[i].Value, want[i].Value) {
			t.Errorf("member %d = %q %s, want %q %s", i, m[i].Name, m[i].Value, want[i].Name, want[i].Value)
		}
	}
	if v, ok := Lookup(m, "htu"); !ok || string(v) != `"https://x/y"` {
		t.Errorf("Lookup(htu) = %s, %v", v, ok)
	}
	if _, ok := Lookup(m, "h\\u0074u"); ok {
		t.Error("Lookup found the escaped spelling")
	}
	if _, ok := Lookup(m, "HTU"); ok {
		t.Error("Lookup is case-insensitive")
	}
	if m, err := ParseObject([]byte(`{}`)); err != nil || len(m) != 0 {
		t.Errorf("ParseObject({}) = %v, %v", m, err)
	}
}

func TestParseObjectDepth(t *testing.T) {
	for n := 1; n <= maxDepth; n++ {
		for _, in := range []string{joseNest(n), joseNestObjects(n)} {
			if _, err := ParseObject([]byte(in)); err != nil {
				t.Errorf("depth %d: %v (%s)", n, err, in)
			}
		}
	}
	for _, n := range []int{maxDepth + 1, maxDepth + 2, 100, 1000, 100000} {
		for _, in := range []string{joseNest(n), joseNestObjects(n)} {
			if _, err := ParseObject([]byte(in)); !errors.Is(err, errJSONDepth) {
				t.Errorf("depth %d: %v, want errJSONDepth", n, err)
			}
		}
		// Unterminated: the depth limit must fire before the syntax error.
		in := `{"a":` + strings.Repeat("[", n)
		if _, err := ParseObject([]byte(in)); !errors.Is(err, errJSONDepth) {
			t.Errorf("unterminated depth %d: %v, want errJSONDepth", n, err)
		}
	}
	// Depth counts in every member, not just the first.
	in := `{"a":1,"b":` + joseNest(maxDepth) + `}`
	if _, err := ParseObject([]byte(in)); !errors.Is(err, errJSONDepth) {
		t.Errorf("depth in second member: %v", err)
	}
}

func TestParseObjectMemberLimit(t *testing.T) {
	obj := func(n int) string {
		var b strings.Builder
		b.WriteByte('{')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"m%d":%d`, i, i)
		}
		b.WriteByte('}')
		return b.String()
	}
	if m, err := ParseObject([]byte(obj(MaxMembers))); err != nil || len(m) != MaxMembers {
		t.Fatalf("%d members: %d, %v", MaxMembers, len(m), err)
	}
	if _, err := ParseObject([]byte(obj(MaxMembers + 1))); !errors.Is(err, errJSONMembers) {
		t.Fatalf("%d members: %v", MaxMembers+1, err)
	}
	if _, err := ParseObject([]byte(`{"x":` + obj(MaxMembers+1) + `}`)); !errors.Is(err, errJSONMembers) {
		t.Fatalf("nested %d members: %v", MaxMembers+1, err)
	}
	// A larger cap, as for access tokens: past the stack array of names a
	// map keeps duplicate detection linear, and still catches duplicates.
	big := obj(1000)
	if m, err := ParseObjectLimit([]byte(big), 1000); err != nil || len(m) != 1000 {
		t.Fatalf("1000 members with cap 1000: %d, %v", len(m), err)
	}
	if _, err := ParseObjectLimit([]byte(big), 999); !errors.Is(err, errJSONMembers) {
		t.Fatalf("1000 members with cap 999: %v", err)
	}
	for _, at := range []int{0, 63, 64, 65, 998} {
		dup := big[:len(big)-1] + fmt.Sprintf(`,"m%d":0}`, at)
		if _, err := ParseObjectLimit([]byte(dup), 2000); !errors.Is(err, errJSONDuplicate) {
			t.Fatalf("duplicate of member %d in 1001 members: %v", at, err)
		}
	}
	// An escaped spelling of a name is the same name, in the map too.
	if _, err := ParseObjectLimit([]byte(big[:len(big)-1]+`,"\u006d70":0}`), 2000); !errors.Is(err, errJSONDuplicate) {
		t.Fatalf("escaped duplicate of member 70: %v", err)
	}
	// Arrays are not limited by member count.
	arr := `{"a":[` + strings.Repeat("1,", 1000) + `1]}`
	if _, err := ParseObject([]byte(arr)); err != nil {
		t.Fatalf("long array: %v", err)
	}
}

func TestParseObjectStrings(t *testing.T) {
	bad := map[string]string{
		"invalid_utf8_ff":            "{\"a\":\"\xff\"}",
		"invalid_utf8_in_name":       "{\"\xfe\":1}",
		"overlong_slash":             "{\"a\":\"\xc0\xaf\"}",
		"overlong_nul":               "{\"a\":\"\xc0\x80\"}",
		"utf8_encoded_surrogate":     "{\"a\":\"\xed\xa0\x80\"}",
		"truncated_sequence":         "{\"a\":\"\xe2\x82\"}",
		"lone_continuation":          "{\"a\":\"\x80\"}",
		"above_U+10FFFF":             "{\"a\":\"\xf4\x90\x80\x80\"}",
		"invalid_utf8_nested":        "{\"a\":{\"b\":[\"\xff\"]}}",
		"raw_nul":                    "{\"a\":\"a\x00b\"}",
		"raw_newline":                "{\"a\":\"a\nb\"}",
		"raw_tab":                    "{\"a\":\"a\tb\"}",
		"raw_0x1f":                   "{\"a\":\"\x1f\"}",
		"raw_control_in_name":        "{\"a\x01\":1}",
		"bad_escape_x":               `{"a":"\x41"}`,
		"bad_escape_quote":           `{"a":"\'"}`,
		"bad_escape_short_u":         `{"a":"\u12"}`,
		"bad_escape_non_hex":         `{"a":"\u12G4"}`,
		"bad_escape_upper_U":         `{"a":"\U0041"}`,
		"escape_at_end":              `{"a":"\`,
		"unterminated_string":        `{"a":"abc`,
		"unterminated_name":          `{"abc`,
		"single_quotes":              `{'a':1}`,
		"unquoted_name":              `{a:1}`,
		"invalid_utf8_outside_strng": "{\"a\":1\xff}",
	}
	for name, in := range bad {
		t.Run("bad/"+name, func(t *testing.T) {
			if _, err := ParseObject([]byte(in)); err == nil {
				t.Fatalf("ParseObject(%q) accepted", in)
			}
		})
	}
	good := map[string]string{
		"del_0x7f":           "{\"a\":\"\x7f\"}",
		"escaped_nul":        `{"a":"\u0000"}`,
		"all_short_escapes":  `{"a":"\" \\ \/ \b \f \n \r \t"}`,
		"two_byte":           "{\"a\":\"é\"}",
		"three_byte":         "{\"a\":\"€\"}",
		"four_byte":          "{\"a\":\"😀\"}",
		"literal_U+FFFD":     "{\"a\":\"\xef\xbf\xbd\"}",
		"U+10FFFF":           "{\"a\":\"\xf4\x8f\xbf\xbf\"}",
		"lone_surrogate_esc": `{"a":"\ud800"}`,
		"non_ascii_name":     "{\"ключ\":1}",
	}
	for name, in := range good {
		t.Run("good/"+name, func(t *testing.T) {
			if _, err := ParseObject([]byte(in)); err != nil {
				t.Fatalf("ParseObject(%q): %v", in, err)
			}
		})
	}
}

func TestParseObjectNumbers(t *testing.T) {
	bad := []string{"01", "-01", "00", "1.", "-1.", ".5", "-.5", "-", "+1", "1e", "1e+", "1E-", "1.5e", "0x10", "1_000",
		"NaN", "Infinity", "-Infinity", "1.2.3", "1e5e5", "--1", "1ee5", "0.e1", "١"}
	for _, n := range bad {
		in := `{"n":` + n + `}`
		if _, err := ParseObject([]byte(in)); err == nil {
			t.Errorf("number %q accepted", n)
		}
		// Also inside an array, where a different delimiter follows.
		in = `{"n":[` + n + `,1]}`
		if _, err := ParseObject([]byte(in)); err == nil {
			t.Errorf("number %q in array accepted", n)
		}
	}
	good := []string{"0", "-0", "1", "-1", "1.5", "0.5", "-0.0", "1e5", "1E5", "1e+5", "1e-5", "1.5E+300", "1e999", "-1e999",
		"123456789012345678901234567890", "1562262618", "1562262618.5"}
	for _, n := range good {
		m, err := ParseObject([]byte(`{"n":` + n + `}`))
		if err != nil {
			t.Errorf("number %q: %v", n, err)
			continue
		}
		if string(m[0].Value) != n {
			t.Errorf("number %q: raw value %q", n, m[0].Value)
		}
	}
}

func TestParseObjectSyntax(t *testing.T) {
	notObject := []string{"", " ", "[]", `"str"`, "null", "true", "1", "[{}]", "\ufeff{}", "\x00{}"}
	for _, in := range notObject {
		if _, err := ParseObject([]byte(in)); !errors.Is(err, errJSONNotObject) {
			t.Errorf("ParseObject(%q) = %v, want errJSONNotObject", in, err)
		}
	}
	bad := []string{
		`{}x`, `{}{}`, `{} ,`, `{"a":1}}`, `{"a":1} x`, "{}\x00", `{}]`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`,
		`{"a" 1}`, `{"a":1 "b":2}`, `{"a":1`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`, `{"a":tru}`,
		`{"a":True}`, `{"a":nul}`, `{"a":nulll}`, `{"a":falsey}`, `{"a":undefined}`, `{"a":1;"b":2}`,
		"{\"a\":1\v}", "{\"a\":1\f}", "{\u00a0\"a\":1}", `{"a":[}`, `{"a":{]}`, `{"a":"b"]`, `{`,
		`{"a":1}` + "\x00", `{"a":/*c*/1}`, `{"a":1}//`,
	}
	for _, in := range bad {
		if _, err := ParseObject([]byte(in)); err == nil {
			t.Errorf("ParseObject(%q) accepted", in)
		}
	}
	good := []string{"{}", " {} ", "\t\r\n{\t\r\n}\t\r\n", `{"a":true,"b":false,"c":null}`, `{"a":[]}`, `{"a":[[],{}]}`}
	for _, in := range good {
		if _, err := ParseObject([]byte(in)); err != nil {
			t.Errorf("ParseObject(%q): %v", in, err)
		}
	}
}

// joseValue parses {"v":<raw>} and returns the raw value, so the type
// helpers are tested on values the parser produced.
func joseValue(t *testing.T, raw string) []byte {
	t.Helper()
	m, err := ParseObject([]byte(`{"v":` + raw + `}`))
	if err != nil {
		t.Fatalf("ParseObject(%s): %v", raw, err)
	}
	return m[0].Value
}

func TestString(t *testing.T) {
	ok := map[string]string{
		`""`:                   "",
		`"dpop+jwt"`:           "dpop+jwt",
		`"dpop\u002bjwt"`:      "dpop+jwt",
		`"a\"b\\c\/d"`:         `a"b\c/d`,
		`"\ud83d\ude00"`:       "😀",
		`"\u0000"`:             "\x00",
		`"é"`:                  "é",
		`"\u00e9"`:             "é",
		`"https://x.example/"`: "https://x.example/",
	}
	for raw, want := range ok {
		if got, isStr := String(joseValue(t, raw)); !isStr || got != want {
			t.Errorf("String(%s) = %q, %v; want %q", raw, got, isStr, want)
		}
	}
	for _, raw := range []string{`1`, `-1`, `true`, `false`, `null`, `[]`, `["a"]`, `{}`, `{"a":"b"}`, `1e5`} {
		if got, isStr := String(joseValue(t, raw)); isStr {
			t.Errorf("String(%s) = %q, true", raw, got)
		}
	}
	if _, isStr := String(nil); isStr {
		t.Error("String(nil) is a string")
	}
}

func TestNumber(t *testing.T) {
	ok := map[string]float64{
		`0`: 0, `-0`: 0, `1562262618`: 1562262618, `1562262618.5`: 1562262618.5, `1.5e9`: 1.5e9,
		`-1`: -1, `1e308`: 1e308, `1E-3`: 0.001, `123456789012345678901234567890`: 1.2345678901234568e29,
	}
	for raw, want := range ok {
		if got, isNum := Number(joseValue(t, raw)); !isNum || got != want {
			t.Errorf("Number(%s) = %v, %v; want %v", raw, got, isNum, want)
		}
	}
	for _, raw := range []string{`1e999`, `-1e999`, `1e309`, `"1562262618"`, `"1"`, `true`, `false`, `null`, `[]`, `[1]`, `{}`} {
		if got, isNum := Number(joseValue(t, raw)); isNum {
			t.Errorf("Number(%s) = %v, true", raw, got)
		}
	}
	if _, isNum := Number(nil); isNum {
		t.Error("Number(nil) is a number")
	}
}

func TestStringArray(t *testing.T) {
	ok := map[string][]string{
		`[]`:                     {},
		`["a"]`:                  {"a"},
		`["a","b","a"]`:          {"a", "b", "a"},
		`[ "\u0061" , "" ]`:      {"a", ""},
		`["https://rs.example"]`: {"https://rs.example"},
	}
	for raw, want := range ok {
		got, isArr := StringArray(joseValue(t, raw))
		if !isArr || !slices.Equal(got, want) {
			t.Errorf("StringArray(%s) = %q, %v; want %q", raw, got, isArr, want)
		}
	}
	for _, raw := range []string{`"a"`, `1`, `null`, `true`, `{}`, `{"a":"b"}`, `[1]`, `["a",1]`, `[["a"]]`, `[{}]`, `[true]`} {
		if got, isArr := StringArray(joseValue(t, raw)); isArr {
			t.Errorf("StringArray(%s) = %q, true", raw, got)
		}
	}
	for _, raw := range []string{`[null]`, `["rs",null]`} {
		t.Run(raw, func(t *testing.T) {
			got, isArr := StringArray(joseValue(t, raw))
			if isArr {
				t.Errorf("StringArray(%s) = %q, true: a null element must not pass as \"\"", raw, got)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// JWK import and thumbprints.

func TestParseJWKVectors(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "rfc9449")
	for _, tc := range []struct{ file, kty, tp string }{
		{"rfc7638-rsa-key.json", "RSA", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"rfc9449-ec-key.json", "EC", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
	} {
		raw, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParseJWK(raw, KeyPolicy{})
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if k.Kty != tc.kty || k.Thumbprint != tc.tp {
			t.Errorf("%s: %s %s, want %s %s", tc.file, k.Kty, k.Thumbprint, tc.kty, tc.tp)
		}
	}
}

func TestParseJWKRejects(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	x, y := b64.EncodeToString(pt[1:33]), b64.EncodeToString(pt[33:])
	ec := func(extra string) []byte {
		return []byte(`{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"` + extra + `}`)
	}
	if k, err := ParseJWK(ec(""), KeyPolicy{}); err != nil || k.Crv != "P-256" {
		t.Fatalf("valid key: %v", err)
	}
	cases := map[string]struct {
		raw  []byte
		want error
	}{
		"d":              {ec(`,"d":"AAAA"`), ErrJWKPrivate},
		"escaped_d":      {ec(`,"\u0064":"AAAA"`), ErrJWKPrivate},
		"d_null":         {ec(`,"d":null`), ErrJWKPrivate},
		"p":              {ec(`,"p":"AAAA"`), ErrJWKPrivate},
		"q":              {ec(`,"q":"AAAA"`), ErrJWKPrivate},
		"dp":             {ec(`,"dp":"AAAA"`), ErrJWKPrivate},
		"dq":             {ec(`,"dq":"AAAA"`), ErrJWKPrivate},
		"qi":             {ec(`,"qi":"AAAA"`), ErrJWKPrivate},
		"oth":            {ec(`,"oth":[]`), ErrJWKPrivate},
		"k":              {ec(`,"k":"AAAA"`), ErrJWKSymmetric},
		"kty_oct":        {[]byte(`{"kty":"oct","kid":"x"}`), ErrJWKSymmetric},
		"kty_missing":    {[]byte(`{"crv":"P-256","x":"` + x + `","y":"` + y + `"}`), ErrJWKUnsupported},
		"kty_lowercase":  {[]byte(`{"kty":"ec","crv":"P-256","x":"` + x + `","y":"` + y + `"}`), ErrJWKUnsupported},
		"kty_number":     {[]byte(`{"kty":1}`), ErrJWKInvalid},
		"x_number":       {[]byte(`{"kty":"EC","crv":"P-256","x":1,"y":"` + y + `"}`), ErrJWKInvalid},
		"x_padded":       {[]byte(`{"kty":"EC","crv":"P-256","x":"` + x + `=","y":"` + y + `"}`), ErrJWKInvalid},
		"x_std_base64":   {[]byte(`{"kty":"EC","crv":"P-256","x":"` + base64.StdEncoding.EncodeToString(pt[1:33]) + `","y":"` + base64.StdEncoding.EncodeToString(pt[33:]) + `"}`), ErrJWKInvalid},
		"y_missing":      {[]byte(`{"kty":"EC","crv":"P-256","x":"` + x + `"}`), ErrJWKInvalid},
		"point_swapped":  {[]byte(`{"kty":"EC","crv":"P-256","x":"` + y + `","y":"` + x + `"}`), ErrJWKInvalid},
		"crv_P-384":      {[]byte(`{"kty":"EC","crv":"P-384","x":"` + x + `","y":"` + y + `"}`), ErrJWKInvalid},
		"duplicate_x":    {[]byte(`{"kty":"EC","crv":"P-256","x":"` + x + `","x":"` + x + `","y":"` + y + `"}`), ErrJWKInvalid},
		"not_object":     {[]byte(`"` + x + `"`), ErrJWKInvalid},
		"rsa_e_missing":  {[]byte(`{"kty":"RSA","n":"` + strings.Repeat("A", 342) + `"}`), ErrJWKInvalid},
		"rsa_n_16384":    {[]byte(`{"kty":"RSA","e":"AQAB","n":"` + strings.Repeat("_", 2731) + `"}`), ErrJWKRSASize},
		"rsa_n_bad_b64":  {[]byte(`{"kty":"RSA","e":"AQAB","n":"` + strings.Repeat("!", 342) + `"}`), ErrJWKInvalid},
		"okp_X25519":     {[]byte(`{"kty":"OKP","crv":"X25519","x":"` + x + `"}`), ErrJWKUnsupported},
		"okp_x_too_long": {[]byte(`{"kty":"OKP","crv":"Ed25519","x":"` + x + `AA"}`), ErrJWKInvalid},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseJWK(tc.raw, KeyPolicy{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseJWK = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestParseJWKNothingIgnored: a line break (JSON-escaped) inside a base64url
// member is refused, although encoding/base64 would skip it: the thumbprint
// is taken over the members as sent, so the same key must not have two.
func TestParseJWKNothingIgnored(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := ecKey.PublicKey.Bytes()
	edKey, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := []map[string]string{
		{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pt[1:33]), "y": b64.EncodeToString(pt[33:])},
		{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(edKey)},
		{"kty": "RSA", "n": b64.EncodeToString(rsaKey.N.Bytes()), "e": "AQAB"},
	}
	for _, k := range keys {
		raw, _ := json.Marshal(k)
		if _, err := ParseJWK(raw, KeyPolicy{}); err != nil {
			t.Fatalf("valid %s key: %v", k["kty"], err)
		}
		for _, member := range []string{"x", "y", "n", "e"} {
			v, ok := k[member]
			if !ok {
				continue
			}
			for _, brk := range []string{`\n`, `\r\n`, `\r`, `\u000a`} {
				for _, at := range []int{0, 2, len(v)} {
					bad := map[string]string{}
					for n, mv := range k {
						bad[n] = mv
					}
					bad[member] = "@"
					raw, _ := json.Marshal(bad)
					raw = bytes.Replace(raw, []byte(`"@"`), []byte(`"`+v[:at]+brk+v[at:]+`"`), 1)
					if _, err := ParseJWK(raw, KeyPolicy{}); !errors.Is(err, ErrJWKInvalid) {
						t.Errorf("%s %s with %s at %d: %v, want ErrJWKInvalid", k["kty"], member, brk, at, err)
					}
				}
			}
		}
	}
}

// ---------------------------------------------------------------------------
// ECDSA R||S to DER, checked against encoding/asn1.

func TestDERSignature(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		size := (curve.Params().BitSize + 7) / 8
		n := curve.Params().N
		values := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(0x7f), big.NewInt(0x80), big.NewInt(0xff), big.NewInt(0x100),
			new(big.Int).Sub(n, big.NewInt(1)), n, new(big.Int).Rsh(n, 8), new(big.Int).Lsh(big.NewInt(1), uint(8*size-1))}
		for range 50 {
			v, err := rand.Int(rand.Reader, n)
			if err != nil {
				t.Fatal(err)
			}
			values = append(values, v)
		}
		for _, r := range values {
			for _, s := range values[:12] {
				rb, sb := r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))
				got := DERSignature(rb, sb)
				want, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: DERSignature(%x, %x) = %x, want %x", curve.Params().Name, rb, sb, got, want)
				}
			}
		}
	}
}

func TestVerifyECDSARejectsZeroAndOrder(t *testing.T) {
	for _, tc := range []struct {
		alg   string
		curve elliptic.Curve
	}{{"ES256", elliptic.P256()}, {"ES384", elliptic.P384()}, {"ES512", elliptic.P521()}} {
		priv, err := ecdsa.GenerateKey(tc.curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := FromCrypto(&priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		alg, _ := LookupAlg(tc.alg)
		const input = "header.payload"
		size := (tc.curve.Params().BitSize + 7) / 8
		h := digest(alg.hash, input, nil)
		if tc.alg == "ES256" {
			if want := sha256.Sum256([]byte(input)); !bytes.Equal(h, want[:]) {
				t.Fatal("digest is not SHA-256")
			}
		}
		r, s, err := ecdsa.Sign(rand.Reader, priv, h)
		if err != nil {
			t.Fatal(err)
		}
		sig := append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
		if err := Verify(alg, pub, input, sig); err != nil {
			t.Fatalf("%s: valid signature rejected: %v", tc.alg, err)
		}
		n := tc.curve.Params().N
		bad := map[string][]byte{
			"zero":       make([]byte, 2*size),
			"r_zero":     append(make([]byte, size), sig[size:]...),
			"s_zero":     append(append([]byte(nil), sig[:size]...), make([]byte, size)...),
			"r_is_n":     append(n.FillBytes(make([]byte, size)), sig[size:]...),
			"s_is_n":     append(append([]byte(nil), sig[:size]...), n.FillBytes(make([]byte, size))...),
			"short":      sig[:2*size-1],
			"long":       append(append([]byte(nil), sig...), 0),
			"der":        func() []byte { d, _ := ecdsa.SignASN1(rand.Reader, priv, h); return d }(),
			"all_ones":   bytes.Repeat([]byte{0xff}, 2*size),
			"swapped_rs": append(append([]byte(nil), sig[size:]...), sig[:size]...),
		}
		if rn := new(big.Int).Add(r, n); rn.BitLen() <= 8*size {
			bad["r_plus_n"] = append(rn.FillBytes(make([]byte, size)), sig[size:]...)
		}
		for name, b := range bad {
			if err := Verify(alg, pub, input, b); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s %s: %v, want ErrBadSignature", tc.alg, name, err)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Compact JWS parsing.

func TestParseCompact(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	hdr, pl, sig := enc(`{"alg":"ES256","typ":"dpop+jwt","kid":"k","jwk":{}}`), enc(`{"a":1}`), enc("sig")
	j, err := ParseCompact(hdr+"."+pl+"."+sig, 8192)
	if err != nil {
		t.Fatal(err)
	}
	if j.Alg != "ES256" || j.Typ != "dpop+jwt" || !j.HasTyp || j.Kid != "k" || !j.HasKid || string(j.JWK) != "{}" ||
		j.SigningInput != hdr+"."+pl || string(j.Signature) != "sig" || !j.HeaderHas("kid") || j.HeaderHas("jku") {
		t.Fatalf("got %+v", j)
	}
	cases := map[string]struct {
		in   string
		want error
	}{
		"too_large":        {hdr + "." + pl + "." + strings.Repeat("A", 8192), ErrTooLarge},
		"empty":            {"", ErrNotCompact},
		"one_segment":      {hdr, ErrNotCompact},
		"two_segments":     {hdr + "." + pl, ErrNotCompact},
		"empty_signature":  {hdr + "." + pl + ".", ErrNotCompact},
		"empty_header":     {"." + pl + "." + sig, ErrNotCompact},
		"empty_payload":    {hdr + ".." + sig, ErrNotCompact},
		"four_segments":    {hdr + "." + pl + "." + sig + "." + sig, ErrNotCompact},
		"five_segments":    {hdr + "." + pl + "." + sig + "." + sig + "." + sig, ErrNotCompact},
		"padding":          {hdr + "." + pl + "." + sig + "=", ErrBadEncoding},
		"plus":             {hdr + "." + pl + "+." + sig, ErrBadEncoding},
		"space":            {hdr + " ." + pl + "." + sig, ErrBadEncoding},
		"non_ascii":        {hdr + "." + pl + "." + sig + "é", ErrBadEncoding},
		"bad_length":       {hdr + "." + pl + "AAA." + sig, ErrBadEncoding},
		"header_array":     {enc(`[]`) + "." + pl + "." + sig, ErrHeaderNotJSON},
		"payload_string":   {hdr + "." + enc(`"x"`) + "." + sig, ErrPayloadNotJSON},
		"header_dup":       {enc(`{"alg":"ES256","alg":"none"}`) + "." + pl + "." + sig, ErrHeaderNotJSON},
		"alg_missing":      {enc(`{"typ":"dpop+jwt"}`) + "." + pl + "." + sig, ErrHeaderMember},
		"alg_null":         {enc(`{"alg":null}`) + "." + pl + "." + sig, ErrHeaderMember},
		"typ_number":       {enc(`{"alg":"ES256","typ":1}`) + "." + pl + "." + sig, ErrHeaderMember},
		"kid_object":       {enc(`{"alg":"ES256","kid":{}}`) + "." + pl + "." + sig, ErrHeaderMember},
		"jwk_array":        {enc(`{"alg":"ES256","jwk":[]}`) + "." + pl + "." + sig, ErrHeaderMember},
		"crit":             {enc(`{"alg":"ES256","crit":["exp"]}`) + "." + pl + "." + sig, ErrCrit},
		"crit_escaped":     {enc(`{"alg":"ES256","\u0063rit":["x"]}`) + "." + pl + "." + sig, ErrCrit},
		"b64":              {enc(`{"alg":"ES256","b64":true}`) + "." + pl + "." + sig, ErrUnencoded},
		"payload_in_clear": {hdr + `.{"a":1}.` + sig, ErrBadEncoding},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseCompact(tc.in, 8192); !errors.Is(err, tc.want) {
				t.Fatalf("ParseCompact = %v, want %v", err, tc.want)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Fuzzing: ParseObject against encoding/json.

// joseRefParse is a second implementation of ParseObject's contract on top
// of encoding/json: b must be one valid JSON object in valid UTF-8, with no
// duplicate member names (after unescaping) in any object, at most
// MaxMembers members per object and at most maxDepth nested containers. It
// returns the top-level member names.
func joseRefParse(b []byte) ([]string, bool) {
	if !json.Valid(b) || !utf8.Valid(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		object    bool
		names     map[string]bool
		expectKey bool
	}
	var stack []*frame
	var top []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		if len(stack) == 0 && tok != json.Delim('{') {
			return nil, false
		}
		var cur *frame
		if len(stack) > 0 {
			cur = stack[len(stack)-1]
		}
		if cur != nil && cur.object && cur.expectKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].expectKey = true
				}
				continue
			}
			name := tok.(string)
			if cur.names[name] || len(cur.names) == MaxMembers {
				return nil, false
			}
			cur.names[name] = true
			if len(stack) == 1 {
				top = append(top, name)
			}
			cur.expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) == maxDepth {
				return nil, false
			}
			stack = append(stack, &frame{object: tok == json.Delim('{'), names: map[string]bool{}, expectKey: true})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].expectKey = true
			}
		default:
			if cur.object {
				cur.expectKey = true
			}
		}
	}
	return top, true
}

func TestJoseRefParse(t *testing.T) {
	// The reference agrees with the unit-test expectations above.
	for in, want := range map[string]bool{
		`{}`: true, `{"a":1,"b":[1,{"c":2}]}`: true, `{"a":1,"a":2}`: false, `{"a":1,"\u0061":2}`: false,
		`{"x":{"a":1,"a":2}}`: false, joseNest(maxDepth): true, joseNest(maxDepth + 1): false, `[]`: false,
		"{\"a\":\"\xff\"}": false, `{}x`: false, `{"a":{}}`: true, `{"a":[]}`: true,
	} {
		if _, got := joseRefParse([]byte(in)); got != want {
			t.Errorf("joseRefParse(%s) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParseObject(f *testing.F) {
	seeds := []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"htu":"x","h\u0074u":"y"}`, `{"x":{"a":1,"a":2}}`, `{"x":[{"a":1,"a":2}]}`,
		`{"a":"\ud800","b":"\udc00"}`, `{"\ud800":1,"\udc00":2}`, `{"a/b":1,"a\/b":2}`, `{"é":1,"\u00e9":2}`,
		joseNest(maxDepth), joseNest(maxDepth + 1), joseNestObjects(maxDepth), joseNestObjects(maxDepth + 1),
		`{"n":01}`, `{"n":1.}`, `{"n":.5}`, `{"n":-}`, `{"n":1e}`, `{"n":1e999}`, `{"n":-0.0e+1}`,
		"{\"a\":\"\xff\"}", "{\"a\":\"\x01\"}", "{\"a\":\"\xed\xa0\x80\"}", `{}x`, ` { } `, `[]`, `null`, `{"a":[1,]}`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}}`,
		`{"jti":"e1j3V_bKic8-LAEB","htm":"GET","htu":"https://resource.example.org/protectedresource","iat":1562262618,"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		members, err := ParseObject(b)
		if !bytes.Equal(in, b) {
			t.Fatal("ParseObject modified its input")
		}
		names, refOK := joseRefParse(b)
		if (err == nil) != refOK {
			t.Fatalf("ParseObject(%q) error = %v, reference ok = %v", b, err, refOK)
		}
		if err != nil {
			if members != nil {
				t.Fatalf("ParseObject(%q) returned members with error %v", b, err)
			}
			return
		}
		if len(members) != len(names) {
			t.Fatalf("ParseObject(%q): %d members, reference %d", b, len(members), len(names))
		}
		for i, m := range members {
			if m.Name != names[i] {
				t.Fatalf("member %d name %q, reference %q", i, m.Name, names[i])
			}
			if !json.Valid(m.Value) {
				t.Fatalf("member %q value %q is not valid JSON", m.Name, m.Value)
			}
			if v, ok := Lookup(members, m.Name); !ok || !bytes.Equal(v, m.Value) {
				t.Fatalf("Lookup(%q) = %q, %v", m.Name, v, ok)
			}
			// The type helpers agree with encoding/json.
			var s string
			if got, ok := String(m.Value); ok != (json.Unmarshal(m.Value, &s) == nil && m.Value[0] == '"') || (ok && got != s) {
				t.Fatalf("String(%q) = %q, %v; encoding/json %q", m.Value, got, ok, s)
			}
			var num float64
			numErr := json.Unmarshal(m.Value, &num)
			if got, ok := Number(m.Value); ok && (numErr != nil || got != num) {
				t.Fatalf("Number(%q) = %v, true; encoding/json %v, %v", m.Value, got, num, numErr)
			}
		}
	})
}
