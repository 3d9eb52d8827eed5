package main

// shr: the client side of Microsoft PoP, as curl arguments when asked.

import (
	"fmt"
	"os"
	"strings"

	"github.com/popguard/popguard/poptest"
)

const shrHelp = `
Usage: popctl shr -key key.json -token AT -url URL [-method GET] [-format msal-net|msal-browser]
                  [-nonce N] [-ts UNIX] [-body FILE] [--curl]

Prints a Microsoft PoP signed HTTP request (SHR) as MSAL writes it, for
Authorization: PoP <shr>. The access token must be bound to the key: Entra ID
binds it with cnf.kid = the key's RFC 7638 thumbprint (popctl token -kid-cnf).

  u = host[:port] of -url, as written (a non-default port must be there)
  p = the escaped path of -url
  m = -method, ts = now (or -ts), at = -token, cnf.jwk = the public key,
  nonce = -nonce, else random (32 hex digits; a UUID for msal-browser)
  b = SHA-256 of the -body file, when given

Formats:
  msal-net      MSAL.NET: header kid = thumbprint; no q.
  msal-browser  msal-browser: header kid = base64url({"kid":thumbprint}); u and p
                lower-cased, '/' appended to a path without query; q = [[], raw
                query lower-cased]. Servers need validate.MSALBrowserCompat().

With --curl, prints curl arguments instead, shell-quoted:
  [-X METHOD] -H 'Authorization: PoP <shr>' [--data-binary @FILE] 'URL'

Examples:
  popctl shr -key client.json -token "$AT" -url 'https://api.example.com/x?y=1'
  popctl shr -key client.json -token "$AT" -method POST -url https://api.example.com/x -body req.json --curl
  popctl shr -format msal-browser -key client.json -token "$AT" -url http://127.0.0.1:8080/pop/hi
`

func runSHR(e *env, args []string) int {
	fs := newFlags("shr", shrHelp)
	keyPath := fs.String("key", "", "private JWK the token is bound to (required)")
	token := fs.String("token", "", "access token, the at claim (required)")
	method := fs.String("method", "GET", "HTTP method (m), exactly as sent")
	rawURL := fs.String("url", "", "request URL: u, p (and q for msal-browser) (required)")
	format := fs.String("format", "msal-net", "msal-net or msal-browser")
	nonce := fs.String("nonce", "", "nonce claim (a server nonce; default random)")
	ts := fs.String("ts", "", "signing time, unix seconds or RFC 3339 (default now)")
	bodyPath := fs.String("body", "", "request body file: sets b")
	curl := fs.Bool("curl", false, "print curl arguments instead of the bare SHR")
	pos, code, done := parseFlags(e, fs, args)
	if done {
		return code
	}
	if len(pos) > 0 {
		return e.errorf(exitUsage, "shr", "unexpected argument %q", pos[0])
	}
	if *keyPath == "" || *token == "" || *rawURL == "" {
		return e.errorf(exitUsage, "shr", "-key, -token and -url are required")
	}
	if *method == "" {
		return e.errorf(exitUsage, "shr", "-method must not be empty")
	}
	var o poptest.SHROptions
	switch *format {
	case "msal-net", "msalnet", "net":
		o.Format = poptest.MSALNet
	case "msal-browser", "browser":
		o.Format = poptest.MSALBrowser
	default:
		return e.errorf(exitUsage, "shr", "-format must be msal-net or msal-browser, not %q", *format)
	}
	u, err := parseRequestURL(*rawURL)
	if err != nil {
		return e.errorf(exitUsage, "shr", "%v", err)
	}
	// u and p as written in -url (poptest would drop a default port and
	// re-escape the path), in msal-browser's case.
	host, path := u.Host, rawPath(*rawURL)
	if o.Format == poptest.MSALBrowser {
		host, path = strings.ToLower(host), strings.ToLower(path)
		if u.RawQuery == "" && !strings.HasSuffix(path, "/") {
			path += "/"
		}
	}
	o.Nonce, o.Claims = *nonce, map[string]any{"u": host, "p": path}
	if *ts != "" {
		if o.Time, err = parseTime(*ts); err != nil {
			return e.errorf(exitUsage, "shr", "-ts: %v", err)
		}
	}
	if *bodyPath != "" {
		if o.Body, err = os.ReadFile(*bodyPath); err != nil {
			return e.errorf(exitUsage, "shr", "-body: %v", err)
		}
	}
	k, err := loadKey(*keyPath)
	if err != nil {
		return e.errorf(exitUsage, "shr", "%v", err)
	}
	shr := k.client.SHR(*method, *rawURL, *token, o)
	if !*curl {
		fmt.Fprintln(e.stdout, shr)
		return exitOK
	}
	var parts []string
	if *method != "GET" {
		parts = append(parts, "-X", shellWord(*method))
	}
	parts = append(parts, "-H", shellQuote("Authorization: PoP "+shr))
	if *bodyPath != "" {
		parts = append(parts, "--data-binary", shellQuote("@"+*bodyPath))
	}
	parts = append(parts, shellQuote(*rawURL))
	fmt.Fprintln(e.stdout, strings.Join(parts, " "))
	return exitOK
}
