package main

// token: a local issuer for tests and for examples/server.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/sign"
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
	issuedAt := time.Now()
	var err error
	if *iat != "" {
		if issuedAt, err = parseTime(*iat); err != nil {
			return e.errorf(exitUsage, "token", "-iat: %v", err)
		}
	}
	c, hdrTyp, err := shapeClaims(*profile, shape{iss: *iss, aud: *aud, sub: *sub, client: *clientID, scope: *scope,
		roles: *roles, tenant: *tenant, ver: *ver, iat: issuedAt, ttl: *ttl})
	if err != nil {
		return e.errorf(exitUsage, "token", "%v", err)
	}
	if *typ != "" {
		hdrTyp = *typ
	}
	isThumb := func(s string) bool { return len(s) == 43 && jose.IsB64URL(s) }
	switch {
	case *jkt != "":
		if !isThumb(*jkt) {
			return e.errorf(exitUsage, "token", "-jkt must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)")
		}
		c["cnf"] = map[string]any{"jkt": *jkt}
	case *bind != "":
		k, err := loadKey(*bind)
		if err != nil {
			return e.errorf(exitUsage, "token", "-bind: %v", err)
		}
		c["cnf"] = map[string]any{"jkt": k.Thumbprint()}
	case *kidCnf != "":
		if !isThumb(*kidCnf) {
			return e.errorf(exitUsage, "token", "-kid-cnf must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)")
		}
		c["cnf"] = map[string]any{"kid": *kidCnf}
	case *certFile != "":
		raw, err := os.ReadFile(*certFile)
		if err != nil {
			return e.errorf(exitUsage, "token", "-cert: %v", err)
		}
		tps, err := certThumbprints(raw)
		if err != nil {
			return e.errorf(exitUsage, "token", "-cert: %v", err)
		}
		c["cnf"] = map[string]any{"x5t#S256": tps[0]}
	}
	k, err := loadKey(*issuerKey)
	if err != nil {
		return e.errorf(exitUsage, "token", "%v", err)
	}
	for _, kv := range claims {
		name, raw, ok := strings.Cut(kv, "=")
		var v any
		if !ok || name == "" || json.Unmarshal([]byte(raw), &v) != nil {
			return e.errorf(exitUsage, "token", "-claim %q: want name=JSON", kv)
		}
		c[name] = v
	}
	for _, name := range drops {
		delete(c, name)
	}
	hdr := map[string]any{"kid": k.KID}
	if hdrTyp != "none" {
		hdr["typ"] = hdrTyp
	}
	tok, err := k.Key.JWS(hdr, c)
	if err != nil {
		return e.errorf(exitUsage, "token", "%v", err)
	}
	fmt.Fprintln(e.stdout, tok)
	return exitOK
}

// shape is what a minted token says.
type shape struct {
	iss, aud, sub, client, scope, roles, tenant, ver string
	iat                                              time.Time
	ttl                                              time.Duration
}

// shapeClaims returns the claims and header typ of a token in the shape of
// the profile's provider ("none": no typ).
func shapeClaims(profile string, s shape) (map[string]any, string, error) {
	c := map[string]any{"iss": s.iss, "sub": s.sub, "aud": s.aud, "iat": s.iat.Unix(), "exp": s.iat.Add(s.ttl).Unix()}
	fields := func(v string) []string { return strings.Fields(v) }
	switch profile {
	case "rfc9068":
		c["client_id"], c["jti"] = s.client, sign.RandomID()
		if s.scope != "" {
			c["scope"] = s.scope
		}
		if s.roles != "" {
			c["roles"] = fields(s.roles)
		}
		return c, "at+jwt", nil
	case "entra":
		if s.tenant == "" {
			return nil, "", fmt.Errorf("-profile entra needs -tenant")
		}
		c["tid"], c["ver"], c["nbf"], c["oid"] = s.tenant, s.ver, s.iat.Unix(), s.sub
		switch s.ver {
		case "2.0":
			c["azp"] = s.client
		case "1.0":
			c["appid"] = s.client
		default:
			return nil, "", fmt.Errorf("-ver must be 1.0 or 2.0")
		}
		if s.scope != "" {
			c["scp"] = s.scope
		}
		if s.roles != "" {
			c["roles"] = fields(s.roles)
		}
		return c, "JWT", nil
	case "keycloak":
		c["azp"], c["jti"], c["typ"] = s.client, sign.RandomID(), "Bearer"
		c["scope"] = s.scope
		c["realm_access"] = map[string]any{"roles": fields(s.roles)}
		return c, "JWT", nil
	case "okta":
		c["cid"], c["jti"] = s.client, "AT."+sign.RandomID()
		c["scp"] = fields(s.scope)
		return c, "none", nil
	case "auth0":
		c["client_id"], c["azp"], c["jti"] = s.client, s.client, sign.RandomID()
		if s.scope != "" {
			c["scope"] = s.scope
		}
		if s.roles != "" {
			c["permissions"] = fields(s.roles)
		}
		return c, "at+jwt", nil
	}
	return nil, "", fmt.Errorf("unknown -profile %q (rfc9068, entra, keycloak, okta, auth0)", profile)
}
