package middleware_test

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// exampleClientCert makes a self-signed client certificate (DER); real
// clients get theirs from a CA the TLS-terminating proxy trusts.
func exampleClientCert(name string) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return der
}

// Behind nginx terminating mutual TLS: the client certificate arrives as
// nginx's $ssl_client_escaped_cert (proxy_set_header X-SSL-Client-Cert
// $ssl_client_escaped_cert;), believed from the proxy at 10.0.0.2 only. A
// certificate-bound token (cnf.x5t#S256) is accepted with its certificate;
// the same header from another peer counts for nothing.
func ExampleWithForwardedClientCert() {
	iss, tokens, _ := exampleSetup()
	guard, err := middleware.New(
		middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example"),
		middleware.WithForwardedClientCert(middleware.ClientCertNginx, "X-SSL-Client-Cert", "10.0.0.2"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	api := guard.Require(popguard.BearerOnly)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", popguard.FromContext(r.Context()).Subject)
	}))

	cert, other := exampleClientCert("svc"), exampleClientCert("thief")
	tok := iss.Token(poptest.TokenOptions{Subject: "svc", ClientID: "svc", Audience: "https://api.example",
		Claims: map[string]any{"cnf": map[string]any{"x5t#S256": validate.CertificateThumbprint(cert)}}})
	escaped := func(der []byte) string { // as nginx writes it
		return url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	}
	call := func(what, peer string, der []byte) {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.RemoteAddr = peer
		r.Header.Set("Authorization", "Bearer "+tok)
		if der != nil {
			r.Header.Set("X-SSL-Client-Cert", escaped(der))
		}
		rr := httptest.NewRecorder()
		api.ServeHTTP(rr, r)
		fmt.Printf("%s: %d %s\n", what, rr.Code, cmp.Or(rr.Header().Get("WWW-Authenticate"), rr.Body.String()))
	}
	call("its certificate, through the proxy", "10.0.0.2:51000", cert)
	call("another certificate, through the proxy", "10.0.0.2:51000", other)
	call("no certificate, through the proxy", "10.0.0.2:51000", nil)
	call("its certificate, from elsewhere", "203.0.113.9:40000", cert)
	// Output:
	// its certificate, through the proxy: 200 hello svc
	// another certificate, through the proxy: 401 Bearer realm="api", error="invalid_token", error_description="The access token is bound to another client certificate"
	// no certificate, through the proxy: 401 Bearer realm="api", error="invalid_token", error_description="The access token is bound to a client certificate and none was presented"
	// its certificate, from elsewhere: 401 Bearer realm="api", error="invalid_token", error_description="The access token is bound to a client certificate and none was presented"
}

// A Bearer route that has moved to certificate-bound tokens: with
// RequireBoundToken, a token bound to the caller's certificate is accepted
// with it, and an unbound token is refused however much it grants.
func ExampleRequireBoundToken() {
	iss, tokens, _ := exampleSetup()
	guard, err := middleware.New(
		middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example"),
		middleware.WithForwardedClientCert(middleware.ClientCertRFC9440, "", "10.0.0.2"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	api := guard.Require(popguard.BearerOnly, middleware.RequireBoundToken())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", popguard.FromContext(r.Context()).Subject)
	}))

	cert := exampleClientCert("svc")
	bound := iss.Token(poptest.TokenOptions{Subject: "svc", ClientID: "svc", Audience: "https://api.example",
		Claims: map[string]any{"cnf": map[string]any{"x5t#S256": validate.CertificateThumbprint(cert)}}})
	unbound := iss.Token(poptest.TokenOptions{Subject: "legacy", ClientID: "legacy", Audience: "https://api.example"})
	for _, c := range []struct{ what, tok string }{{"certificate-bound", bound}, {"unbound", unbound}} {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.RemoteAddr = "10.0.0.2:5555" // the TLS-terminating proxy
		r.Header.Set("Authorization", "Bearer "+c.tok)
		r.Header.Set("Client-Cert", ":"+base64.StdEncoding.EncodeToString(cert)+":") // RFC 9440
		rr := httptest.NewRecorder()
		api.ServeHTTP(rr, r)
		fmt.Printf("%s: %d %s\n", c.what, rr.Code, cmp.Or(rr.Header().Get("WWW-Authenticate"), rr.Body.String()))
	}
	// Output:
	// certificate-bound: 200 hello svc
	// unbound: 401 Bearer realm="api", error="invalid_token", error_description="This resource accepts only access tokens bound to a key or a client certificate"
}
