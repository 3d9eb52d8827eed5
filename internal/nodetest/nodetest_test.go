package nodetest_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/popguard/popguard/internal/nodetest"
	"github.com/popguard/popguard/internal/sign"
)

// TestOIDCProviderIssuesDPoPBoundJWT checks the harness itself: oidc-provider
// demands a nonce, then issues an RFC 9068 access token bound to the proof's
// key through client credentials.
func TestOIDCProviderIssuesDPoPBoundJWT(t *testing.T) {
	p := nodetest.StartOIDCProviderInfo(t, nodetest.OIDCProviderConfig{
		Clients:      []nodetest.Client{{ID: "svc", Secret: "s3cret"}},
		Resource:     "https://api.example.test",
		RequireNonce: true,
	})
	key := sign.MustKey("ES256")
	post := func(nonce string) *http.Response {
		t.Helper()
		proof, err := key.Proof("POST", p.TokenEndpoint, sign.ProofOptions{Nonce: nonce})
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
		req, _ := http.NewRequest("POST", p.TokenEndpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc", "s3cret")
		req.Header.Set("DPoP", proof)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := post("")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	nonce := res.Header.Get("DPoP-Nonce")
	if res.StatusCode != 400 || !strings.Contains(string(body), "use_dpop_nonce") || nonce == "" {
		t.Fatalf("without nonce: %d %s (DPoP-Nonce %q)", res.StatusCode, body, nonce)
	}
	res = post(nonce)
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 200 {
		t.Fatalf("with nonce: %d %v", res.StatusCode, err)
	}
	if tok.TokenType != "DPoP" {
		t.Fatalf("token_type %q", tok.TokenType)
	}
	parts := strings.Split(tok.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWS: %q", tok.AccessToken)
	}
	var hdr struct{ Typ string }
	var claims struct {
		Iss, Aud string
		Cnf      struct{ Jkt string }
	}
	decode(t, parts[0], &hdr)
	decode(t, parts[1], &claims)
	if hdr.Typ != "at+jwt" || claims.Iss != p.Issuer || claims.Aud != "https://api.example.test" || claims.Cnf.Jkt != key.Thumbprint() {
		t.Fatalf("header %+v claims %+v, want at+jwt bound to %s", hdr, claims, key.Thumbprint())
	}
}

func decode(t *testing.T, part string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
