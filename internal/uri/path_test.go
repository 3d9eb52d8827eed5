package uri

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	for _, tc := range []struct {
		in     string
		normal bool
	}{
		{"/", true},
		{"/a/b", true},
		{"//a//", true},
		{"/a/b/", true},
		{"/%7E%41", true},
		{"/%7e", false},
		{"/%C3%a9", false},
		{"/%2541", true},
		{"/...", true},
		{"/.a/..b/", true},
		{"/a%2Eb", true},
		{"/@me:x;y=z", true},
		{"/!$&'()*+,;=:@-._~", true},
		{"/%2e%2e%2e", false},
	} {
		normal, err := CheckPath(tc.in)
		if err != nil || normal != tc.normal {
			t.Errorf("CheckPath(%q) = %v, %v; want %v", tc.in, normal, err, tc.normal)
		}
	}
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", errPathNotAbsolute},
		{"a/b", errPathNotAbsolute},
		{"%2Fa", errPathNotAbsolute},
		{"/%zz", errPathPercent}, // middleware's X-Forwarded-Prefix accepted it
		{"/%2", errPathPercent},  // middleware
		{"/%", errPathPercent},   // middleware
		{"/%%41", errPathPercent},
		{"/%2g/", errPathPercent},
		{"/a b", errPathByte},
		{"/a\\b", errPathByte},
		{"/a?b", errPathByte},
		{"/a#b", errPathByte},
		{"/a[b]", errPathByte},
		{"/a\x00", errPathByte},
		{"/a\x7f", errPathByte},
		{"/é", errPathNonASCII},
		{"/a/../b", ErrDotSegment},
		{"/a/%2E%2e/b", ErrDotSegment},
		{"/.", ErrDotSegment},
		{"/a%2F..%2Fb", ErrDotSegment},
	} {
		normal, err := CheckPath(tc.in)
		if !errors.Is(err, tc.want) || normal {
			t.Errorf("CheckPath(%q) = %v, %v; want error %q", tc.in, normal, err, tc.want)
		}
	}
}

// dotSegmentYes and dotSegmentNo are paths with and without a dot-segment.
var (
	dotSegmentYes = []string{
		".", "..", "/.", "/..", "/./", "/../", "/a/.", "/a/..", "/a/./b", "/a/../b",
		"/%2e", "/%2E", "/%2e%2e", "/%2E%2E", "/.%2e", "/%2e.", "/.%2E/", "/a/%2E%2E/b",
		"/dpop/%2E%2E/mixed/profile", "/dpop/transfers/%2e%2e/%2e%2e/mixed/comments",
		"/a%2F..%2Fb", "/a%2f..", "/..%2Fb", "%2F.%2F", "/a/b/%2e%2E", "a/../b", "../a",
	}
	dotSegmentNo = []string{
		"", "/", "/a", "/a/b", "/a/b/", "//a", "/...", "/.a", "/a.", "/a..b", "/..a",
		"/%2e%2e%2e", "/%2ea", "/a%2E", "/%252E%252E", "/%2", "/%2E%2", "/.%2", "/%2Fa%2Fb",
		"/a/.well-known/x", "/v1.2/x", "/%2e%2e.", "/.%2e.",
	}
)

func TestHasDotSegment(t *testing.T) {
	for _, p := range dotSegmentYes {
		if !HasDotSegment(p) {
			t.Errorf("HasDotSegment(%q) = false, want true", p)
		}
	}
	for _, p := range dotSegmentNo {
		if HasDotSegment(p) {
			t.Errorf("HasDotSegment(%q) = true, want false", p)
		}
	}
}

func TestUpperPercentHex(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"/a/b", "/a/b"},
		{"/%7e", "/%7E"},
		{"/%7E%41%5a%30%2d%2E%5F", "/%7E%41%5A%30%2D%2E%5F"},
		{"/%c3%a9", "/%C3%A9"},
		{"/%2541", "/%2541"},
		{"/%%ab", "/%%AB"},
		{"/%a%ab", "/%a%AB"},
		{"/%zz%ab", "/%zz%AB"},
		{"/%a", "/%a"},
		{"%ab", "%AB"},
		{"/ab%", "/ab%"},
		{"/Ab/%2f/cd", "/Ab/%2F/cd"},
	} {
		if got := UpperPercentHex(tc.in); got != tc.want {
			t.Errorf("UpperPercentHex(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := string(AppendUpperPercentHex([]byte("x"), tc.in)); got != "x"+tc.want {
			t.Errorf("AppendUpperPercentHex(x, %q) = %q, want %q", tc.in, got, "x"+tc.want)
		}
	}
	in := "/already/%7E/normal"
	if n := testing.AllocsPerRun(100, func() { _ = UpperPercentHex(in) }); n != 0 {
		t.Errorf("UpperPercentHex of a normal string: %v allocs, want 0", n)
	}
	long := strings.Repeat("%7e", 100)
	if got := UpperPercentHex(long); got != strings.Repeat("%7E", 100) {
		t.Errorf("UpperPercentHex(long) = %q", got)
	}
}
