package validate_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/testcert"
	"github.com/popguard/popguard/internal/testenv"
	"github.com/popguard/popguard/validate"
)

// RFC 8705 §3.1's example: the thumbprint is base64url of the SHA-256 of
// the DER certificate, 43 characters.
func TestCertificateThumbprint(t *testing.T) {
	c := testcert.Client(t, nil, "client")
	sum := sha256.Sum256(c.DER)
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if got := validate.CertificateThumbprint(c.DER); got != want || len(got) != 43 {
		t.Fatalf("thumbprint %q, want %q", got, want)
	}
}

// The thumbprint agrees with a second implementation: openssl computes the
// SHA-256 fingerprint of a certificate it generated itself.
func TestCertificateThumbprintOpenSSL(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "install openssl (apt-get install openssl)")
	dir := t.TempDir()
	certFile := filepath.Join(dir, "c.pem")
	gen := exec.Command(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", filepath.Join(dir, "k.pem"), "-out", certFile, "-days", "1", "-subj", "/CN=openssl-client")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	der, err := exec.Command(openssl, "x509", "-in", certFile, "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl x509 -outform DER: %v", err)
	}
	fp, err := exec.Command(openssl, "x509", "-in", certFile, "-noout", "-fingerprint", "-sha256").Output()
	if err != nil {
		t.Fatalf("openssl x509 -fingerprint: %v", err)
	}
	// "sha256 Fingerprint=AB:CD:..." (the prefix's case varies by version)
	_, hexPairs, ok := strings.Cut(strings.TrimSpace(string(fp)), "=")
	if !ok {
		t.Fatalf("unexpected openssl output %q", fp)
	}
	digest, err := hex.DecodeString(strings.ReplaceAll(hexPairs, ":", ""))
	if err != nil || len(digest) != sha256.Size {
		t.Fatalf("unexpected openssl output %q", fp)
	}
	want := base64.RawURLEncoding.EncodeToString(digest)
	if got := validate.CertificateThumbprint(der); got != want {
		t.Fatalf("thumbprint %q, openssl says %q", got, want)
	}
	if sum := sha256.Sum256(der); !bytes.Equal(sum[:], digest) {
		t.Fatal("openssl's fingerprint is not the SHA-256 of the DER it wrote")
	}
}

func TestCheckCertificateBinding(t *testing.T) {
	mine := testcert.Client(t, nil, "mine")
	other := testcert.Client(t, nil, "other")
	bound := &validate.Token{Cnf: validate.Confirmation{X5tS256: validate.CertificateThumbprint(mine.DER)}}
	if err := validate.CheckCertificateBinding(bound, validate.CertificateThumbprint(mine.DER)); err != nil {
		t.Fatalf("own certificate: %v", err)
	}
	for _, tc := range []struct {
		name  string
		tok   *validate.Token
		thumb string
		want  popguard.Reason
	}{
		{"no certificate", bound, "", popguard.ReasonTokenCertMissing},
		{"another certificate", bound, validate.CertificateThumbprint(other.DER), popguard.ReasonTokenCertBinding},
		{"a prefix of the thumbprint", bound, bound.Cnf.X5tS256[:42], popguard.ReasonTokenCertBinding},
		{"DPoP-bound token", &validate.Token{Cnf: validate.Confirmation{JKT: bound.Cnf.X5tS256}}, bound.Cnf.X5tS256, popguard.ReasonTokenKeyBinding},
		{"unbound token", &validate.Token{}, bound.Cnf.X5tS256, popguard.ReasonTokenNotBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validate.CheckCertificateBinding(tc.tok, tc.thumb)
			if !errors.Is(err, popguard.CodeInvalidToken) || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want invalid_token (%s)", err, tc.want)
			}
		})
	}
}
