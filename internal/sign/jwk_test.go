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
	for name, tc := range map[string]struct {
		jwk  any
		want string
	}{
		"public":     {k.PublicJWK(nil), "a public JWK"},
		"oct":        {map[string]any{"kty": "oct", "k": "AAAA"}, "symmetric"},
		"no kty":     {map[string]any{"d": "AAAA"}, "no kty"},
		"mismatched": {mismatched, `"x" does not match`},
		"two keys":   {map[string]any{"keys": []any{priv, other}}, "2 keys"},
		"bad alg":    {map[string]any{"kty": "EC", "crv": "P-256", "d": priv["d"], "alg": "RS256"}, "does not fit"},
	} {
		raw, _ := json.Marshal(tc.jwk)
		if _, _, err := ParsePrivateJWK(raw); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
