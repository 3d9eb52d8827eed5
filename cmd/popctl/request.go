package main

// request: the DPoP client from the command line, built on package
// dpopclient.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/popguard/popguard/dpopclient"
)

const requestHelp = `
Usage: popctl request -issuer ISS -client-id ID -client-secret SECRET [-key FILE] [-X METHOD] [-d BODY] [-v] URL

Calls URL as a DPoP client: discovers the token endpoint of -issuer (OpenID
Connect discovery, then RFC 8414), gets a DPoP-bound access token with the
client credentials grant (client_secret_basic), then sends the request with
Authorization: DPoP and a fresh proof. A server nonce asked for with
use_dpop_nonce, by the token endpoint or by URL, is used in one retry.

Prints the response status line, then the body. Exit status 0 on a 2xx
response, 1 on any other response or a failed token request, 2 on usage
errors. http is allowed for loopback addresses (127.0.0.1, ::1, localhost)
only, for -issuer and for URL.

-key is a private JWK (popctl keygen) or a PEM private key; without it a
new ES256 key is made for this one call. -d sends BODY (and makes the
default method POST). -v shows each exchange on stderr: request line and
headers, response status and headers; client secrets are not shown.

Examples:
  popctl request -issuer http://127.0.0.1:3000 -client-id svc -client-secret s3cret http://127.0.0.1:8080/dpop/hello
  popctl request -issuer https://login.example.com -client-id svc -client-secret "$SECRET" \
      -key client.json -X POST -d '{"amount":10}' -v https://api.example.com/transfers
`

func runRequest(e *env, args []string) int {
	fs := newFlags("request", requestHelp)
	issuer := fs.String("issuer", "", "authorization server issuer (required)")
	clientID := fs.String("client-id", "", "client_id (required)")
	secret := fs.String("client-secret", "", "client secret (required)")
	keyPath := fs.String("key", "", "private JWK or PEM key for DPoP (default: a new ES256 key)")
	method := fs.String("X", "", "HTTP method (default GET, or POST with -d)")
	data := fs.String("d", "", "request body")
	verbose := fs.Bool("v", false, "show each exchange on stderr")
	pos, code, done := parseFlags(e, fs, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		return e.errorf(exitUsage, "request", "give exactly one URL")
	}
	if *issuer == "" || *clientID == "" || *secret == "" {
		return e.errorf(exitUsage, "request", "-issuer, -client-id and -client-secret are required")
	}
	target := pos[0]
	for _, u := range []string{*issuer, target} {
		if err := checkLoopbackHTTP(u); err != nil {
			return e.errorf(exitUsage, "request", "%v", err)
		}
	}
	dataSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "d" {
			dataSet = true
		}
	})
	m := *method
	if m == "" {
		m = "GET"
		if dataSet {
			m = "POST"
		}
	}
	var key *dpopclient.Key
	var err error
	if *keyPath != "" {
		key, err = dpopclient.LoadKey(*keyPath)
	} else {
		key, err = dpopclient.GenerateKey("ES256")
	}
	if err != nil {
		return e.errorf(exitUsage, "request", "%v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var base http.RoundTripper = http.DefaultTransport
	if *verbose {
		base = &tracer{base: base, w: e.stderr}
	}
	md, err := dpopclient.Discover(ctx, &http.Client{Transport: base}, *issuer)
	if err != nil {
		return e.errorf(exitFail, "request", "%v", err)
	}
	if !md.SupportsAlg(key.Alg()) {
		fmt.Fprintf(e.stderr, "popctl request: warning: %s lists DPoP algorithms %v, not %s\n", *issuer, md.DPoPSigningAlgs, key.Alg())
	}
	cfg := dpopclient.Config{TokenURL: md.TokenEndpoint, ClientID: *clientID, ClientSecret: *secret, Base: base}
	client := (&dpopclient.Transport{Key: key, Tokens: cfg.ClientCredentials(key), Base: base}).Client()
	var body io.Reader
	if dataSet {
		body = strings.NewReader(*data)
	}
	req, err := http.NewRequestWithContext(ctx, m, target, body)
	if err != nil {
		return e.errorf(exitUsage, "request", "%v", err)
	}
	res, err := client.Do(req)
	if err != nil {
		return e.errorf(exitFail, "request", "%v", err)
	}
	defer res.Body.Close()
	fmt.Fprintf(e.stdout, "%s %s\n", res.Proto, res.Status)
	if _, err := io.Copy(e.stdout, res.Body); err != nil {
		return e.errorf(exitFail, "request", "reading the body: %v", err)
	}
	if res.StatusCode/100 != 2 {
		return exitFail
	}
	return exitOK
}

// checkLoopbackHTTP allows https URLs, and http ones on loopback addresses.
func checkLoopbackHTTP(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if dpopclient.IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s: http is allowed for loopback addresses only; use https", raw)
	}
	return fmt.Errorf("%q is not an http(s) URL", raw)
}

// tracer writes each exchange to w: "> " request line and headers, "< "
// status and headers. Basic credentials and client secrets are hidden.
type tracer struct {
	base http.RoundTripper
	w    io.Writer
	n    atomic.Int32
}

func (t *tracer) RoundTrip(r *http.Request) (*http.Response, error) {
	n := t.n.Add(1)
	var b strings.Builder
	fmt.Fprintf(&b, "* exchange %d\n> %s %s\n", n, r.Method, r.URL.Redacted())
	writeHeaders(&b, "> ", r.Header)
	res, err := t.base.RoundTrip(r)
	if err != nil {
		fmt.Fprintf(&b, "! %v\n", err)
	} else {
		fmt.Fprintf(&b, "< %s %s\n", res.Proto, res.Status)
		writeHeaders(&b, "< ", res.Header)
	}
	_, _ = io.WriteString(t.w, b.String())
	return res, err
}

func writeHeaders(b *strings.Builder, prefix string, h http.Header) {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range h[n] {
			if strings.EqualFold(n, "Authorization") && strings.HasPrefix(strings.ToLower(v), "basic ") {
				v = "Basic [hidden]"
			}
			fmt.Fprintf(b, "%s%s: %s\n", prefix, n, v)
		}
	}
}
