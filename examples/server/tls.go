package main

// HTTPS, client certificates and certificate-bound tokens (RFC 8705):
// -tls-cert, -tls-key, -client-ca, -client-cert-header, -trusted-proxy.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/popguard/popguard/middleware"
)

// serverTLS is the TLS configuration of -tls-cert/-tls-key: with caFile,
// the server asks every client for a certificate and, when one is given,
// verifies it against that CA (tls.VerifyClientCertIfGiven): a client
// without a certificate still gets through TLS, and only a
// certificate-bound token then fails. Without caFile no certificate is
// asked for.
func serverTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "" && caFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("-tls-cert and -tls-key go together (and -client-ca needs them)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-client-ca %s holds no PEM certificate", caFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// clientCertOption is the Guard option of -client-cert-header and
// -trusted-proxy: the header form a TLS-terminating proxy forwards the client
// certificate in, read only from those proxies.
func clientCertOption(form string, proxies []string) (middleware.Option, error) {
	var f middleware.ClientCertHeader
	switch form {
	case "":
		if len(proxies) > 0 {
			return nil, errors.New("-trusted-proxy needs -client-cert-header (the proxy's certificate header form)")
		}
		return nil, nil
	case "rfc9440":
		f = middleware.ClientCertRFC9440
	case "nginx":
		f = middleware.ClientCertNginx
	case "envoy":
		f = middleware.ClientCertEnvoy
	default:
		return nil, fmt.Errorf("-client-cert-header must be rfc9440, nginx or envoy, not %q", form)
	}
	if len(proxies) == 0 {
		return nil, errors.New("-client-cert-header needs -trusted-proxy CIDR (the proxies whose header is believed)")
	}
	return middleware.WithForwardedClientCert(f, "", proxies...), nil
}
