package validate_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// Tests for IssuerSet: a token is routed by its iss to one issuer's
// verifier and checked with that issuer's keys only.

// isKeys is a KeySet that counts its calls and can drop keys.
type isKeys struct {
	mu    sync.Mutex
	byKID map[string][]validate.PublicKey
	calls atomic.Int64
}

func newISKeys(t *testing.T, keys ...validate.PublicKey) *isKeys {
	t.Helper()
	s := &isKeys{byKID: map[string][]validate.PublicKey{}}
	for _, k := range keys {
		s.byKID[k.KeyID] = append(s.byKID[k.KeyID], k)
	}
	return s
}

func (s *isKeys) Keys(_ context.Context, kid string) ([]validate.PublicKey, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if kid == "" {
		var all []validate.PublicKey
		for _, ks := range s.byKID {
			all = append(all, ks...)
		}
		return all, nil
	}
	return slices.Clone(s.byKID[kid]), nil
}

// Has lets a TokenCache drop tokens whose key left the set.
func (s *isKeys) Has(kid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKID[kid]) > 0
}

func (s *isKeys) drop(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byKID, kid)
}

// isEnv is three issuers, each with its own key set: Keycloak and Okta
// realms whose keys share the kid "k1" (kids are only unique within one
// JWKS), and Entra ID's multi-tenant issuer.
type isEnv struct {
	kc, okta, entra      *isKeys
	kcKey, oktaKey       *jwsKey
	entraKey             *jwsKey
	kcV, oktaV, entraV   *validate.JWTVerifier
	set                  *validate.IssuerSet
	kcTok, oktaTok       string
	entraV1Tok, entraTok string
}

func newISEnv(t *testing.T) *isEnv {
	t.Helper()
	e := &isEnv{kcKey: jtRSAKey(), oktaKey: prRSAKey2(), entraKey: newJWSKey("ES256")}
	e.kc = newISKeys(t, validate.PublicKey{KeyID: "k1", Key: e.kcKey.Signer.Public()})
	e.okta = newISKeys(t, validate.PublicKey{KeyID: "k1", Key: e.oktaKey.Signer.Public()},
		validate.PublicKey{KeyID: "okta-only", Key: e.oktaKey.Signer.Public()})
	e.entra = newISKeys(t, validate.PublicKey{KeyID: "e1", Key: e.entraKey.Signer.Public(), Issuer: entraV2Template})
	clock := validate.Clock(func() time.Time { return prNow })
	mk := func(iss string, keys validate.KeySet, opts ...validate.Option) *validate.JWTVerifier {
		v, err := validate.NewJWTVerifier(iss, keys, append(opts, clock)...)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	e.kcV = mk(kcIssuer, e.kc, validate.UseProfile(validate.Keycloak()), validate.Audience("myapi"))
	e.oktaV = mk(oktaIssuer, e.okta, validate.UseProfile(validate.Okta()), validate.Audience("api://default"))
	// Entra's clock: its tokens are minted at entraNow, which is prNow.
	e.entraV = mk(entraV2Template, e.entra, validate.UseProfile(validate.Entra()), validate.Audience(entraAppID, entraAPI), validate.Tenants(entraT1, entraT2))
	set, err := validate.NewIssuerSet(e.kcV, e.oktaV, e.entraV)
	if err != nil {
		t.Fatal(err)
	}
	e.set = set
	e.kcTok = jtSign(t, e.kcKey, map[string]any{"typ": "JWT", "kid": "k1"}, kcClaims(nil))
	e.oktaTok = jtSign(t, e.oktaKey, map[string]any{"kid": "k1"}, oktaClaims(nil))
	e.entraTok = e.entraSign(t, entraV2(entraT1, nil))
	e.entraV1Tok = e.entraSign(t, entraV1(entraT2, nil))
	return e
}

func (e *isEnv) entraSign(t *testing.T, claims map[string]any) string {
	t.Helper()
	return jtSign(t, e.entraKey, map[string]any{"typ": "JWT", "kid": "e1"}, claims)
}

func (e *isEnv) calls() [3]int64 {
	return [3]int64{e.kc.calls.Load(), e.okta.calls.Load(), e.entra.calls.Load()}
}

func isVerify(t *testing.T, v validate.TokenVerifier, token string) (*validate.Token, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := v.VerifyToken(ctx, token)
	if (err == nil) == (tok == nil) {
		t.Fatalf("VerifyToken returned token %v and error %v", tok, err)
	}
	return tok, err
}

func TestIssuerSetRoutesByIssuer(t *testing.T) {
	e := newISEnv(t)
	if got := e.set.Issuers(); !slices.Equal(got, []string{kcIssuer, oktaIssuer, entraV2Template}) {
		t.Errorf("Issuers() = %q", got)
	}
	for _, c := range []struct {
		name, token, iss, client string
		keys                     *isKeys
	}{
		{"keycloak", e.kcTok, kcIssuer, "myclient", e.kc},
		{"okta", e.oktaTok, oktaIssuer, "0oaoesxtxmPf08QHk0h7", e.okta},
		{"entra v2", e.entraTok, entraV2Iss(entraT1), entraClient, e.entra},
		{"entra v1 (by the profile's version issuer)", e.entraV1Tok, entraV1Iss(entraT2), entraClient, e.entra},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.calls()
			tok, err := isVerify(t, e.set, c.token)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Issuer != c.iss || tok.ClientID != c.client {
				t.Errorf("Issuer %q ClientID %q, want %q %q", tok.Issuer, tok.ClientID, c.iss, c.client)
			}
			after := e.calls()
			for i, ks := range []*isKeys{e.kc, e.okta, e.entra} {
				want := before[i]
				if ks == c.keys {
					want++
				}
				if after[i] != want {
					t.Errorf("key set %d: %d calls, want %d (only the token's issuer is asked)", i, after[i]-before[i], want-before[i])
				}
			}
		})
	}
	// The set refuses what its verifier refuses, with the same reason.
	_, err := isVerify(t, e.set, e.entraSign(t, entraV2(entraT1, map[string]any{"tid": entraT2})))
	jtReject(t, err, popguard.ReasonTokenTenant)
	_, err = isVerify(t, e.set, jtSign(t, e.kcKey, map[string]any{"typ": "JWT", "kid": "k1"}, kcClaims(map[string]any{"aud": "api://default"})))
	jtReject(t, err, popguard.ReasonTokenAudience)
}

// A token claiming one issuer, signed with another issuer's key, is never
// accepted, even when the two key sets share a kid.
func TestIssuerSetNoCrossIssuerKeys(t *testing.T) {
	e := newISEnv(t)
	for _, c := range []struct {
		name   string
		token  string
		reason popguard.Reason
	}{
		// Keycloak's iss, Okta's key under the kid both sets hold.
		{"kc iss, okta key, shared kid", jtSign(t, e.oktaKey, map[string]any{"typ": "JWT", "kid": "k1"}, kcClaims(nil)), popguard.ReasonTokenSignature},
		// Keycloak's iss, Okta's key under a kid only Okta has.
		{"kc iss, okta-only kid", jtSign(t, e.oktaKey, map[string]any{"typ": "JWT", "kid": "okta-only"}, kcClaims(nil)), popguard.ReasonTokenUnknownKey},
		{"kc iss, okta key, no kid", jtSign(t, e.oktaKey, map[string]any{"typ": "JWT"}, kcClaims(nil)), popguard.ReasonTokenSignature},
		{"okta iss, kc key, shared kid", jtSign(t, e.kcKey, map[string]any{"kid": "k1"}, oktaClaims(nil)), popguard.ReasonTokenSignature},
		{"okta iss, entra key and kid", jtSign(t, e.entraKey, map[string]any{"kid": "e1"}, oktaClaims(nil)), popguard.ReasonTokenUnknownKey},
		{"entra iss, kc key and kid", jtSign(t, e.kcKey, map[string]any{"typ": "JWT", "kid": "k1"}, entraV2(entraT1, nil)), popguard.ReasonTokenUnknownKey},
		{"entra iss, okta key, entra kid", jtSign(t, e.oktaKey, map[string]any{"typ": "JWT", "kid": "e1"}, entraV2(entraT1, nil)), popguard.ReasonTokenUnknownKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := isVerify(t, e.set, c.token)
			jtReject(t, err, c.reason)
		})
	}
}

// A token whose iss no verifier trusts is refused before any key set is
// asked.
func TestIssuerSetUnknownIssuer(t *testing.T) {
	e := newISEnv(t)
	for _, c := range []struct {
		name   string
		claims map[string]any
		reason popguard.Reason
	}{
		{"another issuer", kcClaims(map[string]any{"iss": "https://evil.example.com"}), popguard.ReasonTokenIssuer},
		{"prefix of an issuer", kcClaims(map[string]any{"iss": strings.TrimSuffix(kcIssuer, "myrealm")}), popguard.ReasonTokenIssuer},
		{"issuer plus slash", kcClaims(map[string]any{"iss": kcIssuer + "/"}), popguard.ReasonTokenIssuer},
		{"issuer upper case", kcClaims(map[string]any{"iss": strings.ToUpper(kcIssuer)}), popguard.ReasonTokenIssuer},
		// An issuer of a trusted shape with a tenant no verifier lists:
		// refused as a single verifier refuses it, before any key fetch.
		{"entra tenant not listed", entraV2(entraT3, nil), popguard.ReasonTokenTenant},
		{"entra v1 tenant not listed", entraV1(entraT3, nil), popguard.ReasonTokenTenant},
		{"entra template itself", entraV2(entraT1, map[string]any{"iss": entraV2Template}), popguard.ReasonTokenIssuer},
		{"entra tenant with a slash", entraV2(entraT1, map[string]any{"iss": entraV2Iss(entraT1 + "/" + entraT1)}), popguard.ReasonTokenIssuer},
		{"entra tenant ..", entraV2(entraT1, map[string]any{"iss": entraV2Iss("..")}), popguard.ReasonTokenIssuer},
		{"entra tenant empty", entraV2(entraT1, map[string]any{"iss": entraV2Iss("")}), popguard.ReasonTokenIssuer},
		{"entra tenant 65 chars", entraV2(entraT1, map[string]any{"iss": entraV2Iss(strings.Repeat("a", 65))}), popguard.ReasonTokenIssuer},
		{"entra another cloud", entraV2(entraT1, map[string]any{"iss": "https://login.microsoftonline.us/" + entraT1 + "/v2.0"}), popguard.ReasonTokenIssuer},
		{"no iss", kcClaims(map[string]any{"iss": nil}), popguard.ReasonTokenClaims},
		{"iss a number", kcClaims(map[string]any{"iss": 1}), popguard.ReasonTokenClaims},
		{"iss an array", kcClaims(map[string]any{"iss": []string{kcIssuer}}), popguard.ReasonTokenClaims},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.calls()
			_, err := isVerify(t, e.set, jtSign(t, e.kcKey, map[string]any{"typ": "JWT", "kid": "k1"}, c.claims))
			jtReject(t, err, c.reason)
			if after := e.calls(); after != before {
				t.Errorf("key set calls %v -> %v: a key set was asked", before, after)
			}
		})
	}
	// Duplicate iss members are not a way to route by one and verify by
	// the other.
	t.Run("duplicate iss", func(t *testing.T) {
		before := e.calls()
		payload := `{"iss":"` + oktaIssuer + `","iss":"` + kcIssuer + `","sub":"a","aud":"myapi","azp":"c","jti":"j","iat":1,"exp":9999999999}`
		tok := jtSignRaw(t, e.kcKey, `{"alg":"RS256","typ":"JWT","kid":"k1"}`, payload)
		_, err := isVerify(t, e.set, tok)
		jtReject(t, err, popguard.ReasonTokenMalformed)
		if after := e.calls(); after != before {
			t.Errorf("key set calls %v -> %v", before, after)
		}
	})
	for name, tok := range map[string]string{
		"not a JWT": "not-a-jwt", "empty": "", "two parts": "a.b",
		"too large": jtSign(t, e.kcKey, map[string]any{"typ": "JWT", "kid": "k1"}, kcClaims(map[string]any{"pad": strings.Repeat("x", maxTokenSize)})),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := isVerify(t, e.set, tok)
			jtReject(t, err, popguard.ReasonTokenMalformed)
		})
	}
}

func TestIssuerSetConstruction(t *testing.T) {
	e := newISEnv(t)
	if _, err := validate.NewIssuerSet(); err == nil {
		t.Error("an empty set was accepted")
	}
	if _, err := validate.NewIssuerSet(e.kcV, nil); err == nil {
		t.Error("a nil verifier was accepted")
	}
	if _, err := validate.NewIssuerSet(e.kcV, e.oktaV, e.kcV); err == nil {
		t.Error("the same verifier twice was accepted")
	}
	other, err := validate.NewJWTVerifier(kcIssuer, e.okta, validate.Audience("other"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validate.NewIssuerSet(e.kcV, other); err == nil {
		t.Error("two verifiers for one issuer were accepted")
	}
	anyT, err := validate.NewJWTVerifier(entraV2Template, e.entra, validate.UseProfile(validate.Entra()), validate.Audience("x"), validate.AnyTenant())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validate.NewIssuerSet(e.entraV, anyT); err == nil {
		t.Error("two verifiers for one issuer template were accepted")
	}
}

// An exact issuer wins over a template that matches the same iss, in
// whichever order they are given.
func TestIssuerSetExactWinsOverTemplate(t *testing.T) {
	e := newISEnv(t)
	exact, err := validate.NewJWTVerifier(entraV2Iss(entraT1), e.entra, validate.UseProfile(validate.Entra()),
		validate.Audience("api://exact"), validate.Clock(func() time.Time { return prNow }))
	if err != nil {
		t.Fatal(err)
	}
	for name, vs := range map[string][]*validate.JWTVerifier{
		"template first": {e.entraV, exact},
		"exact first":    {exact, e.entraV},
	} {
		t.Run(name, func(t *testing.T) {
			set, err := validate.NewIssuerSet(vs...)
			if err != nil {
				t.Fatal(err)
			}
			// T1's v2 tokens go to the exact verifier, with its audience.
			if _, err := isVerify(t, set, e.entraSign(t, entraV2(entraT1, map[string]any{"aud": "api://exact"}))); err != nil {
				t.Errorf("exact audience: %v", err)
			}
			_, err = isVerify(t, set, e.entraSign(t, entraV2(entraT1, nil)))
			jtReject(t, err, popguard.ReasonTokenAudience)
			// T2's go to the template.
			if _, err := isVerify(t, set, e.entraSign(t, entraV2(entraT2, nil))); err != nil {
				t.Errorf("template: %v", err)
			}
			_, err = isVerify(t, set, e.entraSign(t, entraV2(entraT2, map[string]any{"aud": "api://exact"})))
			jtReject(t, err, popguard.ReasonTokenAudience)
		})
	}
	// A single-tenant verifier also takes its tenant's v1 tokens (by the
	// profile's version issuer), and no other tenant's.
	set, err := validate.NewIssuerSet(exact)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := isVerify(t, set, e.entraSign(t, entraV1(entraT1, map[string]any{"aud": "api://exact"}))); err != nil {
		t.Errorf("v1 of the single tenant: %v", err)
	}
	for _, tid := range []string{entraT2, "v2.0", "login.microsoftonline.com"} {
		_, err = isVerify(t, set, e.entraSign(t, entraV1(tid, map[string]any{"aud": "api://exact"})))
		jtReject(t, err, popguard.ReasonTokenTenant)
	}
}

// A TokenCache over an IssuerSet drops a token when its signing key leaves
// its own issuer's key set, and only then: the same kid in another
// issuer's set does not keep it, and dropping it there does not drop it.
func TestIssuerSetTokenCacheDropsKey(t *testing.T) {
	e := newISEnv(t)
	cache, err := validate.NewTokenCache(e.set, validate.Clock(func() time.Time { return prNow }))
	if err != nil {
		t.Fatal(err)
	}
	tokens := []string{e.kcTok, e.oktaTok, e.entraTok, e.entraV1Tok}
	for _, tok := range tokens {
		if _, err := isVerify(t, cache, tok); err != nil {
			t.Fatal(err)
		}
	}
	if cache.Len() != len(tokens) {
		t.Fatalf("Len() = %d, want %d", cache.Len(), len(tokens))
	}
	cached := func(tok string, keys *isKeys) bool {
		t.Helper()
		before := keys.calls.Load()
		_, err := isVerify(t, cache, tok)
		return err == nil && keys.calls.Load() == before
	}
	for i, tok := range tokens {
		if !cached(tok, []*isKeys{e.kc, e.okta, e.entra, e.entra}[i]) {
			t.Fatalf("token %d was verified again", i)
		}
	}

	// k1 leaves Okta's set; Keycloak's set still has a k1.
	e.okta.drop("k1")
	_, err = isVerify(t, cache, e.oktaTok)
	jtReject(t, err, popguard.ReasonTokenUnknownKey)
	if !cached(e.kcTok, e.kc) {
		t.Error("Keycloak's token was dropped when Okta's k1 left")
	}
	// Entra's key leaves: both the v2 and the v1 token (routed by the
	// profile's version issuer) go.
	e.entra.drop("e1")
	_, err = isVerify(t, cache, e.entraTok)
	jtReject(t, err, popguard.ReasonTokenUnknownKey)
	_, err = isVerify(t, cache, e.entraV1Tok)
	jtReject(t, err, popguard.ReasonTokenUnknownKey)
	if !cached(e.kcTok, e.kc) {
		t.Error("Keycloak's token was dropped")
	}
	e.kc.drop("k1")
	_, err = isVerify(t, cache, e.kcTok)
	jtReject(t, err, popguard.ReasonTokenUnknownKey)
	if cache.Len() != 0 {
		t.Errorf("Len() = %d after every key left", cache.Len())
	}
}

// The set parses a token once when every verifier has the same limits, and
// lets each verifier parse again within its own limits otherwise: a
// verifier's MaxSize and MaxClaims hold inside a set whose other verifiers
// allow more.
func TestIssuerSetKeepsEachVerifiersLimits(t *testing.T) {
	small, big := poptest.NewStaticIssuer("https://small.example.test"), poptest.NewStaticIssuer("https://big.example.test")
	mk := func(iss *poptest.Issuer, opts ...validate.Option) *validate.JWTVerifier {
		v, err := validate.NewJWTVerifier(iss.URL, iss.KeySet(), append([]validate.Option{validate.Audience(poptest.DefaultAudience)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	set, err := validate.NewIssuerSet(mk(small, validate.MaxSize(1024), validate.MaxClaims(16)), mk(big))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pad := map[string]any{"pad": strings.Repeat("x", 2000)}
	if _, err := set.VerifyToken(ctx, big.Token(poptest.TokenOptions{Claims: pad})); err != nil {
		t.Errorf("a large token of the permissive issuer: %v", err)
	}
	_, err = set.VerifyToken(ctx, small.Token(poptest.TokenOptions{Claims: pad}))
	jtReject(t, err, popguard.ReasonTokenMalformed)
	many := map[string]any{}
	for i := range 12 { // with the 7 registered claims, more than 16 members
		many[fmt.Sprintf("c%d", i)] = i
	}
	_, err = set.VerifyToken(ctx, small.Token(poptest.TokenOptions{Claims: many}))
	jtReject(t, err, popguard.ReasonTokenMalformed)
	if _, err := set.VerifyToken(ctx, small.Token(poptest.TokenOptions{})); err != nil {
		t.Errorf("a token within the small limits: %v", err)
	}
}
