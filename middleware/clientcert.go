package middleware

// Certificate-bound access tokens (RFC 8705): where the client certificate
// of a request comes from, directly from the TLS connection or forwarded by a
// TLS-terminating proxy in one configured header form.

import (
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/validate"
)

// ClientCertHeader names the one form in which a TLS-terminating proxy
// forwards the client certificate it received (see WithForwardedClientCert).
type ClientCertHeader uint8

// The header forms a proxy may use.
const (
	// ClientCertRFC9440 is RFC 9440's Client-Cert header: the DER
	// certificate as a structured-field byte sequence, ":<base64>:".
	ClientCertRFC9440 ClientCertHeader = iota + 1
	// ClientCertNginx is nginx's $ssl_client_escaped_cert: the
	// URL-encoded PEM certificate, by default in X-SSL-Client-Cert
	// (proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;).
	ClientCertNginx
	// ClientCertEnvoy is Envoy's x-forwarded-client-cert (XFCC): elements
	// of Key=Value pairs; the last element is the one the nearest proxy
	// wrote, and its Cert (URL-encoded PEM) or Hash (hex SHA-256 of the DER
	// certificate) gives the certificate. When both are present they must
	// agree.
	ClientCertEnvoy
)

// String returns the form's name: "rfc9440", "nginx" or "envoy".
func (h ClientCertHeader) String() string {
	switch h {
	case ClientCertRFC9440:
		return "rfc9440"
	case ClientCertNginx:
		return "nginx"
	case ClientCertEnvoy:
		return "envoy"
	}
	return "unknown"
}

// defaultName is the header field a form uses unless configured otherwise.
func (h ClientCertHeader) defaultName() string {
	switch h {
	case ClientCertRFC9440:
		return "Client-Cert"
	case ClientCertNginx:
		return "X-SSL-Client-Cert"
	case ClientCertEnvoy:
		return "X-Forwarded-Client-Cert"
	}
	return ""
}

// maxCertHeader caps the forwarded certificate header; a certificate is a
// few kilobytes, an Envoy element with its chain a few more.
const maxCertHeader = 64 << 10

type certForwarding struct {
	form    ClientCertHeader
	name    string // canonical header name
	proxies []netip.Prefix
}

// WithForwardedClientCert reads the client certificate of certificate-bound
// tokens (RFC 8705) from a header a TLS-terminating proxy sets, for requests
// whose peer address is one of proxies (addresses or CIDRs). header names
// the field; "" means the form's usual name (Client-Cert, X-SSL-Client-Cert,
// X-Forwarded-Client-Cert).
//
// From those peers the header is the only source: the certificate of the TLS
// connection, if any, is the proxy's own. From any other peer the header is
// ignored, and the certificate comes from the TLS connection
// (r.TLS.PeerCertificates[0]), as it does without this option. The proxy
// must overwrite or remove the header a client sends: nginx's
// proxy_set_header does; with Envoy use forward_client_cert_details
// SANITIZE_SET.
//
// The header is read only for a certificate-bound token. A malformed one
// from a trusted proxy is answered with 400 invalid_request (reason
// request_client_cert). The proxy, like a TLS server, validates the
// certificate chain; popguard only checks that the token's cnf.x5t#S256 is
// the certificate's SHA-256 thumbprint.
func WithForwardedClientCert(form ClientCertHeader, header string, proxies ...string) Option {
	return func(g *Guard) error {
		if form.defaultName() == "" {
			return errors.New("middleware: WithForwardedClientCert needs ClientCertRFC9440, ClientCertNginx or ClientCertEnvoy")
		}
		if header == "" {
			header = form.defaultName()
		}
		for i := 0; i < len(header); i++ {
			if !isTchar(header[i]) {
				return fmt.Errorf("middleware: WithForwardedClientCert: %q is not a header name", header)
			}
		}
		if len(proxies) == 0 {
			return errors.New("middleware: WithForwardedClientCert needs at least one proxy address or CIDR")
		}
		ps, err := parsePrefixes(proxies)
		if err != nil {
			return err
		}
		g.certFwd = &certForwarding{form: form, name: http.CanonicalHeaderKey(header), proxies: ps}
		return nil
	}
}

// parsePrefixes parses addresses and CIDRs of trusted peers.
func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		var p netip.Prefix
		var err error
		if strings.Contains(c, "/") {
			p, err = netip.ParsePrefix(c)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(c)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("middleware: trusted proxy %q: %w", c, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// peerIn reports whether the request's peer address is in one of ps.
func peerIn(r *http.Request, ps []netip.Prefix) bool {
	if len(ps) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientCert returns the RFC 8705 thumbprint of the request's client
// certificate, "" when it has none: from the configured header when the
// peer is a trusted proxy, else from the TLS connection.
func (g *Guard) clientCert(r *http.Request) (string, error) {
	if f := g.certFwd; f != nil && peerIn(r, f.proxies) {
		return f.thumbprint(r.Header)
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return validate.CertificateThumbprint(r.TLS.PeerCertificates[0].Raw), nil
	}
	return "", nil
}

// errClientCert is the answer to a malformed forwarded certificate. Its
// description never holds the header's bytes.
func errClientCert(cause string) error {
	return popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestClientCert,
		"The forwarded client certificate is malformed", errors.New(cause))
}

// thumbprint reads the forwarded certificate; an absent header means the
// client presented none.
func (f *certForwarding) thumbprint(h http.Header) (string, error) {
	lines := h[f.name]
	if len(lines) == 0 {
		return "", nil
	}
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	if size > maxCertHeader {
		return "", errClientCert("header too large")
	}
	switch f.form {
	case ClientCertRFC9440:
		return rfc9440Thumbprint(lines)
	case ClientCertNginx:
		return nginxThumbprint(lines)
	}
	return envoyThumbprint(lines)
}

// rfc9440Thumbprint reads Client-Cert (RFC 9440 §2.2): one sf-binary item,
// ":" base64 ":", optionally with parameters, which are ignored.
func rfc9440Thumbprint(lines []string) (string, error) {
	if len(lines) != 1 {
		return "", errClientCert("several Client-Cert lines")
	}
	v := trimOWS(lines[0])
	if v == "" {
		return "", nil // an empty field: no certificate
	}
	if len(v) < 2 || v[0] != ':' {
		return "", errClientCert("Client-Cert is not a byte sequence")
	}
	end := strings.IndexByte(v[1:], ':')
	if end < 0 {
		return "", errClientCert("Client-Cert byte sequence is not terminated")
	}
	b64, rest := v[1:1+end], v[2+end:]
	if rest != "" && rest[0] != ';' {
		return "", errClientCert("Client-Cert holds more than one item")
	}
	for i := 0; i < len(b64); i++ {
		c := b64[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return "", errClientCert("Client-Cert is not base64")
		}
	}
	// RFC 8941 §4.2.7: parsers may accept a sequence without its padding.
	der, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
	if err != nil {
		return "", errClientCert("Client-Cert is not base64")
	}
	return derThumbprint(der)
}

// nginxThumbprint reads $ssl_client_escaped_cert: the URL-encoded PEM.
func nginxThumbprint(lines []string) (string, error) {
	if len(lines) != 1 {
		return "", errClientCert("several certificate header lines")
	}
	v := trimOWS(lines[0])
	if v == "" {
		return "", nil // nginx sends an empty value when the client sent no certificate
	}
	return escapedPEMThumbprint(v)
}

// escapedPEMThumbprint decodes one URL-encoded PEM certificate.
func escapedPEMThumbprint(v string) (string, error) {
	raw, err := url.PathUnescape(v)
	if err != nil {
		return "", errClientCert("the certificate is not URL-encoded")
	}
	block, rest := pem.Decode([]byte(raw))
	if block == nil || block.Type != "CERTIFICATE" || len(block.Headers) > 0 || strings.TrimSpace(string(rest)) != "" {
		return "", errClientCert("the certificate is not one PEM CERTIFICATE block")
	}
	return derThumbprint(block.Bytes)
}

// envoyThumbprint reads x-forwarded-client-cert. Elements are separated by
// commas (across field lines too), pairs by semicolons, outside quoted
// strings; the last element is the nearest proxy's.
func envoyThumbprint(lines []string) (string, error) {
	elems := splitUnquoted(strings.Join(lines, ","), ',')
	elem := trimOWS(elems[len(elems)-1])
	if elem == "" {
		return "", errClientCert("x-forwarded-client-cert has no last element")
	}
	var certV, hashV string
	var haveCert, haveHash bool
	for _, pair := range splitUnquoted(elem, ';') {
		k, v, ok := strings.Cut(trimOWS(pair), "=")
		if !ok || k == "" {
			return "", errClientCert("x-forwarded-client-cert pair is not key=value")
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		} else if strings.IndexByte(v, '"') >= 0 {
			return "", errClientCert("x-forwarded-client-cert value has a stray quote")
		}
		switch strings.ToLower(k) {
		case "cert":
			if haveCert {
				return "", errClientCert("x-forwarded-client-cert element has two Cert")
			}
			certV, haveCert = v, true
		case "hash":
			if haveHash {
				return "", errClientCert("x-forwarded-client-cert element has two Hash")
			}
			hashV, haveHash = v, true
		}
	}
	var fromHash string
	if haveHash {
		sum, err := hex.DecodeString(hashV)
		if err != nil || len(sum) != 32 {
			return "", errClientCert("x-forwarded-client-cert Hash is not a hex SHA-256 digest")
		}
		fromHash = base64.RawURLEncoding.EncodeToString(sum)
	}
	if !haveCert {
		if !haveHash {
			return "", errClientCert("x-forwarded-client-cert element has neither Cert nor Hash")
		}
		return fromHash, nil
	}
	thumb, err := escapedPEMThumbprint(certV)
	if err != nil {
		return "", err
	}
	if haveHash && thumb != fromHash {
		return "", errClientCert("x-forwarded-client-cert Hash and Cert disagree")
	}
	return thumb, nil
}

// derThumbprint checks that der is one DER certificate in outline (a
// SEQUENCE of the to-be-signed part, the algorithm and the signature bit
// string, nothing after it) and returns its thumbprint. The certificate is
// not parsed further: the proxy validated it.
func derThumbprint(der []byte) (string, error) {
	var outline struct {
		TBS asn1.RawValue
		Alg asn1.RawValue
		Sig asn1.BitString
	}
	rest, err := asn1.Unmarshal(der, &outline)
	if err != nil || len(rest) > 0 || outline.TBS.Tag != asn1.TagSequence || outline.Alg.Tag != asn1.TagSequence {
		return "", errClientCert("the certificate is not DER")
	}
	return validate.CertificateThumbprint(der), nil
}
