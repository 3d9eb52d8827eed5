package main

// token: a local issuer for tests and for examples/server.

import (
	"fmt"
	"time"

	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/sign"
)

const tokenHelp = `
Usage: popctl token -issuer-key key.json -iss URL -aud AUD -sub S -client-id C [-scope "a b"]
                    [-jkt THUMB | -bind key.json | -kid-cnf THUMB] [-ttl 5m] [-iat UNIX] [-typ at+jwt]

Mints an RFC 9068 JWT access token signed with the issuer key (header kid =
the key's kid, as "popctl jwks" publishes it). For tests and local
development only: a real authorization server issues your tokens.

Binding (RFC 7800 cnf):
  -jkt THUMB       cnf.jkt = THUMB: a DPoP-bound token (RFC 9449 §6)
  -bind key.json   cnf.jkt = the thumbprint of that key (same as -jkt)
  -kid-cnf THUMB   cnf.kid = THUMB: a PoP token as Microsoft Entra ID binds it
                   (THUMB = RFC 7638 thumbprint of the SHR's cnf.jwk)
Without any of them the token is unbound (a Bearer token).

Examples:
  popctl token -issuer-key issuer.json -iss https://issuer.test -aud https://api.test \
      -sub alice -client-id cli -scope "read write" -bind client.json
  popctl token -issuer-key issuer.json -iss https://issuer.test -aud https://api.test \
      -sub alice -client-id cli -kid-cnf "$(popctl thumbprint client.json)"
  popctl token ... -ttl 1h -typ JWT      # an Entra-style typ (needs validate.AcceptJWTType)
`

func runToken(e *env, args []string) int {
	fs := newFlags("token", tokenHelp)
	issuerKey := fs.String("issuer-key", "", "issuer's private JWK (required)")
	iss := fs.String("iss", "", "issuer URL, the iss claim (required)")
	aud := fs.String("aud", "", "audience, the aud claim (required)")
	sub := fs.String("sub", "", "subject, the sub claim (required)")
	clientID := fs.String("client-id", "", "client_id claim (required)")
	scope := fs.String("scope", "", "space-separated scopes")
	jkt := fs.String("jkt", "", "bind to a DPoP key: cnf.jkt = this thumbprint")
	bind := fs.String("bind", "", "bind to a DPoP key: cnf.jkt = thumbprint of this JWK file")
	kidCnf := fs.String("kid-cnf", "", "bind to a PoP key: cnf.kid = this thumbprint (Entra ID style)")
	ttl := fs.Duration("ttl", 5*time.Minute, "lifetime (exp - iat)")
	iat := fs.String("iat", "", "issued-at, unix seconds or RFC 3339 (default now)")
	typ := fs.String("typ", "at+jwt", "header typ")
	pos, code, done := parseFlags(e, fs, args)
	if done {
		return code
	}
	if len(pos) > 0 {
		return e.errorf(exitUsage, "token", "unexpected argument %q", pos[0])
	}
	if *issuerKey == "" || *iss == "" || *aud == "" || *sub == "" || *clientID == "" {
		return e.errorf(exitUsage, "token", "-issuer-key, -iss, -aud, -sub and -client-id are required")
	}
	n := 0
	for _, s := range []string{*jkt, *bind, *kidCnf} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return e.errorf(exitUsage, "token", "give at most one of -jkt, -bind and -kid-cnf (a cnf names one key)")
	}
	if *ttl <= 0 {
		return e.errorf(exitUsage, "token", "-ttl must be positive")
	}
	o := sign.TokenOptions{Subject: *sub, ClientID: *clientID, Audience: *aud, Scope: *scope, TTL: *ttl, Typ: *typ}
	var err error
	if *iat != "" {
		if o.IssuedAt, err = parseTime(*iat); err != nil {
			return e.errorf(exitUsage, "token", "-iat: %v", err)
		}
	}
	isThumb := func(s string) bool { return len(s) == 43 && jose.IsB64URL(s) }
	switch {
	case *jkt != "":
		if !isThumb(*jkt) {
			return e.errorf(exitUsage, "token", "-jkt must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)")
		}
		o.Cnf = map[string]any{"jkt": *jkt}
	case *bind != "":
		k, err := loadKey(*bind)
		if err != nil {
			return e.errorf(exitUsage, "token", "-bind: %v", err)
		}
		o.Cnf = map[string]any{"jkt": k.Thumbprint()}
	case *kidCnf != "":
		if !isThumb(*kidCnf) {
			return e.errorf(exitUsage, "token", "-kid-cnf must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)")
		}
		o.Cnf = map[string]any{"kid": *kidCnf}
	}
	k, err := loadKey(*issuerKey)
	if err != nil {
		return e.errorf(exitUsage, "token", "%v", err)
	}
	issuer := &sign.Issuer{URL: *iss, KID: k.KID, Key: k.Key}
	tok, err := issuer.Token(o)
	if err != nil {
		return e.errorf(exitUsage, "token", "%v", err)
	}
	fmt.Fprintln(e.stdout, tok)
	return exitOK
}
