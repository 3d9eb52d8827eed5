package validate

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/popguard/popguard/internal/uri"
)

const (
	htuTestTarget    = "https://resource.example.org/protectedresource?foo=bar"
	htuTestCanonical = "https://resource.example.org/protectedresource"
)

// htu values that match htuTestTarget.
var htuAccept = []string{
	"https://resource.example.org/protectedresource",
	"HTTPS://Resource.Example.ORG/protectedresource",
	"https://resource.example.org:443/protectedresource",
	"https://resource.example.org:/protectedresource",
	"hTTpS://RESOURCE.example.org:443/protectedresource",
}

// Valid htu values that do not match htuTestTarget.
var htuNotEqual = []string{
	"https://resource.example.org/ProtectedResource",
	"https://resource.example.org/protectedresource/",
	"https://resource.example.org/protectedresource%2F",
	"http://resource.example.org/protectedresource",
	"https://resource.example.org:8443/protectedresource",
	// Percent-encoded unreserved characters are not decoded: routers that
	// route on the raw path (chi, echo) tell them apart.
	"https://resource.example.org/%70rotected%72esource",
	"https://resource.example.org/protected%72esource",
	"https://resource.example.org//protectedresource",
	"https://resource.example.org/protected%72esource%20",
	"https://resource.example.com/protectedresource",
}

// htu values CanonicalHTU must refuse, with a word of the expected reason.
var htuReject = []struct{ in, reason string }{
	{"https://resource.example.org:0443/protectedresource", "leading zero"},
	{"https://resource.example.org./protectedresource", "trailing dot"},
	{"https://user@resource.example.org/protectedresource", "userinfo"},
	{"https://user:pw@resource.example.org/protectedresource", "userinfo"},
	{"https://resource.example.org/protectedresource?foo=bar", "has a query"},
	{"https://resource.example.org/protectedresource?", "has a query"},
	{"https://resource.example.org/protectedresource#x", "has a fragment"},
	{"https://resource.example.org/protectedresource#", "has a fragment"},
	{"https://resource.example.org/p#x?y", "has a fragment"},
	{"https://resource.example.org\\protectedresource", "invalid byte"},
	{"https://resource.example.org/\\protectedresource", "invalid byte"},
	{"https://resource.example.org/protected\tresource", "invalid byte"},
	{"https://resource.example.org/protected resource", "invalid byte"},
	{"https://resource.example.org/protected\r\nresource", "invalid byte"},
	{"https://resource.example.org/protected\x00resource", "invalid byte"},
	{"https://resource.example.org/protected\x7fresource", "invalid byte"},
	{"https://resource.example.org/protectedrésource", "non-ASCII"},
	{"https://resource.example.org/a\"b", "invalid byte"},
	{"https://resource.example.org/a<b>", "invalid byte"},
	{"https://resource.example.org/a^b", "invalid byte"},
	{"https://resource.example.org/a`b", "invalid byte"},
	{"https://resource.example.org/a{b}", "invalid byte"},
	{"https://resource.example.org/a|b", "invalid byte"},
	{"https://resource.example.org/a[b]", "invalid byte"},
	{"/protectedresource", "not an absolute URI"},
	{"//resource.example.org/protectedresource", "not an absolute URI"},
	{"resource.example.org/protectedresource", "not an absolute URI"},
	{"https://résource.example.org/x", "non-ASCII"},
	{"https://r%C3%A9source.example.org/x", "percent-encoded"},
	{"https://resource_server.example.org/x", "invalid byte"},
	{"https://resource example.org/x", "invalid byte"},
	{"https://resource.example.org\x00/x", "invalid byte"},
	{"https://.example.org/x", "empty label"},
	{"https://a..example.org/x", "empty label"},
	{"https://" + strings.Repeat("a", 64) + ".example/x", "label is too long"},
	{"https://" + strings.Repeat("a.", 127) + "ab/x", "host is too long"},
	{"https://[::1/x", "unterminated IPv6"},
	{"https://[::1]x/", "after the IPv6"},
	{"https://[::1]]/", "after the IPv6"},
	{"https://[]/", "empty host"},
	{"https://[::g]/", "invalid byte"},
	{"https://[fe80::1%25eth0]/", "invalid byte"},
	{"https://[v1.x]/", "invalid byte"},
	{"https://[1:2:3]/", "not a valid IPv6"},
	{"https://[1.2.3.4]/", "not a valid IPv6"},
	{"https://[:::1]/", "not a valid IPv6"},
	{"https://1.2.3.256/x", "not a valid IPv4"},
	{"https://127.1/x", "not a valid IPv4"},
	{"https://010.0.0.1/x", "not a valid IPv4"},
	{"https://1.2.3.4.5/x", "not a valid IPv4"},
	{"https://example.123/x", "not a valid IPv4"},
	{"https://a.example:99999/", "out of range"},
	{"https://a.example:65536/", "out of range"},
	{"https://a.example:0/", "out of range"},
	{"https://a.example:00/", "leading zero"},
	{"https://a.example:123456/", "out of range"},
	{"https://a.example:+443/", "not a valid port"},
	{"https://a.example:-1/", "not a valid port"},
	{"https://a.example:44 3/", "not a valid port"},
	{"https://a.example:443:443/", "not a valid port"},
	{"https://a.example:https/", "not a valid port"},
	{"https://a.example/%zz", "percent-encoding"},
	{"https://a.example/%2", "percent-encoding"},
	{"https://a.example/%", "percent-encoding"},
	{"https://a.example/%%41", "percent-encoding"},
	{"https://a.example/%2g/", "percent-encoding"},
	// Dot-segments in any spelling: refused, never resolved (routers
	// disagree on them).
	{"https://resource.example.org/./protectedresource", "dot-segment"},
	{"https://resource.example.org/x/../protectedresource", "dot-segment"},
	{"hTTpS://RESOURCE.example.org:443/a/b/../.././protectedresource", "dot-segment"},
	{"https://resource.example.org/%2e%2E/protectedresource", "dot-segment"},
	{"https://resource.example.org/%2E/protectedresource", "dot-segment"},
	{"https://resource.example.org/protectedresource/.", "dot-segment"},
	{"https://resource.example.org/protectedresource/x/..", "dot-segment"},
	{"https://a.example/%2e%2E/", "dot-segment"},
	{"https://a.example/x/%2e%2E/y", "dot-segment"},
	{"https://a.example/x/%2e%2E", "dot-segment"},
	{"https://a.example/x/y/%2E", "dot-segment"},
	{"https://a.example/.%2e", "dot-segment"},
	{"https://a.example/%2e.", "dot-segment"},
	{"https://a.example/..%2F", "dot-segment"},
	{"https://a.example/a%2f..%2Fb", "dot-segment"},
	{"https://a.example/..", "dot-segment"},
	{"https://a.example/../../..", "dot-segment"},
	{"https://a.example/../a", "dot-segment"},
	{"https://a.example/.", "dot-segment"},
	{"https://a.example/a/b/c/./../../g", "dot-segment"},
	{"https://a.example/mid/content=5/../6", "dot-segment"},
	{"https://a.example/a//../b", "dot-segment"},
	{"https://a.example/dpop/%2E%2E/mixed/profile", "dot-segment"},
	{"", "is empty"},
	{"https://", "empty host"},
	{"https:///x", "empty host"},
	{"https://:443/x", "empty host"},
	{"HTTPS:/a.example/", "no authority"},
	{"https:a.example/", "no authority"},
	{"https:", "no authority"},
	{"ftp://a.example/", "scheme is not http or https"},
	{"wss://a.example/", "scheme is not http or https"},
	{"httpſ://a.example/", "not an absolute URI"}, // U+017F folds to 's' in Unicode
	{"https\\://a.example/", "not an absolute URI"},
	{" https://a.example/", "not an absolute URI"},
	{"https://a.example/" + strings.Repeat("a", 9000-len("https://a.example/")), "too long"},
}

// Input and normal form, for both functions.
var htuForms = []struct{ in, want string }{
	{"https://resource.example.org/protectedresource", "https://resource.example.org/protectedresource"},
	{"http://a.example:80", "http://a.example/"},
	{"http://a.example:", "http://a.example/"},
	{"http://a.example", "http://a.example/"},
	{"http://a.example:443/", "http://a.example:443/"},
	{"https://a.example:80/", "https://a.example:80/"},
	{"HTTP://A.EXAMPLE:8080/A/B", "http://a.example:8080/A/B"},
	{"https://a.example:65535/", "https://a.example:65535/"},
	{"https://a.example:1/", "https://a.example:1/"},
	{"https://[::1]:8443/x", "https://[::1]:8443/x"},
	{"https://[::1]:443/x", "https://[::1]/x"},
	{"https://[::1]:/x", "https://[::1]/x"},
	{"https://[::1]", "https://[::1]/"},
	{"https://[FE80::AB:1]/x", "https://[fe80::ab:1]/x"},
	{"https://[::ffff:192.0.2.1]/x", "https://[::ffff:192.0.2.1]/x"},
	{"https://192.0.2.1:8443/x", "https://192.0.2.1:8443/x"},
	{"https://0.0.0.0/", "https://0.0.0.0/"},
	{"https://123.example/", "https://123.example/"},
	{"https://a-b.example/", "https://a-b.example/"},
	{"https://a.example/%7e", "https://a.example/%7E"},
	{"https://a.example/%7E%41%5a%30%2d%2E%5F", "https://a.example/%7E%41%5A%30%2D%2E%5F"},
	{"https://a.example/%2e%2e%2e", "https://a.example/%2E%2E%2E"},
	{"https://a.example/a%2Eb", "https://a.example/a%2Eb"},
	{"https://a.example/%3a", "https://a.example/%3A"},
	{"https://a.example/%2f%2F", "https://a.example/%2F%2F"},
	{"https://a.example/%c3%a9", "https://a.example/%C3%A9"},
	{"https://a.example/%25", "https://a.example/%25"},
	{"https://a.example/%2541", "https://a.example/%2541"},
	{"https://a.example/...", "https://a.example/..."},
	{"https://a.example/.a/..b/", "https://a.example/.a/..b/"},
	{"https://a.example//", "https://a.example//"},
	{"https://a.example/a/", "https://a.example/a/"},
	{"https://a.example/@me:x;y=z", "https://a.example/@me:x;y=z"},
	{"https://a.example/!$&'()*+,;=:@-._~", "https://a.example/!$&'()*+,;=:@-._~"},
}

func TestHTUMatchesTarget(t *testing.T) {
	want, err := CanonicalTarget(htuTestTarget)
	if err != nil || want != htuTestCanonical {
		t.Fatalf("CanonicalTarget(%q) = %q, %v; want %q", htuTestTarget, want, err, htuTestCanonical)
	}
	for _, in := range htuAccept {
		got, err := CanonicalHTU(in)
		if err != nil || got != want {
			t.Errorf("CanonicalHTU(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestHTUDiffersFromTarget(t *testing.T) {
	want, err := CanonicalTarget(htuTestTarget)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range htuNotEqual {
		got, err := CanonicalHTU(in)
		if err != nil {
			t.Errorf("CanonicalHTU(%q): unexpected error %v", in, err)
			continue
		}
		if got == want {
			t.Errorf("CanonicalHTU(%q) = %q, must differ from the target", in, got)
		}
	}
}

func TestCanonicalHTURejects(t *testing.T) {
	for _, tc := range htuReject {
		got, err := CanonicalHTU(tc.in)
		if err == nil {
			t.Errorf("CanonicalHTU(%q) = %q, want error %q", tc.in, got, tc.reason)
			continue
		}
		if got != "" {
			t.Errorf("CanonicalHTU(%q) returned %q with an error", tc.in, got)
		}
		checkHTUError(t, tc.in, err)
		if !strings.Contains(err.Error(), tc.reason) || !strings.HasPrefix(err.Error(), "htu: invalid URI: htu ") {
			t.Errorf("CanonicalHTU(%q) error %q, want reason %q", tc.in, err, tc.reason)
		}
	}
}

func TestCanonicalTargetRejects(t *testing.T) {
	for _, tc := range htuReject {
		if tc.reason == "has a query" || tc.reason == "has a fragment" {
			continue
		}
		got, err := CanonicalTarget(tc.in)
		if err == nil {
			t.Errorf("CanonicalTarget(%q) = %q, want error %q", tc.in, got, tc.reason)
			continue
		}
		checkHTUError(t, tc.in, err)
		if !strings.Contains(err.Error(), tc.reason) || !strings.HasPrefix(err.Error(), "htu: invalid URI: request target ") {
			t.Errorf("CanonicalTarget(%q) error %q, want reason %q", tc.in, err, tc.reason)
		}
	}
}

func TestCanonicalForms(t *testing.T) {
	for _, tc := range htuForms {
		got, err := CanonicalHTU(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalHTU(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		for _, suffix := range []string{"", "?", "?a=b", "#", "#f", "?a#f", "?a=\\ \x00é#%zz"} {
			got, err := CanonicalTarget(tc.in + suffix)
			if err != nil || got != tc.want {
				t.Errorf("CanonicalTarget(%q) = %q, %v; want %q", tc.in+suffix, got, err, tc.want)
			}
		}
		checkHTUInvariants(t, tc.in, tc.want)
	}
}

func TestCanonicalTargetQueryFragment(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://a.example/x?y", "https://a.example/x"},
		{"https://a.example?y", "https://a.example/"},
		{"https://a.example#y", "https://a.example/"},
		{"https://a.example/x#y?z", "https://a.example/x"},
		{"https://a.example/x?" + strings.Repeat("q", 20000), "https://a.example/x"},
	} {
		got, err := CanonicalTarget(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalTarget(%.40q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// The userinfo check is not fooled by an '@' after the query starts.
	if got, err := CanonicalTarget("https://a.example?@evil.example/"); err != nil || got != "https://a.example/" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestCanonicalLengthLimit(t *testing.T) {
	prefix := "https://a.example/"
	exact := prefix + strings.Repeat("a", maxURILen-len(prefix))
	if got, err := CanonicalHTU(exact); err != nil || got != exact {
		t.Errorf("CanonicalHTU of %d bytes: %v", len(exact), err)
	}
	if _, err := CanonicalHTU(exact + "a"); err == nil {
		t.Errorf("CanonicalHTU of %d bytes: no error", len(exact)+1)
	}
	// A long input that needs rewriting (beyond the stack scratch buffer).
	long := "HTTPS://A.EXAMPLE/" + strings.Repeat("%3a/", (maxURILen-20)/4)
	want := prefix + strings.Repeat("%3A/", (maxURILen-20)/4)
	if got, err := CanonicalHTU(long); err != nil || got != want {
		t.Errorf("CanonicalHTU(long) = %.60q, %v", got, err)
	}
}

func TestCanonicalFastPath(t *testing.T) {
	for _, in := range []string{
		"https://resource.example.org/protectedresource",
		"http://a.example:8080/A/b/",
		"https://[::1]:8443/x",
		"https://192.0.2.1/x;y=z",
	} {
		if got, err := CanonicalHTU(in); err != nil || got != in {
			t.Fatalf("CanonicalHTU(%q) = %q, %v", in, got, err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = CanonicalHTU(in) }); n != 0 {
			t.Errorf("CanonicalHTU(%q): %v allocs, want 0", in, n)
		}
		target := in + "?a=b#c"
		if n := testing.AllocsPerRun(100, func() { _, _ = CanonicalTarget(target) }); n != 0 {
			t.Errorf("CanonicalTarget(%q): %v allocs, want 0", target, n)
		}
	}
	messy := "HTTPS://Resource.Example.ORG:443/%7eprotectedresource"
	if n := testing.AllocsPerRun(100, func() { _, _ = CanonicalHTU(messy) }); n > 1 {
		t.Errorf("CanonicalHTU(%q): %v allocs, want 1", messy, n)
	}
}

func TestHTUErrorMessages(t *testing.T) {
	for _, tc := range htuReject {
		_, err := CanonicalHTU(tc.in)
		var he *htuError
		if !errors.As(err, &he) {
			t.Fatalf("CanonicalHTU(%q): error %T", tc.in, err)
		}
		if strings.ContainsAny(err.Error(), "\\\"%?#@\x00\t\r\n") {
			t.Errorf("error message %q has unexpected bytes", err)
		}
	}
}

// htuReasons is every reason an htu error may give. Messages are built from
// these constants only, so they cannot echo the input.
var htuReasons = map[string]bool{
	"is too long":                                  true,
	"is empty":                                     true,
	"has a query":                                  true,
	"has a fragment":                               true,
	"is not an absolute URI":                       true,
	"has no authority":                             true,
	"scheme is not http or https":                  true,
	"has userinfo":                                 true,
	"has an empty host":                            true,
	"has an unterminated IPv6 literal":             true,
	"has bytes after the IPv6 literal":             true,
	"host is too long":                             true,
	"host has an empty label":                      true,
	"host label is too long":                       true,
	"host is percent-encoded":                      true,
	"host has a non-ASCII byte":                    true,
	"host has an invalid byte":                     true,
	"host has a trailing dot":                      true,
	"host is not a valid IPv4 address":             true,
	"host has an invalid byte in the IPv6 literal": true,
	"host is not a valid IPv6 address":             true,
	"port is not a valid port":                     true,
	"port has a leading zero":                      true,
	"port is out of range":                         true,
	"path has an invalid percent-encoding":         true,
	"path has a non-ASCII byte":                    true,
	"path has an invalid byte":                     true,
	"path has a dot-segment":                       true,
}

// checkHTUError checks that err matches ErrHTU and that its message is made
// of constant text only (so it does not echo the input).
func checkHTUError(t *testing.T, in string, err error) {
	t.Helper()
	if !errors.Is(err, ErrHTU) {
		t.Errorf("error %v for %q does not match ErrHTU", err, in)
	}
	var he *htuError
	if !errors.As(err, &he) {
		t.Fatalf("error %v for %q is a %T", err, in, err)
	}
	if (he.subject != subjectHTU && he.subject != subjectTarget) || !htuReasons[he.reason] ||
		err.Error() != "htu: invalid URI: "+he.subject+" "+he.reason {
		t.Errorf("error %q for %q is not made of constant text", err, in)
	}
	if len(in) > 40 && strings.Contains(err.Error(), in) {
		t.Errorf("error %q echoes the input", err)
	}
}

// checkHTUInvariants checks an accepted input and its normal form out:
// idempotence, allowed bytes, agreement of the two functions, agreement with
// a literal implementation of RFC 3986 §5.2.4 and with net/url.
func checkHTUInvariants(t *testing.T, in, out string) {
	t.Helper()
	for i := 0; i < len(out); i++ {
		if c := out[i]; c < 0x21 || c >= 0x7f || c == '?' || c == '#' || c == '\\' {
			t.Fatalf("normal form %q of %q has byte %#x", out, in, c)
		}
	}
	var scheme, rest string
	switch {
	case strings.HasPrefix(out, "https://"):
		scheme, rest = "https", out[len("https://"):]
	case strings.HasPrefix(out, "http://"):
		scheme, rest = "http", out[len("http://"):]
	default:
		t.Fatalf("normal form %q of %q: bad scheme", out, in)
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		t.Fatalf("normal form %q of %q has no path", out, in)
	}
	authority, path := rest[:slash], rest[slash:]
	if authority == "" || strings.ContainsAny(authority, "@%") || authority != strings.ToLower(authority) {
		t.Fatalf("normal form %q of %q: bad authority", out, in)
	}
	if strings.HasSuffix(authority, ":") || (scheme == "https" && strings.HasSuffix(authority, ":443")) ||
		(scheme == "http" && strings.HasSuffix(authority, ":80")) {
		t.Fatalf("normal form %q of %q keeps a default port", out, in)
	}

	// Idempotent, for both functions.
	if again, err := CanonicalHTU(out); err != nil || again != out {
		t.Fatalf("CanonicalHTU(%q) = %q, %v; not idempotent (input %q)", out, again, err, in)
	}
	if again, err := CanonicalTarget(out); err != nil || again != out {
		t.Fatalf("CanonicalTarget(%q) = %q, %v; not idempotent (input %q)", out, again, err, in)
	}

	// The path is the input's with only the hex digits upper-cased, and it
	// holds no dot-segment in any spelling.
	base := in
	if i := strings.IndexAny(base, "?#"); i >= 0 {
		base = base[:i]
	}
	base = base[strings.Index(base, "://")+3:]
	rawPath := ""
	if i := strings.IndexByte(base, '/'); i >= 0 {
		rawPath = base[i:]
	}
	wantPath := refUpperHex(rawPath)
	if wantPath == "" {
		wantPath = "/"
	}
	if path != wantPath {
		t.Fatalf("path of %q is %q, reference gives %q", in, path, wantPath)
	}
	if uri.HasDotSegment(path) {
		t.Fatalf("path of %q is %q: it has a dot-segment", in, path)
	}

	// net/url reads the normal form the same way.
	u, err := url.Parse(out)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", out, err)
	}
	if u.Scheme != scheme || u.Host != authority || u.User != nil || u.Opaque != "" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.EscapedPath() != path {
		t.Fatalf("url.Parse(%q) disagrees: %#v", out, u)
	}
}

// refUpperHex upper-cases the hex digits of percent-encoded triplets
// (RFC 3986 §6.2.2.1) and changes nothing else.
func refUpperHex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		b.WriteString(strings.ToUpper(s[i : i+3]))
		i += 2
	}
	return b.String()
}

func BenchmarkCanonicalHTU(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"canonical", "https://resource.example.org/protectedresource"},
		{"messy", "HTTPS://Resource.Example.ORG:443/%7eprotected%3aresource"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CanonicalHTU(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCanonicalTarget(b *testing.B) {
	in := "https://resource.example.org/protectedresource?foo=bar&baz=qux"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CanonicalTarget(in); err != nil {
			b.Fatal(err)
		}
	}
}
