package validate_test

// The client's own claims: msal-browser's client_claims in a signed HTTP
// request, and a DPoP proof's claims beyond RFC 9449's.

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/validate"
)

// msalShrClaims is the shrClaims value of msal-browser's "Custom SHR Claims"
// documentation (lib/msal-browser/docs/shr-client-claims.md), byte for byte.
const msalShrClaims = `{"nonce": "AQAA123456","local_nonce": "AQAA7890"}`

func TestSHRClientClaims(t *testing.T) {
	e := shrEnvOnce()
	k := e.browser
	at := e.token(t, entraCnf(k))
	o := shrOptions{Method: "POST", Host: shrHost, Path: "/api/items", RawQuery: "x=1", Format: shrMSALBrowser,
		ClientClaims: msalShrClaims}
	h, pl, err := k.SHRParts(at, o)
	if err != nil {
		t.Fatal(err)
	}
	// Where msal-common's PopTokenGenerator puts it: after q, a JSON string.
	if got, want := shrMemberNames(t, pl), []string{"at", "ts", "m", "u", "nonce", "p", "q", "client_claims", "cnf"}; !slices.Equal(got, want) {
		t.Fatalf("payload members = %v, want %v", got, want)
	}
	if frag := `"client_claims":"{\"nonce\": \"AQAA123456\",\"local_nonce\": \"AQAA7890\"}"`; !strings.Contains(string(pl), frag) {
		t.Fatalf("payload lacks %s: %s", frag, pl)
	}
	shr, err := k.SignRaw(h, pl)
	if err != nil {
		t.Fatal(err)
	}
	req := validate.SHRRequest{Method: "POST", Scheme: "https", Host: shrHost, Path: "/api/items", RawQuery: "x=1"}
	got, err := e.verifier(t, validate.MSALBrowserCompat()).Verify(context.Background(), shr, req)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"nonce": "AQAA123456", "local_nonce": "AQAA7890"}
	if !reflect.DeepEqual(got.ClientClaims, want) {
		t.Fatalf("ClientClaims = %#v, want %#v", got.ClientClaims, want)
	}
	// The token's claims stay the token's: client_claims never leaks into them.
	for _, name := range []string{"client_claims", "nonce", "local_nonce"} {
		if _, ok := got.Token.Claims[name]; ok {
			t.Fatalf("token claims hold %q: %v", name, got.Token.Claims)
		}
	}

	t.Run("absent: nil", func(t *testing.T) {
		s := mustSHR(t, e.net, e.token(t, entraCnf(e.net)), shrBaseOpts())
		got, err := e.verifier(t).Verify(context.Background(), s, shrBaseReq())
		if err != nil {
			t.Fatal(err)
		}
		if got.ClientClaims != nil {
			t.Fatalf("ClientClaims = %#v, want nil", got.ClientClaims)
		}
	})
	t.Run("nested values and the size limit", func(t *testing.T) {
		pad := strings.Repeat("x", validate.MaxClientClaims-len(`{"deep":{"a":[1,true,null,"é"]},"pad":""}`))
		cc := `{"deep":{"a":[1,true,null,"é"]},"pad":"` + pad + `"}`
		if len(cc) != validate.MaxClientClaims {
			t.Fatalf("test setup: %d bytes", len(cc))
		}
		o := shrBaseOpts()
		o.ClientClaims = cc
		s := mustSHR(t, e.net, e.token(t, entraCnf(e.net)), o)
		got, err := e.verifier(t).Verify(context.Background(), s, shrBaseReq())
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		if err := json.Unmarshal([]byte(cc), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.ClientClaims, want) {
			t.Fatalf("ClientClaims = %#v", got.ClientClaims)
		}
	})
}

// shrClientClaimsRejectCases are run by TestSHRRejected.
func shrClientClaimsRejectCases(e *shrEnv) []shrRejectCase {
	const reason = popguard.ReasonSHRClientClaims
	raw := func(v string) func(t testing.TB, h, p []byte) ([]byte, []byte) {
		return func(t testing.TB, h, p []byte) ([]byte, []byte) { return h, shrSet(t, p, "client_claims", v) }
	}
	str := func(v string) func(t testing.TB, h, p []byte) ([]byte, []byte) {
		b, _ := json.Marshal(v)
		return raw(string(b))
	}
	deep := strings.Repeat(`{"a":`, 17) + `1` + strings.Repeat(`}`, 17)
	return []shrRejectCase{
		{name: "client_claims an object, not a string", tamper: raw(`{"nonce":"AQAA123456"}`), reason: reason},
		{name: "client_claims a number", tamper: raw(`1`), reason: reason},
		{name: "client_claims null", tamper: raw(`null`), reason: reason},
		{name: "client_claims empty string", tamper: str(""), reason: reason},
		{name: "client_claims not JSON", tamper: str("evil=1"), reason: reason},
		{name: "client_claims a JSON array", tamper: str(`["evil"]`), reason: reason},
		{name: "client_claims a JSON string", tamper: str(`"evil"`), reason: reason},
		{name: "client_claims a JSON number", tamper: str(`42`), reason: reason},
		{name: "client_claims duplicate member", tamper: str(`{"role":"user","role":"admin"}`), reason: reason},
		{name: "client_claims nested duplicate member", tamper: str(`{"a":{"role":"user","role":"admin"}}`), reason: reason},
		{name: "client_claims nested too deep", tamper: str(deep), reason: reason},
		{name: "client_claims two objects", tamper: str(`{}{}`), reason: reason},
		{name: "client_claims trailing bytes", tamper: str(`{"a":1} evil`), reason: reason},
		{name: "client_claims unterminated", tamper: str(`{"a":"evil`), reason: reason},
		{name: "client_claims single quotes", tamper: str(`{'a':1}`), reason: reason},
		{name: "client_claims too large", tamper: str(`{"pad":"` + strings.Repeat("x", validate.MaxClientClaims) + `"}`), reason: reason},
		{name: "client_claims too many members", tamper: str(manyMembers(65)), reason: reason},
		// Parsed after the signature: a forged SHR is a signature failure.
		{name: "client_claims invalid and signature forged", key: e.other, tamper: func(t testing.TB, h, p []byte) ([]byte, []byte) {
			j, _ := json.Marshal(map[string]any{"jwk": e.net.PublicJWK(nil)})
			return shrSet(t, h, "kid", ""), shrSet(t, shrSet(t, p, "cnf", string(j)), "client_claims", `"not json"`)
		}, reason: popguard.ReasonSHRSignature},
	}
}

// manyMembers is a JSON object with n members.
func manyMembers(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"m`)
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(`":1`)
	}
	b.WriteByte('}')
	return b.String()
}

func TestProofClientClaims(t *testing.T) {
	k := dpopES256()
	t.Run("extra claims", func(t *testing.T) {
		p := dpopBase(k)
		p.claims["purpose"] = "transfer"
		p.claims["device"] = map[string]any{"id": "d-42", "attested": true}
		got, err := dpopVerifierAt(t, dpopNow).Verify(p.sign(t), dpopRequest())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"purpose": "transfer", "device": map[string]any{"id": "d-42", "attested": true}}
		if !reflect.DeepEqual(got.ClientClaims, want) {
			t.Fatalf("ClientClaims = %#v, want %#v", got.ClientClaims, want)
		}
	})
	t.Run("only RFC 9449 claims: nil", func(t *testing.T) {
		p := dpopBase(k)
		p.claims["nonce"] = "n-1"
		got, err := dpopVerifierAt(t, dpopNow).Verify(p.sign(t), dpopRequest())
		if err != nil {
			t.Fatal(err)
		}
		if got.ClientClaims != nil {
			t.Fatalf("ClientClaims = %#v, want nil", got.ClientClaims)
		}
	})
	dpopRun(t, []dpopCase{
		// Extra claims are held to the proof's strict JSON rules.
		{name: "extra_claim_duplicate", reason: popguard.ReasonProofMalformed, proof: dpopRaw(dpopStdHeader, `{CLAIMS,"role":"user","role":"admin"}`)},
		{name: "extra_claim_nested_duplicate", reason: popguard.ReasonProofMalformed, proof: dpopRaw(dpopStdHeader, `{CLAIMS,"x":{"role":"user","role":"admin"}}`)},
	})
}
