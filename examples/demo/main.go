// Command demo shows popguard end to end in one process, on loopback only:
// a token issuer, the protected API of examples/server and a DPoP client.
//
//	go run ./examples/demo
//
// It narrates each step and exits non-zero if any step does not behave as
// narrated.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/examples/internal/api"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

func main() {
	failed, err := run(os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	if failed > 0 {
		fmt.Printf("\n%d step(s) did not behave as narrated.\n", failed)
		os.Exit(1)
	}
	fmt.Println("\nEvery step behaved as narrated.")
}

type step struct {
	out    io.Writer
	client *http.Client
	failed int
	n      int
}

// call sends req and checks the status and, when wantErr is set, the
// error code in the challenge.
func (s *step) call(title string, req *http.Request, wantStatus int, wantErr string) *http.Response {
	s.n++
	fmt.Fprintf(s.out, "\n%d. %s\n   %s %s  Authorization: %s", s.n, title, req.Method, req.URL.Path, scheme(req.Header.Get("Authorization")))
	if req.Header.Get("DPoP") != "" {
		fmt.Fprint(s.out, "  DPoP: <proof>")
	}
	fmt.Fprintln(s.out)
	resp, err := s.client.Do(req)
	if err != nil {
		fmt.Fprintf(s.out, "   FAILED: %v\n", err)
		s.failed++
		return nil
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Fprintf(s.out, "   -> %s\n", resp.Status)
	for _, c := range resp.Header.Values("WWW-Authenticate") {
		fmt.Fprintf(s.out, "      WWW-Authenticate: %s\n", c)
	}
	if n := resp.Header.Get("DPoP-Nonce"); n != "" {
		fmt.Fprintf(s.out, "      DPoP-Nonce: %s\n", n)
	}
	if resp.StatusCode == http.StatusOK {
		fmt.Fprintf(s.out, "      %s", body)
	}
	ok := resp.StatusCode == wantStatus
	if wantErr != "" {
		ok = ok && strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " "), `error="`+wantErr+`"`)
	}
	if !ok {
		fmt.Fprintf(s.out, "   FAILED: expected %d %s\n", wantStatus, wantErr)
		s.failed++
	} else {
		fmt.Fprintln(s.out, "   as expected.")
	}
	return resp
}

func scheme(auth string) string {
	if i := strings.IndexByte(auth, ' '); i > 0 {
		return auth[:i] + " <token>"
	}
	return "(none)"
}

func run(out io.Writer) (int, error) {
	ctx := context.Background()
	// 1. The authorization server: signs tokens, publishes its JWKS.
	// poptest.Issuer plays it on loopback (metadata, JWKS, token endpoint).
	issuer := poptest.NewIssuer()
	defer issuer.Close()

	// 2. The protected API, exactly as examples/server builds it.
	const audience = "https://api.example.test"
	keys, err := validate.NewRemoteKeySet(ctx, issuer.JWKSURL())
	if err != nil {
		return 0, err
	}
	defer keys.Close()
	tokens, err := validate.NewJWTVerifier(issuer.URL, keys, validate.Audience(audience))
	if err != nil {
		return 0, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	nonces, err := nonce.New(secret, nonce.Scope(audience))
	if err != nil {
		return 0, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Two instances of the API share one Guard: the second, as
	// examples/server -nonce runs it, needs a server nonce in proofs. The
	// hosts clients may address come from configuration, never from the
	// request: the listeners first, then the Guard.
	apiSrv, strictSrv := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithNonces(nonces), middleware.WithLogger(quiet),
		middleware.WithPublicHosts(apiSrv.Listener.Addr().String(), strictSrv.Listener.Addr().String()),
		middleware.WithPoP())
	if err != nil {
		return 0, err
	}
	defer guard.Close()
	apiSrv.Config.Handler = api.Routes(guard)
	apiSrv.Start()
	defer apiSrv.Close()
	strictSrv.Config.Handler = api.Routes(guard, middleware.RequireNonce())
	strictSrv.Start()
	defer strictSrv.Close()

	fmt.Fprintln(out, "popguard demo: an issuer, an API and a client, all on loopback.")
	fmt.Fprintf(out, "issuer %s, API %s\n", issuer.URL, apiSrv.URL)

	// 3. The client: a DPoP key and two tokens.
	key := poptest.NewClient()
	bearer := issuer.Token(poptest.TokenOptions{Subject: "alice", ClientID: "legacy-app", Audience: audience, Scope: "accounts:read"})
	bound := issuer.Token(poptest.TokenOptions{Subject: "alice", ClientID: "new-app", Audience: audience, Scope: "accounts:read transfers:write", DPoP: key})
	fmt.Fprintf(out, "client DPoP key thumbprint (cnf.jkt of its token): %s\n", key.Thumbprint())

	s := &step{out: out, client: apiSrv.Client()}
	newReqAt := func(base, method, path, auth, proof string) *http.Request {
		req, _ := http.NewRequest(method, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		return req
	}
	newReq := func(method, path, auth, proof string) *http.Request {
		return newReqAt(apiSrv.URL, method, path, auth, proof)
	}
	proofAt := func(base, method, path, nonce string) string {
		return key.Proof(method, base+path, bound, poptest.ProofOptions{Nonce: nonce})
	}
	mustProof := func(method, path, nonce string) string { return proofAt(apiSrv.URL, method, path, nonce) }

	s.call("A legacy client sends a Bearer token to a mixed route: accepted during the migration.",
		newReq("GET", "/mixed/accounts", "Bearer "+bearer, ""), 200, "")

	proof := mustProof("POST", "/dpop/transfers", "")
	s.call("The new client sends its DPoP-bound token with a fresh proof to a DPoP-only route: accepted.",
		newReq("POST", "/dpop/transfers", "DPoP "+bound, proof), 200, "")

	s.call("An attacker replays that exact request (same proof): rejected as a replay.",
		newReq("POST", "/dpop/transfers", "DPoP "+bound, proof), 401, "invalid_dpop_proof")

	s.call("The legacy Bearer token on the DPoP-only route: rejected, with the DPoP challenge.",
		newReq("POST", "/dpop/transfers", "Bearer "+bearer, ""), 401, "")

	s.call("A thief who stole the DPoP-bound token sends it as a Bearer token: rejected.",
		newReq("GET", "/mixed/accounts", "Bearer "+bound, ""), 401, "invalid_token")

	s.call("The thief forges a proof with their own key: the key does not match cnf.jkt, rejected.",
		newReq("POST", "/dpop/transfers", "DPoP "+bound, thiefProof(apiSrv.URL+"/dpop/transfers", bound)), 401, "invalid_token")

	fmt.Fprintf(out, "\nA second API instance requires server nonces (examples/server -nonce): %s\n", strictSrv.URL)
	resp := s.call("The first proof carries no nonce, so the API answers with one.",
		newReqAt(strictSrv.URL, "POST", "/dpop/transfers", "DPoP "+bound, proofAt(strictSrv.URL, "POST", "/dpop/transfers", "")), 401, "use_dpop_nonce")
	if resp != nil {
		n := resp.Header.Get("DPoP-Nonce")
		s.call("The client retries with that nonce in a new proof: accepted.",
			newReqAt(strictSrv.URL, "POST", "/dpop/transfers", "DPoP "+bound, proofAt(strictSrv.URL, "POST", "/dpop/transfers", n)), 200, "")
	}

	s.call("A proof made for another URL is presented here: rejected (htu).",
		newReq("GET", "/dpop/accounts", "DPoP "+bound, mustProof("GET", "/dpop/other", "")), 401, "invalid_dpop_proof")

	// Microsoft PoP: an MSAL.NET-style signed HTTP request. The token is
	// bound the way Entra ID binds it: cnf.kid = thumbprint of the RSA key.
	rsaKey, err := dpopclient.GenerateKey("PS256")
	if err != nil {
		return 0, err
	}
	msal := poptest.NewClientWithKey(rsaKey)
	popTok := issuer.Token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", Audience: audience, Scope: "accounts:read",
		Claims: map[string]any{"cnf": map[string]any{"kid": msal.Thumbprint(), "xms_ksl": "sw"}}})
	shr := msal.SHR("GET", apiSrv.URL+"/pop/accounts", popTok, poptest.SHROptions{})
	s.call("An MSAL client sends a PoP signed request (Authorization: PoP) to a PoP-only route: accepted.",
		newReq("GET", "/pop/accounts", "PoP "+shr, ""), 200, "")
	s.call("The same signed request replayed: rejected.",
		newReq("GET", "/pop/accounts", "PoP "+shr, ""), 401, "invalid_token")

	// Show the token's claims once, so the binding is visible.
	var claims map[string]any
	parts := strings.Split(bound, ".")
	if b, err := jsonPart(parts[1]); err == nil {
		claims = b
	}
	fmt.Fprintf(out, "\n(the DPoP-bound token carries cnf = %v, expiring %s)\n", claims["cnf"], time.Unix(int64(claims["exp"].(float64)), 0).UTC().Format(time.RFC3339))
	return s.failed, nil
}

func thiefProof(htu, token string) string {
	return poptest.NewClient().Proof("POST", htu, token, poptest.ProofOptions{})
}

func jsonPart(seg string) (map[string]any, error) {
	b, err := decodeSeg(seg)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}
