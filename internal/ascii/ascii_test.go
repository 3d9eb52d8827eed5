package ascii

import "testing"

func TestEqualFold(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"DPoP", "dpop", true}, {"BEARER", "bearer", true}, {"pop", "PoP", true},
		{"dpop", "dpo", false}, {"ſ", "s", false}, {"\u212a", "k", false}, {"", "", true},
		{"a[", "A{", false}, {"@", "`", false},
	} {
		if got := EqualFold(c.a, c.b); got != c.want {
			t.Errorf("EqualFold(%q, %q) = %v", c.a, c.b, got)
		}
	}
	if !HasPrefixFold("HTTPS://x", "https://") || HasPrefixFold("http", "https") {
		t.Error("HasPrefixFold")
	}
}

func TestLower(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "AbC-Ä": "abc-Ä", "X-Client-ID": "x-client-id"} {
		if got := Lower(in); got != want {
			t.Errorf("Lower(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Lower("already-lower") }); n != 0 {
		t.Errorf("Lower of a lower-case string allocates %v times", n)
	}
}

func TestIsHex(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
		if IsHex(byte(c)) != want {
			t.Errorf("IsHex(%q)", c)
		}
	}
}

// TestSet: a set holds exactly the bytes it was made of, and Span stops at
// the first byte outside it, for every byte value.
func TestSet(t *testing.T) {
	s := NewSet(true, "-_.")
	for c := 0; c < 256; c++ {
		b := byte(c)
		want := '0' <= b && b <= '9' || 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || b == '-' || b == '_' || b == '.'
		if s[b] != want {
			t.Errorf("byte %#x: in set %v, want %v", b, s[b], want)
		}
		str := "ab-_." + string([]byte{b}) + "z"
		wantSpan := 5
		if want {
			wantSpan = len(str)
		}
		if got := s.Span(str); got != wantSpan {
			t.Errorf("Span(%q) = %d, want %d", str, got, wantSpan)
		}
	}
	if NewSet(false, "ab")['c'] || !NewSet(false, "ab")['b'] || NewSet(false, "")['a'] {
		t.Error("a set without alnum holds other bytes")
	}
	if s.Span("") != 0 {
		t.Error("Span of the empty string")
	}
}
