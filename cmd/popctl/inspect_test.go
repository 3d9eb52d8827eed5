package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	fig13Token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	fig13URL   = "https://resource.example.org/protectedresource"
	fig13IAT   = "1562262618"
	// RFC 9449 Figure 13 (payload Figure 14), RFC 8792 wrapping removed.
	fig13Proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)

// inspectJSON runs inspect --json and decodes the report.
func inspectJSON(t *testing.T, stdin string, args ...string) (*report, int) {
	t.Helper()
	out, errOut, code := popctl(t, stdin, append([]string{"inspect", "--json"}, args...)...)
	if code == exitUsage {
		t.Fatalf("inspect %q: usage error: %s", args, errOut)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("inspect --json output is not JSON: %v\n%s", err, out)
	}
	return &r, code
}

func checkOf(r *report, name string) *check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

func TestInspectRFC9449Figure13(t *testing.T) {
	proof := fig13Proof
	if b, err := os.ReadFile("../../testdata/rfc9449/figure13-resource-proof.jwt"); err == nil {
		if strings.TrimSpace(string(b)) != fig13Proof {
			t.Fatal("testdata/rfc9449/figure13-resource-proof.jwt differs from the inline copy")
		}
	}
	args := []string{"inspect", "-method", "GET", "-url", fig13URL, "-token", fig13Token, "-at", fig13IAT, proof}
	out, errOut, code := popctl(t, "", args...)
	if code != exitOK || strings.Contains(out, "✘") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"DPoP proof", `"htu": "https://resource.example.org/protectedresource"`,
		"✔ typ", "✔ signature", "✔ verifier", "thumbprint 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo = SHA-256 of the token", "2019-07-04T17:50:18Z, now",
		// What only the server can check is said, never passed as OK.
		"– replay", "– nonce", "– token", "not checked offline", "OK offline: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The same from stdin, as JSON, with an "Authorization"-style prefix.
	r, code := inspectJSON(t, "DPoP: "+proof+"\n", "-method", "GET", "-url", fig13URL, "-token", fig13Token, "-at", fig13IAT, "-")
	if code != exitOK || !r.OK || r.Kind != kindProof {
		t.Fatalf("JSON: exit %d %+v", code, r)
	}
	for _, name := range []string{"structure", "typ", "alg", "jwk", "claims", "jti", "htm", "target", "htu", "iat", "ath", "key", "alg-key", "signature", "verifier"} {
		if c := checkOf(r, name); c == nil || !c.OK || c.Skipped {
			t.Errorf("check %s: %+v", name, c)
		}
	}
	for _, name := range []string{"nonce", "replay", "token", "binding"} {
		if c := checkOf(r, name); c == nil || !c.Skipped || !c.Offline {
			t.Errorf("check %s: %+v, want not checked offline", name, c)
		}
	}
	// 61 seconds later the proof is too old.
	r, code = inspectJSON(t, "", "-method", "GET", "-url", fig13URL, "-token", fig13Token, "-at", "1562262679", proof)
	if c := checkOf(r, "iat"); code != exitFail || c == nil || c.OK || c.Reason != "proof_iat" || !strings.Contains(c.Detail, "1m1s ago") || r.Reason != "proof_iat" {
		t.Errorf("stale: exit %d, iat %+v", code, c)
	}
	// Another token: ath fails.
	r, code = inspectJSON(t, "", "-method", "GET", "-url", fig13URL, "-token", "other", "-at", fig13IAT, proof)
	if c := checkOf(r, "ath"); code != exitFail || c == nil || c.OK || c.Reason != "proof_ath" {
		t.Errorf("ath: exit %d, %+v", code, c)
	}
}

// newProof makes a key and a proof for GET https://api.test/things/1?x=1
// issued at iat.
func newProof(t *testing.T, alg string, iat int64, extra ...string) (key, proof string) {
	t.Helper()
	key = keygen(t, t.TempDir(), "client.json", alg)
	args := append([]string{"proof", "-key", key, "-method", "GET", "-url", "https://api.test/things/1?x=1", "-iat", strconv.FormatInt(iat, 10)}, extra...)
	return key, strings.TrimSpace(mustRun(t, args...))
}

func TestProofInspect(t *testing.T) {
	const iat = 1700000000
	_, proof := newProof(t, "ES256", iat, "-token", "tok")
	base := []string{"-url", "https://API.test:443/things/1", "-token", "tok"}
	at := func(d int) string { return strconv.Itoa(iat + d) }

	// Right method, URL (another spelling of it) and time: every check passes.
	out, errOut, code := popctl(t, "", append(append([]string{"inspect", "-method", "GET"}, base...), "-at", at(12), proof)...)
	if code != exitOK || strings.Contains(out, "✘") || !strings.Contains(out, "12s ago") {
		t.Fatalf("good proof: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "✔ target     https://api.test/things/1\n") || !strings.Contains(out, "✔ htu        https://api.test/things/1\n") {
		t.Errorf("target and htu lines (canonical forms):\n%s", out)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		check  string
		reason string
		detail string
	}{
		{"wrong method", []string{"-method", "POST", "-url", "https://api.test/things/1", "-at", at(1)}, "htm", "proof_htm", `"GET", request method "POST"`},
		{"method case", []string{"-method", "get", "-url", "https://api.test/things/1", "-at", at(1)}, "htm", "proof_htm", `request method "get"`},
		{"wrong url", []string{"-method", "GET", "-url", "https://api.test/things/2", "-at", at(1)}, "htu", "proof_htu", "canonical htu https://api.test/things/1, canonical request URI https://api.test/things/2"},
		{"dot-segment", []string{"-method", "GET", "-url", "https://api.test/things/%2e%2e/1", "-at", at(1)}, "target", "request_dot_segment", "The request path must not contain dot-segments"},
		{"wrong port", []string{"-method", "GET", "-url", "https://api.test:8443/things/1", "-at", at(1)}, "htu", "proof_htu", "https://api.test:8443/things/1"},
		{"stale", []string{"-method", "GET", "-url", "https://api.test/things/1", "-at", at(61)}, "iat", "proof_iat", "1m1s ago"},
		{"future", []string{"-method", "GET", "-url", "https://api.test/things/1", "-at", at(-40)}, "iat", "proof_iat", "in 40s"},
		{"other token", []string{"-method", "GET", "-url", "https://api.test/things/1", "-token", "other", "-at", at(1)}, "ath", "proof_ath", "SHA-256 of the token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-token", "tok"}, tc.args...)
			out, _, code := popctl(t, "", append(append([]string{"inspect"}, args...), proof)...)
			if code != exitFail {
				t.Fatalf("exit %d, want 1\n%s", code, out)
			}
			if !strings.Contains(out, "✘ "+tc.check) || !strings.Contains(out, tc.detail) || !strings.Contains(out, "["+tc.reason+"]") {
				t.Errorf("want ✘ %s with %q and [%s]:\n%s", tc.check, tc.detail, tc.reason, out)
			}
			if !strings.Contains(out, "FAIL:") || !strings.Contains(out, "✘ verifier") {
				t.Errorf("no FAIL summary or verifier line:\n%s", out)
			}
			r, _ := inspectJSON(t, "", append(args, proof)...)
			if c := checkOf(r, tc.check); r.OK || c == nil || c.OK || c.Reason != tc.reason {
				t.Errorf("JSON: ok %v, %s = %+v", r.OK, tc.check, c)
			}
		})
	}
}

func TestInspectProofWithoutRequest(t *testing.T) {
	_, proof := newProof(t, "EdDSA", 1700000000)
	// Nothing to compare with: decoded, the comparisons not checked, yet OK.
	r, code := inspectJSON(t, "", "-at", "1700000001", proof)
	if code != exitOK || !r.OK {
		t.Fatalf("exit %d %+v", code, r)
	}
	for _, name := range []string{"htm", "htu", "ath"} {
		if c := checkOf(r, name); c == nil || !c.Skipped {
			t.Errorf("%s: %+v, want skipped", name, c)
		}
	}
	var payload map[string]any
	if err := json.Unmarshal(r.Payload, &payload); err != nil || payload["htm"] != "GET" {
		t.Errorf("payload: %s", r.Payload)
	}
	var header map[string]any
	if err := json.Unmarshal(r.Header, &header); err != nil || header["typ"] != "dpop+jwt" || header["alg"] != "EdDSA" {
		t.Errorf("header: %s", r.Header)
	}
}

func TestInspectBrokenProofs(t *testing.T) {
	key, _ := newProof(t, "ES256", 1700000000)
	k, _ := loadKey(key)
	var priv map[string]any // the private JWK keygen wrote
	if raw, err := os.ReadFile(key); err != nil || json.Unmarshal(raw, &priv) != nil || priv["d"] == nil {
		t.Fatalf("private JWK %s: %v", key, err)
	}
	sign := func(header, claims map[string]any) string {
		s, err := k.JWS(header, claims)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := map[string]any{"jti": "j1", "htm": "GET", "htu": "https://api.test/x", "iat": 1700000000}
	for _, tc := range []struct {
		name, proof, check, want string
	}{
		{"private jwk", sign(map[string]any{"typ": "dpop+jwt", "jwk": priv}, claims), "key", "private key material"},
		{"typ JWT", sign(map[string]any{"typ": "JWT", "jwk": k.PublicJWK(nil)}, claims), "typ", `"JWT"`},
		{"no jwk", sign(map[string]any{"typ": "dpop+jwt"}, claims), "jwk", "no jwk header"},
		{"no jti", sign(map[string]any{"typ": "dpop+jwt", "jwk": k.PublicJWK(nil)}, map[string]any{"htm": "GET", "htu": "https://api.test/x", "iat": 1700000000}), "claims", "has no jti"},
		{"htu with query", sign(map[string]any{"typ": "dpop+jwt", "jwk": k.PublicJWK(nil)}, map[string]any{"jti": "j", "htm": "GET", "htu": "https://api.test/x?y", "iat": 1700000000}), "htu", "has a query"},
		{"bad signature", tamperSignature(sign(map[string]any{"typ": "dpop+jwt", "jwk": k.PublicJWK(nil)}, claims)), "signature", "signature is invalid"},
		{"not base64", "eyJ.!!!.x", "structure", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, code := inspectJSON(t, "", "-as", "proof", "-method", "GET", "-url", "https://api.test/x", "-at", "1700000001", tc.proof)
			c := checkOf(r, tc.check)
			if code != exitFail || r.OK || c == nil || c.OK || !strings.Contains(c.Detail, tc.want) {
				t.Errorf("exit %d, %s = %+v\n%+v", code, tc.check, c, r.Checks)
			}
		})
	}
}

func TestInspectTokenChecks(t *testing.T) {
	dir := t.TempDir()
	issuer := keygen(t, dir, "issuer.json", "PS256")
	client := keygen(t, dir, "client.json", "ES256")
	other := keygen(t, dir, "other.json", "ES256")
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte(mustRun(t, "jwks", "-key", issuer)), 0o600); err != nil {
		t.Fatal(err)
	}
	otherJWKS := filepath.Join(dir, "other-jwks.json")
	if err := os.WriteFile(otherJWKS, []byte(mustRun(t, "jwks", "-key", other)), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(mustRun(t, "token", "-issuer-key", issuer, "-iss", "https://issuer.test", "-aud", "https://api.test",
		"-sub", "alice", "-client-id", "cli", "-scope", "read write", "-bind", client, "-iat", "1700000000", "-ttl", "10m"))
	ck, _ := loadKey(client)
	good := []string{"-jwks", jwks, "-iss", "https://issuer.test", "-aud", "https://api.test", "-at", "1700000060", tok}
	r, code := inspectJSON(t, "", good...)
	if code != exitOK || !r.OK || r.Kind != kindToken {
		t.Fatalf("good token: exit %d %+v", code, r.Checks)
	}
	if c := checkOf(r, "cnf"); c == nil || !strings.Contains(c.Detail, "DPoP-bound: jkt "+ck.Thumbprint()) {
		t.Errorf("cnf: %+v", c)
	}
	if c := checkOf(r, "signature"); c == nil || !c.OK || c.Skipped {
		t.Errorf("signature: %+v", c)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check string
	}{
		{"expired", []string{"-jwks", jwks, "-at", "1700000700"}, "exp"},
		{"wrong aud", []string{"-jwks", jwks, "-aud", "https://other.test", "-at", "1700000060"}, "aud"},
		{"wrong iss", []string{"-jwks", jwks, "-iss", "https://evil.test", "-at", "1700000060"}, "iss"},
		{"wrong keys", []string{"-jwks", otherJWKS, "-at", "1700000060"}, "signature"},
		{"issued in the future", []string{"-at", "1699999000"}, "iat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, code := inspectJSON(t, "", append(tc.args, tok)...)
			if c := checkOf(r, tc.check); code != exitFail || c == nil || c.OK {
				t.Errorf("exit %d, %s = %+v", code, tc.check, c)
			}
		})
	}
	// Without -jwks the signature is not checked, and that is not a failure.
	r, code = inspectJSON(t, "", "-at", "1700000060", tok)
	if c := checkOf(r, "signature"); code != exitOK || c == nil || !c.Skipped {
		t.Errorf("no -jwks: exit %d, %+v", code, c)
	}
	// A proof presented with this token: cnf.jkt is compared with its key.
	proof := strings.TrimSpace(mustRun(t, "proof", "-key", other, "-url", "https://api.test/x", "-token", tok, "-iat", "1700000060"))
	r, code = inspectJSON(t, "", "-method", "GET", "-url", "https://api.test/x", "-token", tok, "-at", "1700000060", proof)
	if c := checkOf(r, "binding"); code != exitFail || c == nil || c.OK || c.Reason != "token_key_binding" || !strings.Contains(c.Detail, "cnf.jkt "+ck.Thumbprint()) {
		t.Errorf("proof with another key: exit %d, %+v", code, c)
	}
}

func TestInspectSHRChecks(t *testing.T) {
	dir := t.TempDir()
	issuer := keygen(t, dir, "issuer.json", "ES256")
	client := keygen(t, dir, "client.json", "RS256")
	ck, _ := loadKey(client)
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte(mustRun(t, "jwks", "-key", issuer)), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(mustRun(t, "token", "-issuer-key", issuer, "-iss", "https://issuer.test", "-aud", "https://api.test",
		"-sub", "alice", "-client-id", "cli", "-kid-cnf", ck.Thumbprint(), "-iat", "1700000000"))
	shr := strings.TrimSpace(mustRun(t, "shr", "-key", client, "-token", tok, "-method", "GET", "-url", "https://api.test:8443/a/B?y=1", "-ts", "1700000010"))
	good := []string{"-method", "GET", "-url", "https://api.test:8443/a/B?y=1", "-at", "1700000020", "-jwks", jwks, "-aud", "https://api.test"}
	r, code := inspectJSON(t, "", append(good, shr)...)
	if code != exitOK || r.Kind != kindSHR || r.AccessToken == nil {
		t.Fatalf("good SHR: exit %d %+v", code, r.Checks)
	}
	if c := checkOf(r, "binding"); c == nil || !c.OK || !strings.Contains(c.Detail, "kid "+ck.Thumbprint()) {
		t.Errorf("binding: %+v", c)
	}
	if c := checkOf(r, "q"); c == nil || !c.Skipped {
		t.Errorf("q: %+v", c)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check string
	}{
		{"method", []string{"-method", "POST", "-url", "https://api.test:8443/a/B?y=1", "-at", "1700000020"}, "m"},
		{"port", []string{"-method", "GET", "-url", "https://api.test/a/B?y=1", "-at", "1700000020"}, "u"},
		{"path case", []string{"-method", "GET", "-url", "https://api.test:8443/a/b?y=1", "-at", "1700000020"}, "p"},
		{"stale", []string{"-method", "GET", "-url", "https://api.test:8443/a/B?y=1", "-at", "1700000400"}, "ts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, code := inspectJSON(t, "", append(tc.args, shr)...)
			if c := checkOf(r, tc.check); code != exitFail || c == nil || c.OK || !strings.HasPrefix(c.Reason, "shr_") {
				t.Errorf("exit %d, %s = %+v", code, tc.check, c)
			}
		})
	}
	// msal-browser's lower-cased form needs -msal-browser-compat.
	bshr := strings.TrimSpace(mustRun(t, "shr", "-format", "msal-browser", "-key", client, "-token", tok, "-url", "https://api.test:8443/a/B", "-ts", "1700000010"))
	r, code = inspectJSON(t, "", "-method", "GET", "-url", "https://api.test:8443/a/B", "-at", "1700000020", bshr)
	if c := checkOf(r, "p"); code != exitFail || c == nil || c.OK || !strings.Contains(c.Detail, "MSALBrowserCompat") {
		t.Errorf("browser p: exit %d %+v", code, c)
	}
	r, code = inspectJSON(t, "", "-msal-browser-compat", "-method", "GET", "-url", "https://api.test:8443/a/B", "-at", "1700000020", bshr)
	if code != exitOK {
		t.Errorf("browser SHR with compat: exit %d %+v", code, r.Checks)
	}
	// A body: b is checked against -body.
	body := filepath.Join(dir, "body.json")
	if err := os.WriteFile(body, []byte(`{"amount":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	pshr := strings.TrimSpace(mustRun(t, "shr", "-key", client, "-token", tok, "-method", "POST", "-url", "https://api.test/pay", "-body", body, "-ts", "1700000010"))
	if _, code := inspectJSON(t, "", "-method", "POST", "-url", "https://api.test/pay", "-body", body, "-at", "1700000020", pshr); code != exitOK {
		t.Errorf("SHR with body: exit %d", code)
	}
	other := filepath.Join(dir, "other.json")
	_ = os.WriteFile(other, []byte(`{"amount":1000}`), 0o600)
	r, code = inspectJSON(t, "", "-method", "POST", "-url", "https://api.test/pay", "-body", other, "-at", "1700000020", pshr)
	if c := checkOf(r, "b"); code != exitFail || c == nil || c.OK || c.Reason != "shr_b" {
		t.Errorf("SHR with another body: exit %d %+v", code, c)
	}
	// Without -body the b check is not run, and the verdict is inconclusive.
	r, code = inspectJSON(t, "", "-method", "POST", "-url", "https://api.test/pay", "-at", "1700000020", pshr)
	if c := checkOf(r, "b"); code != exitOK || c == nil || !c.Skipped {
		t.Errorf("SHR without -body: exit %d %+v", code, r.Checks)
	}
}

func TestInspectJSONShape(t *testing.T) {
	_, proof := newProof(t, "ES256", 1700000000)
	out, _, code := popctl(t, "", "inspect", "--json", "-method", "PUT", "-url", "https://api.test/things/1", "-at", "1700000001", proof)
	if code != exitFail {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "header", "payload", "checks", "ok"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
	if string(doc["ok"]) != "false" || string(doc["kind"]) != `"dpop-proof"` {
		t.Errorf("ok %s kind %s", doc["ok"], doc["kind"])
	}
	var checks []map[string]any
	if err := json.Unmarshal(doc["checks"], &checks); err != nil || len(checks) == 0 {
		t.Fatalf("checks: %v %s", err, doc["checks"])
	}
	if checks[0]["name"] != "structure" || checks[0]["ok"] != true || checks[0]["detail"] == "" {
		t.Errorf("first check: %v", checks[0])
	}
	if strings.Contains(out, "✔") || strings.Contains(out, "\x1b[") {
		t.Error("human marks in JSON output")
	}
}

func TestInspectNotAJWS(t *testing.T) {
	for _, in := range []string{"abc.def.ghi", "a.b.c.d.e"} {
		r, code := inspectJSON(t, "", in)
		if code != exitFail || r.Kind != kindUnknown || r.OK {
			t.Errorf("%q: exit %d %+v", in, code, r)
		}
	}
	// A file holding a token.
	_, proof := newProof(t, "ES256", 1700000000)
	path := filepath.Join(t.TempDir(), "proof.jwt")
	if err := os.WriteFile(path, []byte(proof+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, code := inspectJSON(t, "", "-at", "1700000001", path); code != exitOK || r.Kind != kindProof {
		t.Errorf("file: exit %d %+v", code, r)
	}
}

// tamperSignature changes the first character of a JWS signature.
func tamperSignature(s string) string {
	i := strings.LastIndexByte(s, '.') + 1
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
