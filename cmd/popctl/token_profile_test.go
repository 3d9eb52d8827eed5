package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/validate"
)

// TestTokenProfiles mints a token in each provider's shape and verifies it
// with the validator's profile of that provider, and refuses it with the
// default RFC 9068 profile where the shapes differ.
func TestTokenProfiles(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "issuer.json", "RS256")
	keys, err := validate.NewStaticKeySet([]byte(mustRun(t, "jwks", "-key", key)))
	if err != nil {
		t.Fatal(err)
	}
	const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	cases := []struct {
		profile, iss string
		extra        []string
		wantClient   string
		wantScopes   []string
		wantRoles    []string
		rfc9068      popguard.Reason // what the default profile says ("" accepted)
	}{
		{"rfc9068", "https://as.test", nil, "cli", []string{"read", "write"}, []string{"admin"}, ""},
		{"entra", "https://login.microsoftonline.com/" + tid + "/v2.0", []string{"-tenant", tid}, "cli", []string{"read", "write"}, []string{"admin"}, popguard.ReasonTokenType},
		{"entra", "https://sts.windows.net/" + tid + "/", []string{"-tenant", tid, "-ver", "1.0"}, "cli", []string{"read", "write"}, []string{"admin"}, popguard.ReasonTokenType},
		{"keycloak", "https://kc.test/realms/r1", nil, "cli", []string{"read", "write"}, []string{"admin"}, popguard.ReasonTokenType},
		{"okta", "https://okta.test/oauth2/default", nil, "cli", []string{"read", "write"}, nil, popguard.ReasonTokenType},
		{"auth0", "https://tenant.auth0.test/", nil, "cli", []string{"read", "write"}, []string{"admin"}, ""},
	}
	for _, c := range cases {
		t.Run(c.profile+" "+c.iss, func(t *testing.T) {
			args := append([]string{"token", "-issuer-key", key, "-iss", c.iss, "-aud", "api://a", "-sub", "alice",
				"-client-id", "cli", "-scope", "read write", "-roles", "admin", "-profile", c.profile}, c.extra...)
			tok := strings.TrimSpace(mustRun(t, args...))
			p, _ := validate.ProfileByName(c.profile)
			verifierIss := c.iss
			if c.profile == "entra" {
				verifierIss = "https://login.microsoftonline.com/{tenantid}/v2.0"
			}
			opts := []validate.Option{validate.Audience("api://a"), validate.UseProfile(p)}
			if p.TenantClaim != "" {
				opts = append(opts, validate.Tenants(tid))
			}
			v, err := validate.NewJWTVerifier(verifierIss, keys, opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.VerifyToken(context.Background(), tok)
			if err != nil {
				t.Fatalf("the %s profile refused a %s-shaped token: %v", c.profile, c.profile, err)
			}
			if got.ClientID != c.wantClient || !slices.Equal(got.Scopes, c.wantScopes) || !slices.Equal(got.Roles, c.wantRoles) {
				t.Errorf("client %q scopes %q roles %q; want %q %q %q", got.ClientID, got.Scopes, got.Roles, c.wantClient, c.wantScopes, c.wantRoles)
			}
			def, err := validate.NewJWTVerifier(c.iss, keys, validate.Audience("api://a"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = def.VerifyToken(context.Background(), tok)
			if c.rfc9068 == "" {
				if err != nil {
					t.Errorf("the RFC 9068 profile refused it: %v", err)
				}
				return
			}
			if !errors.Is(err, c.rfc9068) {
				t.Errorf("the RFC 9068 profile: %v, want %s", err, c.rfc9068)
			}
		})
	}

	t.Run("claim and drop", func(t *testing.T) {
		tok := strings.TrimSpace(mustRun(t, "token", "-issuer-key", key, "-iss", "https://as.test", "-aud", "api://a", "-sub", "alice",
			"-client-id", "cli", "-claim", `acr="silver"`, "-claim", `amr=["pwd","mfa"]`, "-drop", "jti"))
		v, err := validate.NewJWTVerifier("https://as.test", keys, validate.Audience("api://a"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyToken(context.Background(), tok); !errors.Is(err, popguard.ReasonTokenClaims) {
			t.Errorf("a token without jti: %v, want %s", err, popguard.ReasonTokenClaims)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		if claims["acr"] != "silver" || len(claims["amr"].([]any)) != 2 {
			t.Errorf("claims %v lack the added acr and amr", claims)
		}
	})
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{"-profile", "nope"},
			{"-profile", "entra"}, // no -tenant
			{"-profile", "entra", "-tenant", tid, "-ver", "3.0"},
			{"-claim", "novalue"},
			{"-claim", "x={bad json"},
		} {
			full := append([]string{"token", "-issuer-key", key, "-iss", "i", "-aud", "a", "-sub", "s", "-client-id", "c"}, args...)
			if _, _, code := popctl(t, "", full...); code != exitUsage {
				t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
			}
		}
	})
}
