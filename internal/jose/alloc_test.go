package jose

// Tests of the allocation-saving paths: members stored in the JWS, interned
// names and values, strings aliased rather than copied, and SHA-256 of a
// string hashed through a stack buffer. Each is checked for the same result
// as the plain path it replaces.

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// TestParseCompactMemberStorage: header and payload share the JWS's member
// array when they fit, and neither sees the other's members whatever their
// sizes, including past the array.
func TestParseCompactMemberStorage(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	obj := func(first string, prefix string, n int) (string, []string) {
		var names []string
		var b strings.Builder
		b.WriteByte('{')
		if first != "" {
			b.WriteString(first)
			names = append(names, "alg")
		}
		for i := range n {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			name := fmt.Sprintf("%s%d", prefix, i)
			fmt.Fprintf(&b, `%q:%d`, name, i)
			names = append(names, name)
		}
		b.WriteByte('}')
		return b.String(), names
	}
	for _, hn := range []int{0, 1, 14, 15, 16, 17, 40} {
		for _, pn := range []int{0, 1, 15, 16, 17, 60} {
			hdr, hnames := obj(`"alg":"ES256"`, "h", hn)
			pl, pnames := obj("", "p", pn)
			j, err := ParseCompactLimit(enc(hdr)+"."+enc(pl)+"."+enc("sig"), 1<<20, 1000)
			if err != nil {
				t.Fatalf("%d+%d: %v", hn, pn, err)
			}
			for _, c := range []struct {
				got  []Member
				want []string
			}{{j.Header, hnames}, {j.Payload, pnames}} {
				if len(c.got) != len(c.want) {
					t.Fatalf("%d+%d: %d members, want %d", hn, pn, len(c.got), len(c.want))
				}
				for i, m := range c.got {
					if m.Name != c.want[i] {
						t.Fatalf("%d+%d: member %d is %q, want %q", hn, pn, i, m.Name, c.want[i])
					}
				}
			}
			if j.Alg != "ES256" {
				t.Fatalf("%d+%d: alg %q", hn, pn, j.Alg)
			}
			if pn == 0 && j.Payload != nil {
				t.Fatalf("%d+0: payload {} gives %#v, want nil as ParseObject gives", hn, j.Payload)
			}
		}
	}
}

// TestParseCompactAllocations: a DPoP proof's header and payload are parsed
// with two allocations, the JWS and its decode buffer: member names and
// values known to JOSE are not copied.
func TestParseCompactAllocations(t *testing.T) {
	p := newBenchProof(t, "ES256")
	n := testing.AllocsPerRun(100, func() {
		if _, err := ParseCompact(p.compact, 8192); err != nil {
			t.Fatal(err)
		}
	})
	if n > 2 {
		t.Fatalf("ParseCompact of a DPoP proof: %v allocations, want at most 2", n)
	}
}

// TestInterned: a known name or value is returned as the shared string;
// anything else, including a prefix or an extension of one, as its own copy
// with the same content.
func TestInterned(t *testing.T) {
	for _, s := range []string{"alg", "jti", "x5t#S256", "ES256", "dpop+jwt", "GET"} {
		set := knownNames
		if _, ok := set[s]; !ok {
			set = knownValues
		}
		if n := testing.AllocsPerRun(10, func() { _ = intern(set, []byte(s)) }); n != 0 {
			t.Errorf("intern(%q): %v allocations", s, n)
		}
	}
	for _, s := range []string{"al", "algg", "ALG", "get", "ES256 ", "", "é"} {
		if got := intern(knownNames, []byte(s)); got != s {
			t.Errorf("intern(%q) = %q", s, got)
		}
		if got := intern(knownValues, []byte(s)); got != s {
			t.Errorf("intern(%q) = %q", s, got)
		}
	}
	// An interned result never aliases the input: mutating the input after
	// the call leaves the string unchanged.
	b := []byte("unknown-name")
	s := intern(knownNames, b)
	b[0] = 'X'
	if s != "unknown-name" {
		t.Fatalf("intern aliased its input: %q", s)
	}
}

// TestStringBytes agrees with String on every input, and aliases raw only
// when there is no escape to decode.
func TestStringBytes(t *testing.T) {
	for _, raw := range []string{`""`, `"dpop+jwt"`, `"dpop\u002bjwt"`, `"a\"b\\c\/d"`, `"\ud83d\ude00"`, `"\u0000"`, `"é"`,
		`1`, `true`, `null`, `[]`, `{}`, `"`, ``} {
		want, wantOK := String([]byte(raw))
		got, ok := StringBytes([]byte(raw))
		if ok != wantOK || string(got) != want {
			t.Errorf("StringBytes(%s) = %q, %v; String gives %q, %v", raw, got, ok, want, wantOK)
		}
	}
	raw := []byte(`"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"`)
	if n := testing.AllocsPerRun(10, func() { _, _ = StringBytes(raw) }); n != 0 {
		t.Errorf("StringBytes of an unescaped string: %v allocations", n)
	}
}

// TestSHA256String equals sha256.Sum256 on every length around the chunk
// size, without allocating.
func TestSHA256String(t *testing.T) {
	for _, n := range []int{0, 1, 55, 56, 64, 511, 512, 513, 1023, 1024, 1025, 5000} {
		s := strings.Repeat("ab.cd", n/5+1)[:n]
		if got, want := SHA256String(s), sha256.Sum256([]byte(s)); got != want {
			t.Fatalf("length %d: %x, want %x", n, got, want)
		}
	}
	long := strings.Repeat("x", 4000)
	if n := testing.AllocsPerRun(10, func() { _ = SHA256String(long) }); n != 0 {
		t.Fatalf("SHA256String: %v allocations", n)
	}
}

// TestB64Equal accepts exactly base64url(SHA-256(s)) for the digest of s.
func TestB64Equal(t *testing.T) {
	tok := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig"
	sum := SHA256String(tok)
	good := HashB64(tok)
	if !B64Equal(&sum, []byte(good)) {
		t.Fatal("the hash of the token is refused")
	}
	for _, bad := range []string{"", good[:42], good + "A", good + "=", strings.ToUpper(good), HashB64(tok + "x")} {
		if B64Equal(&sum, []byte(bad)) {
			t.Errorf("%q accepted", bad)
		}
	}
	if n := testing.AllocsPerRun(10, func() { _ = B64Equal(&sum, []byte(good)) }); n != 0 {
		t.Errorf("B64Equal: %v allocations", n)
	}
}
