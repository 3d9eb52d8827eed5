package sign

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPrivateJWKRoundTrip(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"} {
		k := MustKey(alg)
		m, err := k.PrivateJWK("k1")
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		raw, _ := json.Marshal(m)
		got, kid, err := ParsePrivateJWK(raw)
		if err != nil || kid != "k1" || got.Alg != alg || got.Thumbprint() != k.Thumbprint() {
			t.Errorf("%s: %v, kid %q, alg %q", alg, err, kid, got.Alg)
		}
		// Without kid, the kid is the thumbprint; inside a one-key set too.
		delete(m, "kid")
		set, _ := json.Marshal(map[string]any{"keys": []any{m}})
		if _, kid, err := ParsePrivateJWK(set); err != nil || kid != k.Thumbprint() {
			t.Errorf("%s in a set: %v, kid %q", alg, err, kid)
		}
	}
}

func TestParsePrivateJWKRefusals(t *testing.T) {
	k := MustKey("ES256")
	priv, _ := k.PrivateJWK("k")
	other, _ := MustKey("ES256").PrivateJWK("o")
	mismatched := map[string]any{}
	for n, v := range priv {
		mismatched[n] = v
	}
	mismatched["x"] = other["x"]
	// Both coordinates of another key: a valid point, but not d·G.
	otherPoint := map[string]any{}
	for n, v := range priv {
		otherPoint[n] = v
	}
	otherPoint["x"], otherPoint["y"] = other["x"], other["y"]
	rsaPriv, _ := MustKey("RS256").PrivateJWK("r")
	badRSA, rsaNoPQ := map[string]any{}, map[string]any{}
	for n, v := range rsaPriv {
		badRSA[n], rsaNoPQ[n] = v, v
	}
	badRSA["d"] = rsaPriv["p"] // n, e, p, q consistent, d wrong
	delete(rsaNoPQ, "p")
	delete(rsaNoPQ, "q")
	edPriv, _ := MustKey("EdDSA").PrivateJWK("e")
	edOther, _ := MustKey("EdDSA").PrivateJWK("f")
	edPriv["x"] = edOther["x"]
	for name, tc := range map[string]struct {
		jwk  any
		want string
	}{
		"public":      {k.PublicJWK(nil), "a public JWK"},
		"oct":         {map[string]any{"kty": "oct", "k": "AAAA"}, "symmetric"},
		"no kty":      {map[string]any{"d": "AAAA"}, "invalid JWK"},
		"mismatched":  {mismatched, "invalid JWK"}, // x of another key: not on the curve
		"other point": {otherPoint, `"x" and "y" do not match the private key`},
		"no x, y":     {map[string]any{"kty": "EC", "crv": "P-256", "d": priv["d"]}, "invalid JWK"},
		"two keys":    {map[string]any{"keys": []any{priv, other}}, "2 keys"},
		"bad alg":     {map[string]any{"kty": "EC", "crv": "P-256", "x": priv["x"], "y": priv["y"], "d": priv["d"], "alg": "RS256"}, "does not fit"},
		"bad RSA":     {badRSA, "invalid RSA private key"},
		"RSA no p, q": {rsaNoPQ, `missing "q"`},
		"Ed25519 x":   {edPriv, "invalid"},
		"X25519":      {map[string]any{"kty": "OKP", "crv": "X25519", "x": priv["x"], "d": priv["d"]}, "unsupported OKP key"},
	} {
		raw, _ := json.Marshal(tc.jwk)
		if _, _, err := ParsePrivateJWK(raw); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
