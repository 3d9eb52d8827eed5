package uri

import (
	"errors"
	"strings"
	"testing"
)

// authorityAccept are authorities ParseAuthority accepts, with the parts it
// returns. The first ones are what real clients send in Host (Go's net/http
// server accepts them all).
var authorityAccept = []struct {
	in   string
	want Authority
}{
	{"api.example.com", Authority{Host: "api.example.com", Lower: true}},
	{"api.example.com:8443", Authority{Host: "api.example.com", Port: "8443", HasPort: true, Lower: true}},
	{"[::1]:8080", Authority{Host: "[::1]", Port: "8080", HasPort: true, Lower: true}},
	{"127.0.0.1", Authority{Host: "127.0.0.1", Lower: true}},
	{"127.0.0.1:8080", Authority{Host: "127.0.0.1", Port: "8080", HasPort: true, Lower: true}},
	{"localhost", Authority{Host: "localhost", Lower: true}},
	{"localhost:3000", Authority{Host: "localhost", Port: "3000", HasPort: true, Lower: true}},
	{"my-svc.default.svc.cluster.local:80", Authority{Host: "my-svc.default.svc.cluster.local", Port: "80", HasPort: true, Lower: true}},
	{"API.Example.COM:443", Authority{Host: "API.Example.COM", Port: "443", HasPort: true}},
	{"[2001:DB8::1]", Authority{Host: "[2001:DB8::1]"}},
	{"[::ffff:192.0.2.1]:443", Authority{Host: "[::ffff:192.0.2.1]", Port: "443", HasPort: true, Lower: true}},
	{"a.example:", Authority{Host: "a.example", HasPort: true, Lower: true}},
	{"[::1]:", Authority{Host: "[::1]", HasPort: true, Lower: true}},
	{"a.example:1", Authority{Host: "a.example", Port: "1", HasPort: true, Lower: true}},
	{"a.example:65535", Authority{Host: "a.example", Port: "65535", HasPort: true, Lower: true}},
	{"0.0.0.0", Authority{Host: "0.0.0.0", Lower: true}},
	{"255.255.255.255", Authority{Host: "255.255.255.255", Lower: true}},
	{"123.example", Authority{Host: "123.example", Lower: true}},
	{"example.123a", Authority{Host: "example.123a", Lower: true}},
	{"a", Authority{Host: "a", Lower: true}},
	{"-a-.b", Authority{Host: "-a-.b", Lower: true}},
	{strings.Repeat("a", 63) + ".example", Authority{Host: strings.Repeat("a", 63) + ".example", Lower: true}},
	{strings.Repeat("a.", 126) + "a", Authority{Host: strings.Repeat("a.", 126) + "a", Lower: true}},
}

// authorityReject are authorities ParseAuthority refuses, with the reason.
// The comments name the copies of the rule that accepted them before
// internal/uri held the one copy: "middleware" (validHost: Host, forwarded
// hosts, WithPublicHosts, WithPublicURL) and "shrwire" (the request host of
// an SHR).
var authorityReject = []struct {
	in   string
	want error
}{
	{"", errEmptyHost},
	{":443", errEmptyHost},
	{"[]", errEmptyHost},
	{"[]:443", errEmptyHost},
	{"[::1", errUnterminatedIPv6},
	{"[::1]x", errAfterIPv6},
	{"[::1]]", errAfterIPv6},
	{"[::1]:80:90", errPort},
	{"a.example.", errTrailingDot},                     // middleware, shrwire
	{"a.example.:8443", errTrailingDot},                // middleware, shrwire
	{".", errEmptyLabel},                               // middleware, shrwire
	{".a.example", errEmptyLabel},                      // middleware, shrwire
	{"a..example", errEmptyLabel},                      // middleware, shrwire
	{strings.Repeat("a", 64) + ".x", errLabelTooLong},  // middleware, shrwire
	{"x." + strings.Repeat("a", 64), errLabelTooLong},  // middleware, shrwire
	{strings.Repeat("a.", 127) + "ab", errHostTooLong}, // shrwire
	{"127.1", errIPv4},                                 // middleware, shrwire
	{"010.0.0.1", errIPv4},                             // middleware, shrwire
	{"1.2.3.256", errIPv4},                             // middleware, shrwire
	{"1.2.3.4.5", errIPv4},                             // middleware, shrwire
	{"1", errIPv4},                                     // middleware, shrwire
	{"example.123", errIPv4},                           // middleware, shrwire
	{"0x7f.0.0.1", errIPv4},
	{"api_test.example", errHostByte}, // shrwire
	{"a!b", errHostByte},              // shrwire
	{"a$b", errHostByte},              // shrwire
	{"a~b", errHostByte},              // shrwire
	{"a.example/x?", errHostByte},
	{"evil@a.example", errHostByte},
	{"a.example\\evil", errHostByte},
	{"a example", errHostByte},
	{"a.example#", errHostByte},
	{"a%2Eexample", errHostPercent}, // shrwire
	{"résumé.example", errHostNonASCII},
	{"[fe80::1%25eth0]", errIPv6Byte},  // middleware (a zone)
	{"[fe80::1%eth0]:80", errIPv6Byte}, // middleware (a zone)
	{"[v1.x]", errIPv6Byte},            // shrwire
	{"[evil]", errIPv6Byte},            // shrwire
	{"[127.0.0.1]", errIPv6},           // middleware (netip read it as IPv4), shrwire
	{"[1:2:3]", errIPv6},               // shrwire
	{"[:::1]", errIPv6},                // shrwire
	{"[" + strings.Repeat("0:", 126) + ":1]", errHostTooLong},
	{"::1", errEmptyHost},
	{"a.example:0", errPortRange},     // middleware
	{"a.example:99999", errPortRange}, // middleware
	{"a.example:65536", errPortRange}, // middleware
	{"a.example:123456", errPortRange},
	{"a.example:0443", errPortLeadingZero}, // middleware
	{"a.example:00", errPortLeadingZero},   // middleware
	{"a.example:+443", errPort},
	{"a.example:-1", errPort},
	{"a.example:44 3", errPort},
	{"a.example:https", errPort},
	{"a.example:443:443", errPort},
	{"[::1]:0443", errPortLeadingZero}, // middleware
}

func TestParseAuthority(t *testing.T) {
	for _, tc := range authorityAccept {
		got, err := ParseAuthority(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseAuthority(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range authorityReject {
		got, err := ParseAuthority(tc.in)
		if !errors.Is(err, tc.want) || got != (Authority{}) {
			t.Errorf("ParseAuthority(%q) = %+v, %v; want error %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckHost(t *testing.T) {
	for _, tc := range []struct {
		in    string
		lower bool
		err   error
	}{
		{"a.example", true, nil},
		{"A.example", false, nil},
		{"[::1]", true, nil},
		{"[::A]", false, nil},
		{"[::1]:80", false, errAfterIPv6},
		{"[::1", false, errUnterminatedIPv6},
		{"a.example:80", false, errHostByte},
		{"", false, errEmptyHost},
	} {
		lower, err := CheckHost(tc.in)
		if lower != tc.lower || !errors.Is(err, tc.err) {
			t.Errorf("CheckHost(%q) = %v, %v; want %v, %v", tc.in, lower, err, tc.lower, tc.err)
		}
	}
}

func TestCheckPort(t *testing.T) {
	for _, p := range []string{"1", "80", "443", "8080", "65535"} {
		if err := CheckPort(p); err != nil {
			t.Errorf("CheckPort(%q) = %v", p, err)
		}
	}
	for p, want := range map[string]error{"": errPort, "0": errPortRange, "65536": errPortRange, "100000": errPortRange,
		"08080": errPortLeadingZero, "0443": errPortLeadingZero, "1a": errPort, " 1": errPort, "1_0": errPort} {
		if err := CheckPort(p); !errors.Is(err, want) {
			t.Errorf("CheckPort(%q) = %v, want %v", p, err, want)
		}
	}
}

func TestDefaultPort(t *testing.T) {
	for scheme, want := range map[string]string{"https": "443", "HTTPS": "443", "http": "80", "Http": "80",
		"ftp": "", "": "", "wss": "", "httpſ": ""} {
		if got := DefaultPort(scheme); got != want {
			t.Errorf("DefaultPort(%q) = %q, want %q", scheme, got, want)
		}
	}
}

func TestWithoutDefaultPort(t *testing.T) {
	for _, tc := range []struct{ scheme, in, want string }{
		{"https", "a.example", "a.example"},
		{"https", "a.example:443", "a.example"},
		{"https", "a.example:", "a.example"},
		{"https", "a.example:80", "a.example:80"},
		{"https", "a.example:8443", "a.example:8443"},
		{"http", "a.example:80", "a.example"},
		{"http", "a.example:443", "a.example:443"},
		{"https", "[::1]:443", "[::1]"},
		{"https", "[::443]", "[::443]"},
		{"https", "[::1]:", "[::1]"},
		{"https", "[::1]", "[::1]"},
		{"HTTPS", "a.example:443", "a.example"},
	} {
		if got := WithoutDefaultPort(tc.scheme, tc.in); got != tc.want {
			t.Errorf("WithoutDefaultPort(%q, %q) = %q, want %q", tc.scheme, tc.in, got, tc.want)
		}
	}
}

func TestParseAuthorityAllocs(t *testing.T) {
	for _, in := range []string{"api.example.com:8443", "[::1]:8080", "a.example.", "a.example:0443"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = ParseAuthority(in) }); n != 0 {
			t.Errorf("ParseAuthority(%q): %v allocs, want 0", in, n)
		}
	}
}
