package middleware_test

// HTTP framing and scheme dispatch (conformance §2 H-1..H-7, §7.4).

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

var mixed = popguard.Accepting(popguard.Bearer, popguard.DPoP)

// both puts the same error on the Bearer and the DPoP challenge, as for a
// request whose scheme cannot be established (RFC 9449 Figure 19).
func both(code popguard.ErrorCode, desc string) []string {
	return []string{bearerErr(code, desc), dpopErr(code, desc)}
}

func TestFramingRejected(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	bound, unbound := h.bound(), h.unbound()
	proof := h.proof("GET", target, bound)
	bad400 := func(desc string, reason popguard.Reason) rejectWant {
		return rejectWant{status: 400, challenges: both(popguard.CodeInvalidRequest, desc), code: popguard.CodeInvalidRequest, reason: reason}
	}
	proofErr := func(desc string, reason popguard.Reason) rejectWant {
		return rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeInvalidDPoPProof, desc), bearerPlain},
			code: popguard.CodeInvalidDPoPProof, reason: reason, scheme: popguard.DPoP}
	}
	noAuth := func(reason popguard.Reason) rejectWant {
		return rejectWant{status: 401, challenges: []string{bearerPlain, dpopPlain}, code: popguard.CodeNone, reason: reason}
	}
	huge := strings.Repeat("A", 16385)
	cases := []struct {
		name string
		req  *http.Request
		want rejectWant
	}{
		{"two Authorization lines, Bearer and DPoP",
			request("GET", target, "Authorization", "Bearer "+unbound, "Authorization", "DPoP "+bound, "DPoP", proof),
			bad400(descMultiple, popguard.ReasonRequestMultipleAuthorization)},
		{"two identical Authorization lines",
			request("GET", target, "Authorization", "Bearer "+unbound, "Authorization", "Bearer "+unbound),
			bad400(descMultiple, popguard.ReasonRequestMultipleAuthorization)},
		// H-1: the scheme is a token; never Unicode-folded.
		{"full-width scheme", request("GET", target, "Authorization", "ＤPoP "+bound, "DPoP", proof),
			bad400(descMalformedAuth, popguard.ReasonRequestMalformedAuthorization)},
		{"full-width Bearer", request("GET", target, "Authorization", "Ｂｅａｒｅｒ "+unbound),
			bad400(descMalformedAuth, popguard.ReasonRequestMalformedAuthorization)},
		// H-2: 1*SP, and HTAB or NBSP is not SP.
		{"NBSP between scheme and token", request("GET", target, "Authorization", "DPoP\u00a0"+bound, "DPoP", proof),
			bad400(descMalformedAuth, popguard.ReasonRequestMalformedAuthorization)},
		{"TAB between scheme and token", request("GET", target, "Authorization", "Bearer\t"+unbound),
			bad400(descMalformedAuth, popguard.ReasonRequestMalformedAuthorization)},
		{"DPoP a b", request("GET", target, "Authorization", "DPoP a b", "DPoP", proof),
			bad400(descOneToken, popguard.ReasonRequestMalformedAuthorization)},
		{"DPoP a, b", request("GET", target, "Authorization", "DPoP a, b", "DPoP", proof),
			bad400(descOneToken, popguard.ReasonRequestMalformedAuthorization)},
		{"DPoP token=abc", request("GET", target, "Authorization", "DPoP token=abc", "DPoP", proof),
			bad400(descOneToken, popguard.ReasonRequestMalformedAuthorization)},
		{"Bearer token with a quote", request("GET", target, "Authorization", `Bearer "`+unbound+`"`),
			bad400(descOneToken, popguard.ReasonRequestMalformedAuthorization)},
		{"scheme without token", request("GET", target, "Authorization", "Bearer"),
			bad400(descNoToken, popguard.ReasonRequestMalformedAuthorization)},
		{"scheme and spaces only", request("GET", target, "Authorization", "DPoP   ", "DPoP", proof),
			bad400(descNoToken, popguard.ReasonRequestMalformedAuthorization)},
		// H-6: Proxy-Authorization is never a credential.
		{"Proxy-Authorization DPoP alone", request("GET", target, "Proxy-Authorization", "DPoP "+bound, "DPoP", proof),
			noAuth(popguard.ReasonNoCredentials)},
		{"Proxy-Authorization Bearer alone", request("GET", target, "Proxy-Authorization", "Bearer "+unbound),
			noAuth(popguard.ReasonNoCredentials)},
		// RFC 6750 §3.1: an unknown scheme is no credentials: no error code.
		{"unknown scheme Basic", request("GET", target, "Authorization", "Basic xyz"), noAuth(popguard.ReasonNoCredentials)},
		{"unknown scheme Negotiate", request("GET", target, "Authorization", "Negotiate YIIx"), noAuth(popguard.ReasonNoCredentials)},
		// RFC 9449 §4.3 checks 1 and 2.
		{"two DPoP lines", request("GET", target, "Authorization", "DPoP "+bound, "DPoP", proof, "DPoP", proof),
			proofErr(descProofMultiple, popguard.ReasonProofMultiple)},
		{"one DPoP line proofA, proofB", request("GET", target, "Authorization", "DPoP "+bound, "DPoP", proof+", "+h.proof("GET", target, bound)),
			proofErr(descProofMultiple, popguard.ReasonProofMultiple)},
		{"DPoP line with a space inside", request("GET", target, "Authorization", "DPoP "+bound, "DPoP", proof[:20]+" "+proof[20:]),
			proofErr(descProofMultiple, popguard.ReasonProofMultiple)},
		{"empty DPoP value", request("GET", target, "Authorization", "DPoP "+bound, "DPoP", ""),
			proofErr(descProofMissing, popguard.ReasonProofMissing)},
		{"whitespace DPoP value", request("GET", target, "Authorization", "DPoP "+bound, "DPoP", "  \t "),
			proofErr(descProofMissing, popguard.ReasonProofMissing)},
		{"DPoP value not a JWT", request("GET", target, "Authorization", "DPoP "+bound, "DPoP", "abc"),
			proofErr(descProofMalformed, popguard.ReasonProofMalformed)},
		// H-7: sizes.
		{"Authorization over 16384 bytes", request("GET", target, "Authorization", "Bearer "+huge),
			rejectWant{status: 431, challenges: both(popguard.CodeInvalidRequest, descAuthTooLarge), code: popguard.CodeInvalidRequest,
				reason: popguard.ReasonRequestHeaderTooLarge}},
		// The proof's own cap (validate.MaxSize, 8192 bytes) answers 401
		// invalid_dpop_proof (RFC 9449 §7.1), not 431.
		{"DPoP over 8192 bytes", request("GET", target, "Authorization", "DPoP "+bound, "DPoP", strings.Repeat("A", 8193)),
			proofErr(descProofTooLarge, popguard.ReasonProofTooLarge)},
		// H-4, H-5: one method only; the query is off by default.
		{"access_token query and header", request("GET", target+"?access_token="+unbound, "Authorization", "Bearer "+unbound),
			bad400(descMultiple, popguard.ReasonRequestMultipleMethods)},
		{"access_token query alone, disabled", request("GET", target+"?access_token="+unbound),
			bad400(descQueryDisabled, popguard.ReasonRequestQueryToken)},
		// Token confusion (§7.4).
		{"DPoP proof used as the access token", func() *http.Request {
			// The proof's ath covers the fake token, so only the token check can fail.
			fake := h.proof("GET", target, "")
			return request("GET", target, "Authorization", "DPoP "+fake, "DPoP", h.proof("GET", target, fake))
		}(), rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeInvalidToken, descTokenTyp), bearerPlain},
			code: popguard.CodeInvalidToken, reason: popguard.ReasonTokenType, scheme: popguard.DPoP}},
		{"access token used as the DPoP proof", request("GET", target, "Authorization", "DPoP "+bound, "DPoP", bound),
			proofErr(descProofTyp, popguard.ReasonProofTyp)},
		{"proof whose ath covers another token", request("GET", target, "Authorization", "DPoP "+bound, "DPoP", h.proof("GET", target, h.bound())),
			proofErr(descProofATH, popguard.ReasonProofATH)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := h.do(h.route(mixed), c.req)
			h.expectRejected(t, resp, c.want)
			// Whatever the code does with odd whitespace or scripts, it must
			// be R-BADREQ (400 with an error) or R-NOAUTH (401 without).
			if c.want.status == 400 || (c.want.status == 401 && c.want.code == popguard.CodeNone) {
				okShape := (resp.status == 400 && strings.Contains(resp.header.Get("WWW-Authenticate"), `error="invalid_request"`)) ||
					(resp.status == 401 && !strings.Contains(strings.Join(resp.header.Values("WWW-Authenticate"), " "), "error="))
				if !okShape {
					t.Errorf("status %d with %q is neither R-BADREQ nor R-NOAUTH", resp.status, resp.header.Values("WWW-Authenticate"))
				}
			}
		})
	}
}

// TestSchemeCaseInsensitive: H-1, RFC 9110 §11.1: any ASCII casing works.
func TestSchemeCaseInsensitive(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	for _, scheme := range []string{"DPoP", "dpop", "DPOP", "dPoP", "Bearer", "bearer", "BEARER", "bEaReR"} {
		t.Run(scheme, func(t *testing.T) {
			var req *http.Request
			want := alice
			if strings.EqualFold(scheme, "dpop") {
				tok := h.bound()
				req = request("GET", target, "Authorization", scheme+" "+tok, "DPoP", h.proof("GET", target, tok))
				want = withJKT(bob, h.key)
			} else {
				req = request("GET", target, "Authorization", scheme+" "+h.unbound())
			}
			h.expectAccepted(t, h.do(h.route(mixed), req), want, middleware.Accepted)
		})
	}
	t.Run("several spaces and surrounding OWS", func(t *testing.T) {
		tok := h.bound()
		req := request("GET", target, "Authorization", " \tDPoP   "+tok+" \t", "DPoP", " "+h.proof("GET", target, tok)+"\t")
		h.expectAccepted(t, h.do(h.route(mixed), req), withJKT(bob, h.key), middleware.Accepted)
	})
}

// TestQueryTokens: RFC 6750 §2.3 when enabled, Bearer only, one method.
func TestQueryTokens(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithQueryTokens())
	unbound := h.unbound()
	t.Run("accepted for Bearer", func(t *testing.T) {
		h.expectAccepted(t, h.do(h.route(mixed), request("GET", target+"?a=1&access_token="+unbound)), alice, middleware.Accepted)
	})
	t.Run("not on a DPoP-only route", func(t *testing.T) {
		resp := h.do(h.route(popguard.DPoPOnly), request("GET", target+"?access_token="+unbound))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{dpopPlain}, code: popguard.CodeNone,
			reason: popguard.ReasonRequestSchemeNotAllowed, scheme: popguard.Bearer})
	})
	t.Run("bound token in the query", func(t *testing.T) {
		resp := h.do(h.route(mixed), request("GET", target+"?access_token="+h.bound()))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{bearerErr(popguard.CodeInvalidToken, descBoundAsBearer), dpopPlain},
			code: popguard.CodeInvalidToken, reason: popguard.ReasonTokenBoundUsedAsBearer, scheme: popguard.Bearer})
	})
	t.Run("query and header", func(t *testing.T) {
		resp := h.do(h.route(mixed), request("GET", target+"?access_token="+unbound, "Authorization", "Bearer "+unbound))
		h.expectRejected(t, resp, rejectWant{status: 400, challenges: both(popguard.CodeInvalidRequest, descMultiple),
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestMultipleMethods})
	})
	t.Run("two access_token parameters", func(t *testing.T) {
		resp := h.do(h.route(mixed), request("GET", target+"?access_token="+unbound+"&access_token="+unbound))
		h.expectRejected(t, resp, rejectWant{status: 400, challenges: both(popguard.CodeInvalidRequest, descMultiple),
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestMultipleMethods})
	})
	t.Run("malformed access_token", func(t *testing.T) {
		resp := h.do(h.route(mixed), request("GET", target+"?access_token="+url.QueryEscape(`a"b`)))
		h.expectRejected(t, resp, rejectWant{status: 400, challenges: both(popguard.CodeInvalidRequest, "The access_token parameter is malformed"),
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestMalformedAuthorization})
	})
}

// TestQueryTokenEncodedName: url.Values decodes parameter names, so
// "access%5Ftoken" is the access_token parameter to every handler that reads
// r.URL.Query(). H-4 says header + query is two methods: 400.
func TestQueryTokenEncodedName(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	unbound := h.unbound()
	req := request("GET", target+"?access%5Ftoken="+unbound, "Authorization", "Bearer "+unbound)
	if req.URL.Query().Get("access_token") != unbound {
		t.Fatal("test premise: url.Values decodes the name")
	}
	resp := h.do(h.route(mixed), req)
	if resp.status == http.StatusOK {
		// fixed: encoded names are decoded
	}
	h.expectRejected(t, resp, rejectWant{status: 400, challenges: both(popguard.CodeInvalidRequest, descMultiple),
		code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestMultipleMethods})
}

// TestHeaderLimits: WithAuthorizationLimit moves the Authorization cap; the
// DPoP proof's cap is the proof verifier's (validate.MaxSize).
func TestHeaderLimits(t *testing.T) {
	proofs, err := validate.NewProofVerifier(validate.MaxSize(1024))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithAuthorizationLimit(1024), middleware.WithProofVerifier(proofs))
	bound := h.bound()
	t.Run("Authorization over the cap", func(t *testing.T) {
		resp := h.do(h.route(mixed), request("GET", target, "Authorization", "Bearer "+strings.Repeat("A", 1025)))
		h.expectRejected(t, resp, rejectWant{status: 431, challenges: both(popguard.CodeInvalidRequest, descAuthTooLarge),
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestHeaderTooLarge})
	})
	t.Run("DPoP over the cap", func(t *testing.T) {
		resp := h.do(h.route(mixed), request("GET", target, "Authorization", "DPoP "+bound, "DPoP", strings.Repeat("A", 1025)))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeInvalidDPoPProof, descProofTooLarge), bearerPlain},
			code: popguard.CodeInvalidDPoPProof, reason: popguard.ReasonProofTooLarge, scheme: popguard.DPoP})
	})
	t.Run("real proof under the cap", func(t *testing.T) {
		resp := h.do(h.route(mixed), request("GET", target, "Authorization", "DPoP "+bound, "DPoP", h.proof("GET", target, bound)))
		h.expectAccepted(t, resp, withJKT(bob, h.key), middleware.Accepted)
	})
}

// TestRawFraming sends hand-written HTTP/1.1 to a real server for what a
// client library would normalize: duplicate lines, header-name casing,
// huge fields.
func TestRawFraming(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	// A fresh route per request: the challenge-order bug of
	// TestChallengeOrderStable would otherwise leak between subtests.
	addr := rawServer(t, h.freshRoute(mixed))
	bound, unbound := h.bound(), h.unbound()
	proof := func() string { return h.proof("GET", target, bound) }
	start := []string{"GET /r HTTP/1.1", "Host: api.test"}
	lines := func(extra ...string) []string { return append(append([]string{}, start...), extra...) }

	t.Run("two Authorization lines", func(t *testing.T) {
		resp := h.rawDo(t, addr, lines("Authorization: Bearer "+unbound, "authorization: DPoP "+bound, "DPoP: "+proof())...)
		h.expectRejected(t, resp, rejectWant{status: 400, challenges: both(popguard.CodeInvalidRequest, descMultiple),
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestMultipleAuthorization})
	})
	t.Run("two DPoP lines, differently cased names", func(t *testing.T) {
		p := proof()
		resp := h.rawDo(t, addr, lines("Authorization: DPoP "+bound, "dpop: "+p, "DPOP: "+p)...)
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeInvalidDPoPProof, descProofMultiple), bearerPlain},
			code: popguard.CodeInvalidDPoPProof, reason: popguard.ReasonProofMultiple, scheme: popguard.DPoP})
	})
	for _, name := range []string{"dpop", "DPOP", "DPoP", "dPoP"} {
		t.Run("header name "+name, func(t *testing.T) {
			resp := h.rawDo(t, addr, lines("authorization: dpop "+bound, name+": "+proof())...)
			h.expectAccepted(t, resp, withJKT(bob, h.key), middleware.Accepted)
		})
	}
	t.Run("empty DPoP line", func(t *testing.T) {
		resp := h.rawDo(t, addr, lines("Authorization: DPoP "+bound, "DPoP:")...)
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeInvalidDPoPProof, descProofMissing), bearerPlain},
			code: popguard.CodeInvalidDPoPProof, reason: popguard.ReasonProofMissing, scheme: popguard.DPoP})
	})
	t.Run("Proxy-Authorization only", func(t *testing.T) {
		resp := h.rawDo(t, addr, lines("Proxy-Authorization: DPoP "+bound, "DPoP: "+proof())...)
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{bearerPlain, dpopPlain}, code: popguard.CodeNone,
			reason: popguard.ReasonNoCredentials})
	})
	t.Run("huge Authorization", func(t *testing.T) {
		resp := h.rawDo(t, addr, lines("Authorization: Bearer "+strings.Repeat("A", 17000))...)
		h.expectRejected(t, resp, rejectWant{status: 431, challenges: both(popguard.CodeInvalidRequest, descAuthTooLarge),
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestHeaderTooLarge})
	})
	t.Run("huge DPoP", func(t *testing.T) {
		resp := h.rawDo(t, addr, lines("Authorization: DPoP "+bound, "DPoP: "+strings.Repeat("A", 9000))...)
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeInvalidDPoPProof, descProofTooLarge), bearerPlain},
			code: popguard.CodeInvalidDPoPProof, reason: popguard.ReasonProofTooLarge, scheme: popguard.DPoP})
	})
	t.Run("TAB after the scheme", func(t *testing.T) {
		resp := h.rawDo(t, addr, lines("Authorization: Bearer\t"+unbound)...)
		h.expectRejected(t, resp, rejectWant{status: 400, challenges: both(popguard.CodeInvalidRequest, descMalformedAuth),
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestMalformedAuthorization})
	})
	t.Run("NBSP after the scheme", func(t *testing.T) {
		resp := h.rawDo(t, addr, lines("Authorization: DPoP\u00a0"+bound, "DPoP: "+proof())...)
		h.expectRejected(t, resp, rejectWant{status: 400, challenges: both(popguard.CodeInvalidRequest, descMalformedAuth),
			code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestMalformedAuthorization})
	})
}
