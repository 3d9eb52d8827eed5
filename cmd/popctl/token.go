package main

// token: a local issuer for tests and for examples/server.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

const tokenHelp = `
Usage: popctl token -issuer-key key.json -iss URL -aud AUD -sub S -client-id C [-scope "a b"]
                    [-jkt THUMB | -bind key.json | -kid-cnf THUMB | -cert client.pem] [-ttl 5m] [-iat UNIX] [-typ at+jwt]
                    [-profile rfc9068|entra|keycloak|okta|auth0] [-roles "r1 r2"] [-tenant TID] [-ver 2.0]
                    [-claim name=JSON ...] [-drop name ...]

Mints a JWT access token signed with the issuer key (header kid = the key's
kid, as "popctl jwks" publishes it), shaped as the -profile's provider
issues them (default RFC 9068). For tests and local development only: a
real authorization server issues your tokens.

Shapes (-profile):
  rfc9068   typ at+jwt; client_id, scope, roles, jti
  entra     typ JWT; tid (-tenant), ver, nbf, oid, scp, roles; azp (-ver 2.0) or
            appid (-ver 1.0; its iss is https://sts.windows.net/TID/)
  keycloak  typ JWT; azp, scope, realm_access.roles, jti
  okta      no typ; cid, scp (an array), jti
  auth0     typ at+jwt; client_id and azp, scope, permissions (from -roles)
-claim name=JSON adds or replaces a claim (the value is JSON: -claim 'amr=["pwd"]',
-claim 'acr="1"'); -drop name removes one. Both are applied last.

Binding (RFC 7800 cnf):
  -jkt THUMB       cnf.jkt = THUMB: a DPoP-bound token (RFC 9449 §6)
  -bind key.json   cnf.jkt = the thumbprint of that key (same as -jkt)
  -kid-cnf THUMB   cnf.kid = THUMB: a PoP token as Microsoft Entra ID binds it
                   (THUMB = RFC 7638 thumbprint of the SHR's cnf.jwk)
  -cert client.pem cnf.x5t#S256 = the thumbprint of that X.509 certificate (PEM
                   or DER; the first one): a certificate-bound token (RFC 8705),
                   sent as Bearer (or mtls_pop) over TLS with that certificate
Without any of them the token is unbound (a Bearer token).

Examples:
  popctl token -issuer-key issuer.json -iss https://issuer.test -aud https://api.test \
      -sub alice -client-id cli -scope "read write" -bind client.json
  popctl token -issuer-key issuer.json -iss https://issuer.test -aud https://api.test \
      -sub alice -client-id cli -kid-cnf "$(popctl thumbprint client.json)"
  popctl token -issuer-key issuer.json -iss https://issuer.test -aud https://api.test \
      -sub svc -client-id svc -cert client.pem
  popctl token ... -profile entra -tenant "$TID" -ver 1.0 -roles "Items.Read.All"
  popctl token ... -ttl 1h -claim 'acr="urn:mace:incommon:iap:silver"' -drop jti
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
	certFile := fs.String("cert", "", "bind to a TLS client certificate: cnf.x5t#S256 = thumbprint of this certificate file (RFC 8705)")
	ttl := fs.Duration("ttl", 5*time.Minute, "lifetime (exp - iat)")
	iat := fs.String("iat", "", "issued-at, unix seconds or RFC 3339 (default now)")
	typ := fs.String("typ", "", `header typ (default: the profile's; "none" for no typ)`)
	profile := fs.String("profile", "rfc9068", "token shape: rfc9068, entra, keycloak, okta or auth0")
	roles := fs.String("roles", "", "space-separated application roles (the profile's role claim)")
	tenant := fs.String("tenant", "", "tenant id (entra: the tid claim)")
	ver := fs.String("ver", "2.0", `entra: the ver claim, "1.0" or "2.0"`)
	var claims, drops stringList
	fs.Var(&claims, "claim", "name=JSON: add or replace a claim (repeatable)")
	fs.Var(&drops, "drop", "remove a claim (repeatable)")
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
	for _, s := range []string{*jkt, *bind, *kidCnf, *certFile} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return e.errorf(exitUsage, "token", "give at most one of -jkt, -bind, -kid-cnf and -cert (a cnf names one key)")
	}
	if *ttl <= 0 {
		return e.errorf(exitUsage, "token", "-ttl must be positive")
	}
	o := poptest.TokenOptions{Subject: *sub, ClientID: *clientID, Audience: *aud, Scope: *scope, TTL: *ttl,
		Roles: strings.Fields(*roles), Profile: *profile, Tenant: *tenant, Version: *ver}
	if *iat != "" {
		var err error
		if o.IssuedAt, err = parseTime(*iat); err != nil {
			return e.errorf(exitUsage, "token", "-iat: %v", err)
		}
	}
	if _, ok := validate.ProfileByName(*profile); !ok {
		return e.errorf(exitUsage, "token", "unknown -profile %q (rfc9068, entra, keycloak, okta, auth0)", *profile)
	}
	switch {
	case *profile == "entra" && *tenant == "":
		return e.errorf(exitUsage, "token", "-profile entra needs -tenant")
	case *ver != "1.0" && *ver != "2.0":
		return e.errorf(exitUsage, "token", "-ver must be 1.0 or 2.0")
	}
	o.Claims = map[string]any{}
	isThumb := func(s string) bool { return len(s) == 43 && jose.IsB64URL(s) }
	switch {
	case *jkt != "":
		if !isThumb(*jkt) {
			return e.errorf(exitUsage, "token", "-jkt must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)")
		}
		o.Claims["cnf"] = map[string]any{"jkt": *jkt}
	case *bind != "":
		k, err := dpopclient.LoadKey(*bind)
		if err != nil {
			return e.errorf(exitUsage, "token", "-bind: %v", err)
		}
		o.Claims["cnf"] = map[string]any{"jkt": k.Thumbprint()}
	case *kidCnf != "":
		if !isThumb(*kidCnf) {
			return e.errorf(exitUsage, "token", "-kid-cnf must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)")
		}
		o.Claims["cnf"] = map[string]any{"kid": *kidCnf}
	case *certFile != "":
		raw, err := os.ReadFile(*certFile)
		if err != nil {
			return e.errorf(exitUsage, "token", "-cert: %v", err)
		}
		tps, err := certThumbprints(raw)
		if err != nil {
			return e.errorf(exitUsage, "token", "-cert: %v", err)
		}
		o.Claims["cnf"] = map[string]any{"x5t#S256": tps[0]}
	}
	for _, kv := range claims {
		name, raw, ok := strings.Cut(kv, "=")
		var v any
		if !ok || name == "" || json.Unmarshal([]byte(raw), &v) != nil || v == nil {
			return e.errorf(exitUsage, "token", "-claim %q: want name=JSON (not null: use -drop)", kv)
		}
		o.Claims[name] = v
	}
	for _, name := range drops {
		o.Claims[name] = nil
	}
	if *typ != "" {
		o.Typ = *typ
		if *typ == "none" {
			o.Typ = "-"
		}
	}
	raw, err := os.ReadFile(*issuerKey)
	if err != nil {
		return e.errorf(exitUsage, "token", "%v", err)
	}
	k, err := dpopclient.ParseKey(raw)
	if err != nil {
		return e.errorf(exitUsage, "token", "%s: %v", *issuerKey, err)
	}
	var kid struct{ Kid string }
	_ = json.Unmarshal(raw, &kid) // the kid "popctl jwks" publishes; a PEM key has none
	if kid.Kid != "" {
		o.Header = map[string]any{"kid": kid.Kid}
	}
	tok := poptest.NewStaticIssuerWithKey(*iss, k).Token(o)
	fmt.Fprintln(e.stdout, tok)
	return exitOK
}
