package dpopclient_test

// Tests against servers no one here wrote: the npm packages oidc-provider
// (authorization server, DPoP nonce required) and oauth4webapi (resource
// server, DPoP and a nonce required), started from testdata/node.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/internal/nodetest"
)

// countingTransport counts the requests it carries and the ones answered
// with status.
type countingTransport struct {
	all, with atomic.Int32
	status    int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.all.Add(1)
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && res.StatusCode == c.status {
		c.with.Add(1)
	}
	return res, err
}

func TestInteropOIDCProviderAndOAuth4WebAPI(t *testing.T) {
	assertionKey, err := dpopclient.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	op := nodetest.StartOIDCProviderInfo(t, nodetest.OIDCProviderConfig{
		Clients: []nodetest.Client{
			{ID: "basic", Secret: "s3cret-basic"},
			{ID: "post", Secret: "s3cret-post", AuthMethod: "client_secret_post"},
			{ID: "pkjwt", AuthMethod: "private_key_jwt",
				JWKS: json.RawMessage(`{"keys":[` + string(assertionKey.PublicJWK()) + `]}`)},
		},
		RequireNonce: true,
		RequireDPoP:  true,
		TestRoutes:   true,
	})
	rs := nodetest.StartOAuth4WebAPIResourceServer(t, nodetest.ResourceServerConfig{
		Issuer: op.Issuer, RequireNonce: true,
	})
	ctx := context.Background()
	md, err := dpopclient.Discover(ctx, nil, op.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	if md.TokenEndpoint != op.TokenEndpoint {
		t.Fatalf("discovered token endpoint %q, want %q", md.TokenEndpoint, op.TokenEndpoint)
	}

	for _, c := range []dpopclient.Config{
		{ClientID: "basic", ClientSecret: "s3cret-basic"},
		{ClientID: "post", ClientSecret: "s3cret-post", AuthMethod: dpopclient.AuthClientSecretPost},
		{ClientID: "pkjwt", AssertionKey: assertionKey},
	} {
		t.Run(c.ClientID, func(t *testing.T) {
			key, err := dpopclient.GenerateKey("ES256")
			if err != nil {
				t.Fatal(err)
			}
			as := &countingTransport{status: http.StatusBadRequest}
			c.TokenURL, c.Base, c.Scopes = md.TokenEndpoint, as, []string{"read"}
			tokens := c.ClientCredentials(key)
			tok, err := tokens.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "DPoP" || tok.Expiry.IsZero() {
				t.Fatalf("token %+v", tok)
			}
			if as.all.Load() != 2 || as.with.Load() != 1 {
				t.Fatalf("token endpoint: %d requests, %d answered 400; want 2 and 1 (use_dpop_nonce, retry)", as.all.Load(), as.with.Load())
			}
			// Cached: no second token request.
			if _, err := tokens.Token(ctx); err != nil || as.all.Load() != 2 {
				t.Fatalf("second Token: %v after %d requests", err, as.all.Load())
			}

			api := &countingTransport{status: http.StatusUnauthorized}
			client := (&dpopclient.Transport{Key: key, Tokens: tokens, Base: api}).Client()
			for i := range 2 {
				res, err := client.Get(rs + "/things/1?x=y")
				if err != nil {
					t.Fatal(err)
				}
				var got struct{ Sub, ClientID, JKT, Scope string }
				got.ClientID = ""
				var m map[string]string
				_ = json.NewDecoder(res.Body).Decode(&m)
				res.Body.Close()
				got.Sub, got.ClientID, got.JKT, got.Scope = m["sub"], m["client_id"], m["jkt"], m["scope"]
				if res.StatusCode != 200 || got.JKT != key.Thumbprint() || got.ClientID != c.ClientID || got.Scope != "read" {
					t.Fatalf("call %d: HTTP %d %v", i, res.StatusCode, m)
				}
			}
			if api.all.Load() != 3 || api.with.Load() != 1 {
				t.Fatalf("resource server: %d requests, %d answered 401; want 3 and 1", api.all.Load(), api.with.Load())
			}
		})
	}

	t.Run("refresh", func(t *testing.T) {
		res, err := http.Post(op.Issuer+"/test/refresh-token?client_id=basic&scope=read", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var minted struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.NewDecoder(res.Body).Decode(&minted)
		res.Body.Close()
		if minted.RefreshToken == "" {
			t.Fatalf("no refresh token minted (HTTP %d)", res.StatusCode)
		}
		key, _ := dpopclient.GenerateKey("ES256")
		cfg := dpopclient.Config{TokenURL: md.TokenEndpoint, ClientID: "basic", ClientSecret: "s3cret-basic"}
		tokens := cfg.RefreshToken(key, minted.RefreshToken)
		client := (&dpopclient.Transport{Key: key, Tokens: tokens}).Client()
		res, err = client.Get(rs + "/refreshed")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		_ = json.NewDecoder(res.Body).Decode(&m)
		res.Body.Close()
		if res.StatusCode != 200 || m["jkt"] != key.Thumbprint() || m["sub"] != "user-1" {
			t.Fatalf("HTTP %d %v", res.StatusCode, m)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		key, _ := dpopclient.GenerateKey("")
		cfg := dpopclient.Config{TokenURL: md.TokenEndpoint, ClientID: "basic", ClientSecret: "wrong"}
		_, err := cfg.ClientCredentials(key).Token(ctx)
		var te *dpopclient.TokenError
		if !errors.As(err, &te) || te.Code != "invalid_client" {
			t.Fatalf("err %v, want a TokenError invalid_client", err)
		}
	})
}
