package middleware_test

import (
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/sign"
	"github.com/popguard/popguard/middleware"
)

// An unauthenticated DPoP request must cost about what a normal rejection
// costs: the access token (a JWT, checked locally) is looked at before the
// proof's signature, whose algorithm and key size the caller chooses. A
// request with a junk token and a self-signed proof whose signature does not
// verify is therefore refused for its token, not its proof.
func TestDPoPTokenBeforeProofSignature(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	srv := advServer(t, h.route(popguard.DPoPOnly))
	forge := func(t *testing.T, tok string) string {
		p := h.proof("GET", target, tok)
		q, err := sign.MustKey("ES256").Proof("GET", target, sign.ProofOptions{AccessToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		return p[:strings.LastIndexByte(p, '.')] + q[strings.LastIndexByte(q, '.'):]
	}
	t.Run("junk token", func(t *testing.T) {
		resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP junk", "DPoP", forge(t, "junk"))
		advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonTokenMalformed)
	})
	t.Run("token of another issuer", func(t *testing.T) {
		other, err := sign.NewIssuer("https://other.issuer.test")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := other.Token(sign.TokenOptions{Subject: "mallory", Audience: audience, Cnf: map[string]any{"jkt": h.key.Thumbprint()}})
		if err != nil {
			t.Fatal(err)
		}
		resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", forge(t, tok))
		advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonTokenIssuer)
	})
	t.Run("control: valid token, forged proof signature", func(t *testing.T) {
		tok := h.bound()
		resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", forge(t, tok))
		advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofSignature)
	})
}
