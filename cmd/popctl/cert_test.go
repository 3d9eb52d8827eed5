package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popguard/popguard/internal/testcert"
	"github.com/popguard/popguard/validate"
)

// thumbprint -cert prints cnf.x5t#S256 of each certificate; token -cert
// binds a token to one (RFC 8705).
func TestCertThumbprintAndToken(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.CA(t, "ca")
	a, b := testcert.Client(t, ca, "a"), testcert.Client(t, nil, "b")
	certFile, _ := a.Files(t, dir, "a")
	bundle := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(bundle, append(append(a.PEM(), a.KeyPEM(t)...), b.PEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	derFile := filepath.Join(dir, "b.der")
	if err := os.WriteFile(derFile, b.DER, 0o600); err != nil {
		t.Fatal(err)
	}
	ta, tb := validate.CertificateThumbprint(a.DER), validate.CertificateThumbprint(b.DER)
	if got := mustRun(t, "thumbprint", "-cert", certFile); got != ta+"\n" {
		t.Errorf("thumbprint -cert = %q, want %q", got, ta)
	}
	if got := mustRun(t, "thumbprint", "-cert", bundle); got != ta+"\n"+tb+"\n" {
		t.Errorf("thumbprint -cert of a bundle = %q", got)
	}
	if got := mustRun(t, "thumbprint", "-cert", derFile); got != tb+"\n" {
		t.Errorf("thumbprint -cert of DER = %q", got)
	}
	if out, _, code := popctl(t, string(b.PEM()), "thumbprint", "-cert", "-"); code != exitOK || out != tb+"\n" {
		t.Errorf("thumbprint -cert - = %q, exit %d", out, code)
	}
	for _, bad := range []string{"not a certificate", string(a.KeyPEM(t))} {
		if _, errOut, code := popctl(t, bad, "thumbprint", "-cert", "-"); code != exitUsage || !strings.Contains(errOut, "certificate") {
			t.Errorf("thumbprint -cert of %.20q: exit %d, %s", bad, code, errOut)
		}
	}
	if _, _, code := popctl(t, "", "thumbprint", "-cert", "-uri", certFile); code != exitUsage {
		t.Errorf("-cert -uri: exit %d, want usage", code)
	}

	key := keygen(t, dir, "issuer.json", "ES256")
	tok := strings.TrimSpace(mustRun(t, "token", "-issuer-key", key, "-iss", "https://as.test", "-aud", "api://a",
		"-sub", "svc", "-client-id", "svc", "-cert", certFile))
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Cnf map[string]string `json:"cnf"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || len(claims.Cnf) != 1 || claims.Cnf["x5t#S256"] != ta {
		t.Fatalf("cnf = %v (%v), want x5t#S256 %s", claims.Cnf, err, ta)
	}
	if _, errOut, code := popctl(t, "", "token", "-issuer-key", key, "-iss", "i", "-aud", "a", "-sub", "s", "-client-id", "c",
		"-cert", certFile, "-jkt", ta); code != exitUsage || !strings.Contains(errOut, "at most one") {
		t.Errorf("-cert with -jkt: exit %d, %s", code, errOut)
	}
	if _, _, code := popctl(t, "", "token", "-issuer-key", key, "-iss", "i", "-aud", "a", "-sub", "s", "-client-id", "c",
		"-cert", filepath.Join(dir, "missing.pem")); code != exitUsage {
		t.Errorf("-cert of a missing file: exit %d", code)
	}
}
