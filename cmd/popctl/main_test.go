package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popguard/popguard/internal/jose"
)

// popctl runs the command in-process.
func popctl(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// mustRun runs the command and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := popctl(t, "", args...)
	if code != exitOK {
		t.Fatalf("popctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// keygen writes a new key of alg into dir and returns its path.
func keygen(t *testing.T, dir, name, alg string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	mustRun(t, "keygen", "-alg", alg, "-out", path)
	return path
}

func TestKeygenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, alg := range keygenAlgs {
		t.Run(alg, func(t *testing.T) {
			path := filepath.Join(dir, alg+".json")
			out, errOut, code := popctl(t, "", "keygen", "-alg", alg, "-out", path)
			if code != exitOK || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			var priv map[string]any
			raw, _ := os.ReadFile(path)
			if err := json.Unmarshal(raw, &priv); err != nil {
				t.Fatal(err)
			}
			if priv["alg"] != alg || priv["d"] == nil {
				t.Errorf("private JWK: %s", raw)
			}
			if strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS") {
				for _, m := range []string{"p", "q", "dp", "dq", "qi"} {
					if priv[m] == nil {
						t.Errorf("RSA private JWK lacks %s", m)
					}
				}
			}
			k, err := loadKey(path)
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != alg || k.KID != k.Thumbprint() || priv["kid"] != k.KID {
				t.Errorf("loaded alg %s kid %s, thumbprint %s; file %v", k.Alg, k.KID, k.Thumbprint(), priv["kid"])
			}
			if !strings.Contains(errOut, "thumbprint: "+k.KID) || !strings.Contains(errOut, "public JWK: {") {
				t.Errorf("stderr: %s", errOut)
			}
			if strings.Contains(errOut, `"d"`) {
				t.Errorf("private member on stderr: %s", errOut)
			}
			// The thumbprint command agrees, and the loaded key signs
			// what its public JWK verifies.
			if tp := strings.TrimSpace(mustRun(t, "thumbprint", path)); tp != k.KID {
				t.Errorf("thumbprint %s, kid %s", tp, k.KID)
			}
			jwks := mustRun(t, "jwks", "-key", path)
			var set struct {
				Keys []json.RawMessage `json:"keys"`
			}
			if err := json.Unmarshal([]byte(jwks), &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("jwks: %s", jwks)
			}
			pub, err := jose.ParseJWK(set.Keys[0], jose.KeyPolicy{})
			if err != nil {
				t.Fatalf("public JWK: %v", err)
			}
			sig, err := k.JWS(map[string]any{"typ": "test"}, map[string]any{"x": 1})
			if err != nil {
				t.Fatal(err)
			}
			j, err := jose.ParseCompact(sig, 1<<16)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := jose.LookupAlg(alg)
			if err := jose.Verify(a, pub, j.SigningInput, j.Signature); err != nil {
				t.Errorf("signature of the reloaded key: %v", err)
			}
			// A second load gives the same key.
			k2, err := loadKey(path)
			if err != nil || k2.Thumbprint() != k.Thumbprint() {
				t.Errorf("reload: %v", err)
			}
		})
	}
}

func TestKeygenStdoutAndRefusals(t *testing.T) {
	out, errOut, code := popctl(t, "", "keygen", "-alg", "EdDSA")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	k, err := parseKey([]byte(out))
	if err != nil || k.Alg != "EdDSA" {
		t.Fatalf("stdout key: %v %s", err, out)
	}
	path := keygen(t, t.TempDir(), "k.json", "ES256")
	if _, errOut, code := popctl(t, "", "keygen", "-out", path); code != exitUsage || !strings.Contains(errOut, "not overwriting") {
		t.Errorf("overwrite: exit %d, %s", code, errOut)
	}
	// A public JWK cannot sign.
	pubPath := filepath.Join(t.TempDir(), "pub.json")
	if err := os.WriteFile(pubPath, []byte(rfc9449Key(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := popctl(t, "", "proof", "-key", pubPath, "-url", "https://a.test/"); code != exitUsage || !strings.Contains(errOut, "public JWK") {
		t.Errorf("public key: exit %d, %s", code, errOut)
	}
	// A tampered private key (the public point of another key) is refused.
	other := keygen(t, t.TempDir(), "o.json", "ES256")
	var a, b map[string]any
	ra, _ := os.ReadFile(path)
	rb, _ := os.ReadFile(other)
	_ = json.Unmarshal(ra, &a)
	_ = json.Unmarshal(rb, &b)
	a["x"], a["y"] = b["x"], b["y"]
	if _, err := parseKey(marshalIndent(a)); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("mismatched x, y: %v", err)
	}
}

// rfc9449Key is the public key of the RFC 9449 examples.
func rfc9449Key(t *testing.T) string {
	if b, err := os.ReadFile("../../testdata/rfc9449/rfc9449-ec-key.json"); err == nil {
		return string(b)
	}
	return `{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`
}

func TestThumbprintVectors(t *testing.T) {
	const rfc7638 = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	if got := mustRun(t, "thumbprint", "testdata/rfc7638-key.json"); got != rfc7638+"\n" {
		t.Errorf("RFC 7638 key: %q", got)
	}
	if got := mustRun(t, "thumbprint", "-uri", "testdata/rfc7638-key.json"); got != "urn:ietf:params:oauth:jwk-thumbprint:sha-256:"+rfc7638+"\n" {
		t.Errorf("RFC 7638 key, -uri: %q", got)
	}
	// Flags after the file work too.
	if got := mustRun(t, "thumbprint", "testdata/rfc7638-key.json", "-uri"); !strings.HasSuffix(got, rfc7638+"\n") {
		t.Errorf("trailing -uri: %q", got)
	}
	out, errOut, code := popctl(t, rfc9449Key(t), "thumbprint", "-")
	if code != exitOK || out != "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\n" {
		t.Errorf("RFC 9449 key: exit %d %q %s", code, out, errOut)
	}
	// A JWK Set: one line per key.
	set := `{"keys":[` + rfc9449Key(t) + `,` + mustReadFile(t, "testdata/rfc7638-key.json") + `]}`
	if out, _, _ := popctl(t, set, "thumbprint", "-"); out != "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\n"+rfc7638+"\n" {
		t.Errorf("JWKS: %q", out)
	}
	// Private members do not count.
	path := keygen(t, t.TempDir(), "k.json", "RS256")
	k, _ := loadKey(path)
	if got := strings.TrimSpace(mustRun(t, "thumbprint", path)); got != k.Thumbprint() {
		t.Errorf("private RSA key: %s, want %s", got, k.Thumbprint())
	}
	if _, errOut, code := popctl(t, `{"kty":"EC"}`, "thumbprint", "-"); code != exitUsage || errOut == "" {
		t.Errorf("bad JWK: exit %d %q", code, errOut)
	}
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.json", "ES256")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"keygen", "-alg", "HS256"}, "unsupported -alg"},
		{[]string{"keygen", "extra"}, "unexpected argument"},
		{[]string{"keygen", "-bogus"}, "flag provided but not defined"},
		{[]string{"thumbprint"}, "exactly one FILE"},
		{[]string{"thumbprint", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"jwks"}, "-key is required"},
		{[]string{"proof", "-url", "https://a.test/"}, "-key and -url are required"},
		{[]string{"proof", "-key", key, "-url", "ftp://a.test/"}, "-url"},
		{[]string{"proof", "-key", key, "-url", "https://a.test/", "-iat", "yesterday"}, "-iat"},
		{[]string{"shr", "-key", key, "-url", "https://a.test/"}, "-token"},
		{[]string{"shr", "-key", key, "-token", "t", "-url", "https://a.test/", "-format", "msal-go"}, "-format"},
		{[]string{"token", "-issuer-key", key}, "required"},
		{[]string{"token", "-issuer-key", key, "-iss", "i", "-aud", "a", "-sub", "s", "-client-id", "c", "-jkt", "short"}, "thumbprint"},
		{[]string{"token", "-issuer-key", key, "-iss", "i", "-aud", "a", "-sub", "s", "-client-id", "c", "-bind", key, "-kid-cnf", "x"}, "at most one"},
		{[]string{"inspect"}, "exactly one"},
		{[]string{"inspect", "not-a-jws"}, "neither a file nor a compact JWS"},
		{[]string{"inspect", "-url", "nope", "a.b.c"}, "-url"},
		{[]string{"inspect", "-at", "soon", "a.b.c"}, "-at"},
		{[]string{"inspect", "-jwks", filepath.Join(dir, "missing.json"), "a.b.c"}, "-jwks"},
		{[]string{"version", "x"}, "unexpected argument"},
	} {
		out, errOut, code := popctl(t, "", tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("popctl %q: exit %d, stdout %q, stderr %q; want exit 2 and %q on stderr", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	out, _, code := popctl(t, "", "help")
	if code != exitOK || !strings.Contains(out, "inspect") {
		t.Errorf("help: exit %d %q", code, out)
	}
	for _, c := range commands() {
		out, errOut, code := popctl(t, "", c.name, "-h")
		if code != exitOK || !strings.Contains(out, "Usage: popctl "+c.name) || !strings.Contains(out, "Examples:") || errOut != "" {
			t.Errorf("%s -h: exit %d, stdout %q, stderr %q", c.name, code, out, errOut)
		}
		if out2, _, _ := popctl(t, "", "help", c.name); out2 != out {
			t.Errorf("help %s differs from %s -h", c.name, c.name)
		}
	}
}

func TestVersion(t *testing.T) {
	out := mustRun(t, "version")
	if !strings.HasPrefix(out, "popctl ") {
		t.Errorf("version: %q", out)
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"", "abc", "it's", "a b", `$(rm -rf /)`, "'", "x'y'z", "https://a.test/x?y=1&z=2"} {
		words, err := shellSplit(shellQuote(s))
		if err != nil || len(words) != 1 || words[0] != s {
			t.Errorf("shellQuote(%q) = %s -> %q, %v", s, shellQuote(s), words, err)
		}
	}
	if shellWord("POST") != "POST" || shellWord("GET;ls") != "'GET;ls'" {
		t.Errorf("shellWord: %s %s", shellWord("POST"), shellWord("GET;ls"))
	}
}

// shellSplit splits a command line built of bare words, single-quoted
// strings and backslash escapes, as a POSIX shell does; any other shell
// syntax is an error.
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.IndexByte(`"\$`+"`;&|<>()", c) >= 0:
			return nil, fmt.Errorf("unquoted %q at %d", c, i)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]int64{"1562262618": 1562262618, "2019-07-04T17:50:18Z": 1562262618, "1562262618.0": 1562262618} {
		got, err := parseTime(in)
		if err != nil || got.Unix() != want {
			t.Errorf("parseTime(%q) = %v, %v", in, got.Unix(), err)
		}
	}
	if _, err := parseTime("tomorrow"); err == nil {
		t.Error("parseTime accepted garbage")
	}
}
