package main

// proof: the client side of DPoP, as curl arguments when asked; and the
// request URL and time helpers proof, shr and inspect share.

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

const proofHelp = `
Usage: popctl proof -key key.json -url URL [-method GET] [-token AT] [-nonce N] [-iat UNIX] [--curl]

Prints a DPoP proof (RFC 9449 §4.2) for one request: typ dpop+jwt, the
public key in the jwk header, and claims jti (random), htm = -method,
htu = -url without query and fragment, iat = now (or -iat), ath =
SHA-256 of -token when given (a resource server requires it), nonce = -nonce
when given (a server's DPoP-Nonce).

A proof is single-use and short-lived (popguard accepts iat up to 60s old):
make a new one per request.

With --curl, prints curl arguments instead, shell-quoted:
  [-X METHOD] -H 'Authorization: DPoP <AT>' -H 'DPoP: <proof>' 'URL'

Examples:
  popctl proof -key client.json -method GET -url https://api.example.com/x
  popctl proof -key client.json -method POST -url https://api.example.com/transfers -token "$AT" -nonce "$NONCE"
  eval curl -i "$(popctl proof -key client.json -url http://127.0.0.1:8080/dpop/hi -token "$AT" --curl)"
`

func runProof(e *env, args []string) int {
	fs := newFlags("proof", proofHelp)
	keyPath := fs.String("key", "", "private JWK of the client (required)")
	method := fs.String("method", "GET", "HTTP method (htm), exactly as sent")
	rawURL := fs.String("url", "", "request URL (htu is this without query and fragment) (required)")
	token := fs.String("token", "", "access token: sets ath, and the Authorization header with --curl")
	nonce := fs.String("nonce", "", "server nonce (from a DPoP-Nonce header)")
	iat := fs.String("iat", "", "issued-at, unix seconds or RFC 3339 (default now)")
	jti := fs.String("jti", "", "jti (default random)")
	curl := fs.Bool("curl", false, "print curl arguments instead of the bare proof")
	pos, code, done := parseFlags(e, fs, args)
	if done {
		return code
	}
	if len(pos) > 0 {
		return e.errorf(exitUsage, "proof", "unexpected argument %q", pos[0])
	}
	if *keyPath == "" || *rawURL == "" {
		return e.errorf(exitUsage, "proof", "-key and -url are required")
	}
	if *method == "" {
		return e.errorf(exitUsage, "proof", "-method must not be empty")
	}
	htu, err := htuOf(*rawURL)
	if err != nil {
		return e.errorf(exitUsage, "proof", "%v", err)
	}
	// htu as written: poptest would re-serialize the URL.
	opts := poptest.ProofOptions{Nonce: *nonce, JTI: *jti, Claims: map[string]any{"htu": htu}}
	if *iat != "" {
		if opts.IssuedAt, err = parseTime(*iat); err != nil {
			return e.errorf(exitUsage, "proof", "-iat: %v", err)
		}
	}
	k, err := loadKey(*keyPath)
	if err != nil {
		return e.errorf(exitUsage, "proof", "%v", err)
	}
	proof := k.client.Proof(*method, htu, *token, opts)
	if !*curl {
		fmt.Fprintln(e.stdout, proof)
		return exitOK
	}
	var parts []string
	if *method != "GET" {
		parts = append(parts, "-X", shellWord(*method))
	}
	if *token != "" {
		parts = append(parts, "-H", shellQuote("Authorization: DPoP "+*token))
	}
	parts = append(parts, "-H", shellQuote("DPoP: "+proof), shellQuote(*rawURL))
	fmt.Fprintln(e.stdout, strings.Join(parts, " "))
	return exitOK
}

// htuOf checks a request URL and returns it without query and fragment.
func htuOf(raw string) (string, error) {
	if _, err := validate.CanonicalTarget(raw); err != nil {
		return "", fmt.Errorf("-url %q: %v", raw, err)
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	return raw, nil
}

// parseTime reads unix seconds or an RFC 3339 time.
func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1e11 {
		return time.Unix(0, 0).Add(time.Duration(f * float64(time.Second))), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither unix seconds nor an RFC 3339 time", s)
	}
	return t, nil
}

// shellQuote quotes s for a POSIX shell: in single quotes, inside which
// nothing is special; each single quote of s closes the quoting, is written
// escaped with a backslash, and reopens it.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellWord is shellQuote for short words, left bare when they are made of
// characters no shell treats specially (a method such as POST).
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0 {
		return s
	}
	return shellQuote(s)
}

// rawPath returns the path of an absolute URL exactly as written (as it
// goes on the wire), "/" when empty.
func rawPath(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		raw = raw[i+3:]
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	i := strings.IndexByte(raw, '/')
	if i < 0 {
		return "/"
	}
	return raw[i:]
}

// parseRequestURL parses an absolute http(s) request URL that a server
// accepts as a request target (validate.CanonicalTarget).
func parseRequestURL(raw string) (*url.URL, error) {
	if _, err := validate.CanonicalTarget(raw); err != nil {
		return nil, fmt.Errorf("-url %q: %v", raw, err)
	}
	return parseURL(raw)
}

// parseURL parses an absolute http(s) URL, without judging its path.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url %q: %v", raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-url %q: not an absolute http or https URL", raw)
	}
	return u, nil
}
