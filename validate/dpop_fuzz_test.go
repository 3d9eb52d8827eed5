package validate_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// The fuzz request contexts: the RFC 9449 resource request (Figure 13), the
// same with a required nonce, and the token endpoint at the times of
// Figures 2 and 7. Seeds in testdata/fuzz/FuzzProofVerify are valid in at
// least one of them or deliberately invalid.
const dpopFuzzNonce = "eyJ7S_zG.eyJH0-Z.HX4w-7v"

type dpopFuzzConfig struct {
	name string
	v    *validate.ProofVerifier
	req  validate.ProofRequest
}

func dpopFuzzConfigs(t testing.TB) []dpopFuzzConfig {
	rs := validate.ProofRequest{Method: "GET", Target: dpopRFCResource + "?foo=bar", AccessToken: dpopRFCToken}
	rsNonce := rs
	rsNonce.Nonces = dpopNonces{valid: dpopFuzzNonce}
	as := validate.ProofRequest{Method: "POST", Target: dpopRFCTokenEndpoint}
	return []dpopFuzzConfig{
		{"resource", dpopVerifierAt(t, time.Unix(dpopFig13IAT, 0)), rs},
		{"resource_nonce", dpopVerifierAt(t, time.Unix(dpopFig13IAT, 0)), rsNonce},
		{"token_endpoint_fig2", dpopVerifierAt(t, time.Unix(dpopFig2IAT, 0)), as},
		{"token_endpoint_fig7", dpopVerifierAt(t, time.Unix(dpopFig7IAT, 0)), as},
	}
}

// dpopCheckResult is the fuzz property: Verify never panics (the fuzzer
// reports panics), every error is a *popguard.Error with a proof-side code
// and a description of printable ASCII that RFC 6750 §3 allows in
// error_description (so no input byte outside that set can leak into a
// challenge), and every accepted proof has a jti and a thumbprint.
func dpopCheckResult(t *testing.T, cfg, proof string, p *validate.Proof, err error) {
	t.Helper()
	if err != nil {
		if p != nil {
			t.Fatalf("%s: Verify returned a proof and an error %v", cfg, err)
		}
		var pe *popguard.Error
		if !errors.As(err, &pe) {
			t.Fatalf("%s: error %v (%T) is not a *popguard.Error", cfg, err, err)
		}
		switch pe.Code {
		case popguard.CodeInvalidDPoPProof, popguard.CodeUseDPoPNonce, popguard.CodeInvalidRequest:
		default:
			t.Fatalf("%s: error code %q for %q", cfg, pe.Code, proof)
		}
		if pe.Reason == "" || pe.Description == "" {
			t.Fatalf("%s: error without reason or description: %v", cfg, err)
		}
		for i := 0; i < len(pe.Description); i++ {
			// RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E.
			if c := pe.Description[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				t.Fatalf("%s: description %q has byte %#x", cfg, pe.Description, c)
			}
		}
		return
	}
	if p == nil {
		t.Fatalf("%s: Verify returned neither proof nor error", cfg)
	}
	if p.JTI == "" || len(p.Thumbprint) != 43 || len(p.ReplayKey()) != 43 || p.HTU == "" || p.Alg == "" {
		t.Fatalf("%s: accepted proof %+v for %q", cfg, *p, proof)
	}
}

// dpopFuzzMutations returns variants of a valid proof.
func dpopFuzzMutations(valid string) []string {
	seg := strings.Split(valid, ".")
	h, p, s := seg[0], seg[1], seg[2]
	dec := func(x string) string { b, _ := base64.RawURLEncoding.DecodeString(x); return string(b) }
	enc := func(x string) string { return base64.RawURLEncoding.EncodeToString([]byte(x)) }
	hj, pj := dec(h), dec(p)
	out := []string{
		valid[:len(valid)/2], valid[:len(valid)-1], valid + "A", valid + ".", "." + valid, valid + "==",
		h + "." + p, h + "." + p + "." + s + "." + s, p + "." + h + "." + s, h + "." + h + "." + s, h + ".." + s,
		strings.NewReplacer("-", "+", "_", "/").Replace(valid),
		enc(strings.Replace(hj, `"ES256"`, `"none"`, 1)) + "." + p + ".",
		enc(strings.Replace(hj, `"ES256"`, `"HS256"`, 1)) + "." + p + "." + s,
		enc(strings.Replace(hj, `"dpop+jwt"`, `"JWT"`, 1)) + "." + p + "." + s,
		enc(strings.Replace(hj, `{`, `{"crit":["x"],`, 1)) + "." + p + "." + s,
		enc(strings.Replace(hj, `{`, `{"alg":"none",`, 1)) + "." + p + "." + s,
		h + "." + enc(strings.Replace(pj, `{`, `{"h\u0074u":"https://x/",`, 1)) + "." + s,
		h + "." + enc(strings.Replace(pj, `"GET"`, `"POST"`, 1)) + "." + s,
		h + "." + enc(strings.Replace(pj, `{`, `{"iat":1e999,`, 1)) + "." + s,
		h + "." + enc(`[`+pj+`]`) + "." + s,
		h + "." + enc(pj+` x`) + "." + s,
		`{"protected":"` + h + `","payload":"` + p + `","signature":"` + s + `"}`,
		valid + strings.Repeat("A", 8192),
	}
	for _, i := range []int{0, 5, len(h) + 3, len(h) + len(p)/2, len(valid) - 2} {
		b := []byte(valid)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		out = append(out, string(b))
	}
	return out
}

func FuzzProofVerify(f *testing.F) {
	for _, name := range []string{dpopFig13, dpopFig2, dpopFig7} {
		f.Add(dpopVector(f, name))
	}
	for _, alg := range []string{"ES256", "EdDSA", "PS256"} {
		key, err := dpopclient.GenerateKey(alg)
		if err != nil {
			f.Fatal(err)
		}
		valid := poptest.NewClientWithKey(key).Proof("GET", dpopRFCResource, dpopRFCToken, poptest.ProofOptions{
			Nonce: dpopFuzzNonce, IssuedAt: time.Unix(dpopFig13IAT, 0),
		})
		f.Add(valid)
		for _, m := range dpopFuzzMutations(valid) {
			f.Add(m)
		}
	}
	configs := dpopFuzzConfigs(f)
	f.Fuzz(func(t *testing.T, proof string) {
		for _, c := range configs {
			p, err := c.v.Verify(proof, c.req)
			dpopCheckResult(t, c.name, proof, p, err)
		}
	})
}

// TestProofVerifyCorpus checks the committed seed corpus: the RFC vectors
// and the seeds named es256_* are accepted in some fuzz context, every other
// seed is refused in all of them.
func TestProofVerifyCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzProofVerify")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("empty corpus")
	}
	configs := dpopFuzzConfigs(t)
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "string(") || !strings.HasSuffix(lines[1], ")") {
				t.Fatalf("not a go fuzz v1 string seed: %q", b)
			}
			proof, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
			if err != nil {
				t.Fatal(err)
			}
			accepted := 0
			for _, c := range configs {
				p, err := c.v.Verify(proof, c.req)
				dpopCheckResult(t, c.name, proof, p, err)
				if err == nil {
					accepted++
				}
			}
			wantValid := strings.HasPrefix(e.Name(), "rfc9449_") || strings.HasPrefix(e.Name(), "es256_")
			if wantValid != (accepted > 0) {
				t.Fatalf("accepted in %d contexts, want valid = %v", accepted, wantValid)
			}
		})
	}
}
