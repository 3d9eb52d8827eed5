package uri

import (
	"errors"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseAuthority compares ParseAuthority with a second, plain
// implementation of the grammar built on strings, strconv and net/netip, and
// checks what callers rely on: the parts rebuild the input, net/url reads an
// accepted authority the same way, and WithoutDefaultPort drops exactly an
// empty or default port.
func FuzzParseAuthority(f *testing.F) {
	for _, tc := range authorityAccept {
		f.Add(tc.in)
	}
	for _, tc := range authorityReject {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAuthority(s)
		if want := refAuthority(s); (err == nil) != want {
			t.Fatalf("ParseAuthority(%q) error %v, reference says valid=%v", s, err, want)
		}
		if err != nil {
			var e Error
			if !errors.As(err, &e) || a != (Authority{}) {
				t.Fatalf("ParseAuthority(%q) = %+v, %T %v", s, a, err, err)
			}
			return
		}
		rebuilt := a.Host
		if a.HasPort {
			rebuilt += ":" + a.Port
		}
		if rebuilt != s || a.Lower != (a.Host == strings.ToLower(a.Host)) {
			t.Fatalf("ParseAuthority(%q) = %+v", s, a)
		}
		u, uerr := url.Parse("http://" + s + "/")
		if uerr != nil || u.Host != s || u.Hostname() != strings.Trim(a.Host, "[]") || u.Port() != a.Port {
			t.Fatalf("url.Parse disagrees on %q: %v %#v", s, uerr, u)
		}
		if l, err := ParseAuthority(strings.ToLower(s)); err != nil || !l.Lower {
			t.Fatalf("ParseAuthority(%q) = %+v, %v: lower case not accepted", strings.ToLower(s), l, err)
		}
		want := s
		if a.HasPort && (a.Port == "" || a.Port == "443") {
			want = a.Host
		}
		if got := WithoutDefaultPort("https", s); got != want {
			t.Fatalf("WithoutDefaultPort(https, %q) = %q, want %q", s, got, want)
		}
	})
}

// refAuthority is the grammar of the package comment, written again.
func refAuthority(s string) bool {
	host, port, hasPort := s, "", false
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return false
		}
		host, port = s[:end+1], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port, hasPort = port[1:], true
		}
	} else if h, p, ok := strings.Cut(s, ":"); ok {
		host, port, hasPort = h, p, true
	}
	if hasPort && port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return false
		}
	}
	if strings.HasPrefix(host, "[") {
		lit := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		addr, err := netip.ParseAddr(lit)
		return len(host) <= 253 && err == nil && addr.Is6() && addr.Zone() == "" &&
			strings.Trim(lit, "0123456789abcdefABCDEF:.") == ""
	}
	if host == "" || len(host) > 253 || strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != "" {
		return false
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		addr, err := netip.ParseAddr(host) // refuses leading zeros and short forms
		return err == nil && addr.Is4()
	}
	return true
}

// pathRef is the path grammar: pchars and '/', or percent-encoded triplets.
var pathRef = regexp.MustCompile(`^/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$`)

var percentRef = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

// FuzzPath compares CheckPath, HasDotSegment and UpperPercentHex with
// second, obvious implementations (a regular expression; decoding %2E and
// %2F and splitting on '/'; upper-casing every triplet).
func FuzzPath(f *testing.F) {
	for _, s := range append(append([]string{"/a/../b", "/%2E%2e/x", "/a%2F.%2Fb", "/...", "/%7e%zz"},
		dotSegmentYes...), dotSegmentNo...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		dot := refDotSegment(p)
		if got := HasDotSegment(p); got != dot {
			t.Fatalf("HasDotSegment(%q) = %v, want %v", p, got, dot)
		}
		upper := percentRef.ReplaceAllStringFunc(p, strings.ToUpper)
		if got := UpperPercentHex(p); got != upper {
			t.Fatalf("UpperPercentHex(%q) = %q, want %q", p, got, upper)
		}
		if got := string(AppendUpperPercentHex(nil, p)); got != upper {
			t.Fatalf("AppendUpperPercentHex(%q) = %q, want %q", p, got, upper)
		}
		normal, err := CheckPath(p)
		if want := pathRef.MatchString(p) && !dot; (err == nil) != want {
			t.Fatalf("CheckPath(%q) error %v, reference says valid=%v", p, err, want)
		}
		if err == nil && normal != (upper == p) {
			t.Fatalf("CheckPath(%q) normal = %v, but UpperPercentHex gives %q", p, normal, upper)
		}
		if errors.Is(err, ErrDotSegment) != (dot && pathRef.MatchString(p)) {
			t.Fatalf("CheckPath(%q) error %v, dot-segment %v", p, err, dot)
		}
	})
}

// refDotSegment decodes %2E and %2F (either case), splits on '/' and looks
// for "." or "..".
func refDotSegment(p string) bool {
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
	for _, seg := range strings.Split(string(dec), "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
