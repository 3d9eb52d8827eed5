package middleware_test

import (
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
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
		q := poptest.NewClient().Proof("GET", target, tok, poptest.ProofOptions{})
		return p[:strings.LastIndexByte(p, '.')] + q[strings.LastIndexByte(q, '.'):]
	}
	t.Run("junk token", func(t *testing.T) {
		resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP junk", "DPoP", forge(t, "junk"))
		advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonTokenMalformed)
	})
	t.Run("token of another issuer", func(t *testing.T) {
		other := poptest.NewStaticIssuer("https://other.issuer.test")
		tok := other.Token(poptest.TokenOptions{Subject: "mallory", Audience: audience, DPoP: h.key,
			Claims: map[string]any{"client_id": ""}})
		resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", forge(t, tok))
		advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonTokenIssuer)
	})
	t.Run("control: valid token, forged proof signature", func(t *testing.T) {
		tok := h.bound()
		resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", forge(t, tok))
		advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofSignature)
	})
}

// A rejected htu, u or p is logged with what the client signed and what the
// server computed, so a proxy or public-URL mistake shows in one log line;
// neither value is sent to the client.
func TestTargetMismatchLogged(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithPoP())
	srv := advServer(t, h.route(popguard.Mixed))
	tok := h.bound()
	k := poptest.NewClient()
	popTok := h.boundWith(map[string]any{"kid": k.Thumbprint()})
	shr := func(target string) string { return k.SHR("GET", target, popTok, poptest.SHROptions{}) }
	for _, c := range []struct {
		name, signed, computed string
		send                   func() response
		code                   popguard.ErrorCode
		reason                 popguard.Reason
	}{
		{"DPoP htu", `"http://internal:8080/r"`, `"https://api.test/r"`, func() response {
			return h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", "http://internal:8080/r", tok))
		}, popguard.CodeInvalidDPoPProof, popguard.ReasonProofHTU},
		{"SHR u", `"internal:8080"`, `"https://api.test"`, func() response {
			return h.advHTTP(t, srv, "GET", "/r", "Authorization", "PoP "+shr("https://internal:8080/r"))
		}, popguard.CodeInvalidToken, popguard.ReasonSHRU},
		{"SHR p", `"/v1/r"`, `"/r"`, func() response {
			return h.advHTTP(t, srv, "GET", "/r", "Authorization", "PoP "+shr("https://api.test/v1/r"))
		}, popguard.CodeInvalidToken, popguard.ReasonSHRP},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := c.send()
			advReject(t, h, resp, 401, c.code, c.reason)
			logs, _, _ := h.cap.snapshot()
			if len(logs) != 1 || !strings.Contains(logs[0].attrs["cause"], "signed") ||
				!strings.Contains(logs[0].attrs["cause"], c.signed) || !strings.Contains(logs[0].attrs["cause"], c.computed) {
				t.Fatalf("log %+v, want a cause naming %s and %s", logs, c.signed, c.computed)
			}
			sent := string(resp.body) + strings.Join(resp.header.Values("WWW-Authenticate"), ",")
			if strings.Contains(sent, strings.Trim(c.computed, `"`)) || strings.Contains(sent, strings.Trim(c.signed, `"`)) {
				t.Errorf("the response echoes a URI: %s", sent)
			}
		})
	}
}
