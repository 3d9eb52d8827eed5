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
