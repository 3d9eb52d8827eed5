// Package validate checks access tokens, DPoP proofs (RFC 9449) and Microsoft
// PoP signed HTTP requests against a view of an HTTP request: start from
// [NewJWTVerifier] with a [RemoteKeySet] or [StaticKeySet] (or from
// [NewIntrospector] for opaque tokens), and check proofs with
// [ProofVerifier.VerifyRequest] or [SHRVerifier.Verify].
//
// It holds no HTTP server code: package middleware builds the request view,
// calls these verifiers and turns their errors into challenges. Most programs
// only build a token verifier here and hand it to middleware.WithTokens:
//
//	keys, err := validate.NewRemoteKeySet(ctx, "https://login.example.com/.well-known/jwks.json")
//	if err != nil { log.Fatal(err) }
//	defer keys.Close()
//	tokens, err := validate.NewJWTVerifier("https://login.example.com", keys,
//		validate.Audience("https://api.example.com"))
//	if err != nil { log.Fatal(err) }
//	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example.com"))
//
// The rest is for tuning, and for servers that do not use package middleware:
// [NewTokenCache] sizes the cache of verified tokens that the middleware
// otherwise adds itself, a [ProofVerifier] built with non-default [Option]
// values goes to middleware.WithProofVerifier, and [SHRVerifier] options go to
// middleware.WithPoP.
//
// A proof's age is judged by its iat (an SHR's ts) against the server's
// clock, or, with ProofRequest.Freshness or SHRRequest.Freshness set to
// [FreshnessNonce], by the server nonce it carries, for clients whose clocks
// cannot be trusted ([FreshnessBoth] requires both). What the client signs
// beyond the protocol's own claims comes back in Proof.ClientClaims and
// SHR.ClientClaims (msal-browser's client_claims), never mixed with the
// access token's claims.
//
// Every error returned is a *popguard.Error carrying the RFC error code, a
// stable reason and a description that is safe to send to a client.
//
// Checks run cheapest first: sizes and syntax, then header and claim checks,
// then the signature, so that garbage costs little.
//
// Issuer key sets (NewStaticKeySet, NewRemoteKeySet) are parsed, fetched and
// refreshed by github.com/lestrrat-go/jwx/v3. What clients send (access
// tokens, DPoP proofs, signed HTTP requests and the public keys inside them)
// is parsed by popguard's own strict JOSE code: duplicate JSON members are
// refused at any depth, base64url must be exact (unpadded, URL alphabet,
// nothing skipped), and a key with private members is refused before it is
// imported. Signatures are verified with the standard library.
package validate

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
)

// algSet builds an allow-list of asymmetric signature algorithms for the
// option called name. "none", HMAC and unknown names are refused.
func algSet(name string, algs []string) (map[string]*jose.Alg, error) {
	if len(algs) == 0 {
		return nil, fmt.Errorf("validate: %s needs at least one algorithm", name)
	}
	set := make(map[string]*jose.Alg, len(algs)+1)
	for _, a := range algs {
		alg, ok := jose.LookupAlg(a)
		if !ok {
			return nil, fmt.Errorf("validate: %s: %q is not a supported asymmetric algorithm", name, a)
		}
		set[a] = alg
	}
	return set, nil
}

func fail(code popguard.ErrorCode, reason popguard.Reason, desc string, cause error) error {
	return popguard.NewError(code, reason, desc, cause)
}

func proofErr(reason popguard.Reason, desc string, cause error) error {
	return fail(popguard.CodeInvalidDPoPProof, reason, desc, cause)
}

func tokenErr(reason popguard.Reason, desc string, cause error) error {
	return fail(popguard.CodeInvalidToken, reason, desc, cause)
}

// errMismatch is the cause of a rejected htu, u or p: what the client signed
// and what the server computed, for the server's log (a proxy or public-URL
// misconfiguration shows in one line). It is never sent to the client: only
// the error's fixed description is.
type errMismatch struct{ claim, signed, computed string }

func (e *errMismatch) Error() string {
	return "the client signed " + e.claim + " " + logQuote(e.signed) + ", the server computed " + logQuote(e.computed)
}

// withMismatch attaches an errMismatch to a rejection that has no cause.
func withMismatch(err error, claim, signed, computed string) error {
	var pe *popguard.Error
	if !errors.As(err, &pe) || pe.Err != nil {
		return err
	}
	return popguard.NewError(pe.Code, pe.Reason, pe.Description, &errMismatch{claim, signed, computed})
}

// logQuote quotes s for a log line, escaping control and non-ASCII bytes,
// and cuts it at 256 bytes.
func logQuote(s string) string {
	if len(s) > 256 {
		return strconv.QuoteToASCII(s[:256]) + "..."
	}
	return strconv.QuoteToASCII(s)
}
