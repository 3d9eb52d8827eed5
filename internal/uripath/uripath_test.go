package uripath

import "testing"

func TestHasDotSegment(t *testing.T) {
	yes := []string{
		".", "..", "/.", "/..", "/./", "/../", "/a/.", "/a/..", "/a/./b", "/a/../b",
		"/%2e", "/%2E", "/%2e%2e", "/%2E%2E", "/.%2e", "/%2e.", "/.%2E/", "/a/%2E%2E/b",
		"/dpop/%2E%2E/mixed/profile", "/dpop/transfers/%2e%2e/%2e%2e/mixed/comments",
		"/a%2F..%2Fb", "/a%2f..", "/..%2Fb", "%2F.%2F", "/a/b/%2e%2E", "a/../b", "../a",
	}
	no := []string{
		"", "/", "/a", "/a/b", "/a/b/", "//a", "/...", "/.a", "/a.", "/a..b", "/..a",
		"/%2e%2e%2e", "/%2ea", "/a%2E", "/%252E%252E", "/%2", "/%2E%2", "/.%2", "/%2Fa%2Fb",
		"/a/.well-known/x", "/v1.2/x", "/%2e%2e.", "/.%2e.",
	}
	for _, p := range yes {
		if !HasDotSegment(p) {
			t.Errorf("HasDotSegment(%q) = false, want true", p)
		}
	}
	for _, p := range no {
		if HasDotSegment(p) {
			t.Errorf("HasDotSegment(%q) = true, want false", p)
		}
	}
}

func FuzzHasDotSegment(f *testing.F) {
	for _, s := range []string{"/a/../b", "/%2E%2e/x", "/a%2F.%2Fb", "/..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		// A second, obvious implementation: decode %2E and %2F (either case),
		// split on '/', look for "." or "..".
		dec := make([]byte, 0, len(p))
		for i := 0; i < len(p); i++ {
			if p[i] == '%' && i+2 < len(p) && p[i+1] == '2' {
				switch p[i+2] {
				case 'e', 'E':
					dec = append(dec, '.')
					i += 2
					continue
				case 'f', 'F':
					dec = append(dec, '/')
					i += 2
					continue
				}
			}
			dec = append(dec, p[i])
		}
		want := false
		start := 0
		for i := 0; i <= len(dec); i++ {
			if i == len(dec) || dec[i] == '/' {
				if s := string(dec[start:i]); s == "." || s == ".." {
					want = true
				}
				start = i + 1
			}
		}
		if got := HasDotSegment(p); got != want {
			t.Fatalf("HasDotSegment(%q) = %v, want %v", p, got, want)
		}
	})
}
