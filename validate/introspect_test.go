package validate_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/validate"
)

// RFC 9449 Figures 10 and 11 (§6.2, introspection of a DPoP-bound token).
const (
	insFig10Auth  = "Basic cnM6cnM6TWt1LTZnX2xDektJZHo0ZnNON2tZY3lhK1Rp"
	insFig10Token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	insFig11      = `{
  "active": true,
  "sub": "someone@example.com",
  "iss": "https://server.example.com",
  "nbf": 1562262611,
  "exp": 1562266216,
  "cnf": {
    "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
  }
}`
	insJKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	insNow = 1562262618 // 2019-07-04T17:50:18Z, the iat of RFC 9449 Figure 13
)

var insClock = func() time.Time { return time.Unix(insNow, 0) }

// insRequest is what the test authorization server saw.
type insRequest struct {
	method, path, contentType, accept, auth string
	rawBody                                 string
	form                                    url.Values
}

// insAS is a test introspection endpoint.
type insAS struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	reqs []insRequest
}

func newInsAS(t *testing.T, useTLS bool, h http.HandlerFunc) *insAS {
	t.Helper()
	a := &insAS{}
	wrapped := func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		a.mu.Lock()
		a.reqs = append(a.reqs, insRequest{
			method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
			accept: r.Header.Get("Accept"), auth: r.Header.Get("Authorization"),
			rawBody: string(body), form: form,
		})
		a.mu.Unlock()
		h(w, r)
	}
	if useTLS {
		a.Server = httptest.NewTLSServer(http.HandlerFunc(wrapped))
	} else {
		a.Server = httptest.NewServer(http.HandlerFunc(wrapped))
	}
	t.Cleanup(a.Close)
	return a
}

func (a *insAS) last(t *testing.T) insRequest {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.reqs) == 0 {
		t.Fatal("no request reached the introspection endpoint")
	}
	return a.reqs[len(a.reqs)-1]
}

// introspector returns an Introspector for a, with Basic authentication, the
// server's client and the RFC 9449 example clock unless opts override them.
func (a *insAS) introspector(t *testing.T, opts ...validate.Option) *validate.Introspector {
	t.Helper()
	base := []validate.Option{validate.HTTPClient(a.Client()), validate.Clock(insClock)}
	i, err := validate.NewIntrospector(a.URL+"/as/introspect.oauth2", append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func insJSON(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func insBasic() validate.Option { return validate.ClientSecretBasic("rs", "secret") }

// insWantErr checks the code and reason of err, and that err never carries
// the token.
func insWantErr(t *testing.T, err error, token string, code popguard.ErrorCode, reason popguard.Reason) *popguard.Error {
	t.Helper()
	var pe *popguard.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *popguard.Error", err)
	}
	if pe.Code != code || pe.Reason != reason {
		t.Fatalf("err = %v, want %s (%s)", err, code, reason)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		t.Fatalf("error message %q contains the token", err)
	}
	if code == popguard.CodeTemporarilyUnavailable && pe.Description != "The token could not be introspected" {
		t.Fatalf("description = %q", pe.Description)
	}
	return pe
}

func TestIntrospectRFC9449Figures10And11(t *testing.T) {
	as := newInsAS(t, true, insJSON(insFig11))
	i := as.introspector(t, validate.ClientSecretBasic("rs", "rs:Mku-6g_lCzKIdz4fsN7kYcya+Ti"),
		validate.ExpectIssuer("https://server.example.com", true))
	tok, err := i.VerifyToken(t.Context(), insFig10Token)
	if err != nil {
		t.Fatal(err)
	}

	// Figure 10: the request.
	r := as.last(t)
	if r.method != http.MethodPost || r.path != "/as/introspect.oauth2" {
		t.Errorf("request = %s %s", r.method, r.path)
	}
	if r.contentType != "application/x-www-form-urlencoded" || r.accept != "application/json" {
		t.Errorf("Content-Type = %q, Accept = %q", r.contentType, r.accept)
	}
	if got := r.form.Get("token"); got != insFig10Token {
		t.Errorf("token = %q (raw body %q)", got, r.rawBody)
	}
	if got := r.form.Get("token_type_hint"); got != "access_token" {
		t.Errorf("token_type_hint = %q", got)
	}
	if len(r.form) != 2 {
		t.Errorf("form = %v, want token and token_type_hint only", r.form)
	}

	// Figure 10's header decodes to "rs:rs:Mku-6g_lCzKIdz4fsN7kYcya+Ti".
	// RFC 7617 splits at the first colon (a user-id cannot hold one): client
	// id "rs", secret "rs:Mku-6g_lCzKIdz4fsN7kYcya+Ti".
	figID, figSecret := insSplitBasic(t, insFig10Auth)
	if figID != "rs" || figSecret != "rs:Mku-6g_lCzKIdz4fsN7kYcya+Ti" {
		t.Fatalf("Figure 10 decodes to %q / %q", figID, figSecret)
	}
	// RFC 6749 §2.3.1 form-encodes id and secret first, so the header is not
	// Figure 10's bytes, but a conforming server recovers the same
	// credentials from it.
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("rs:rs%3AMku-6g_lCzKIdz4fsN7kYcya%2BTi"))
	if r.auth != want {
		t.Errorf("Authorization = %q, want %q", r.auth, want)
	}
	id, secret := insSplitBasic(t, r.auth)
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil || id != figID || secret != figSecret {
		t.Errorf("server decodes %q / %q, want Figure 10's %q / %q", id, secret, figID, figSecret)
	}
	// Whereas form-decoding Figure 10's own header (unencoded "+") would
	// turn the secret's "+" into a space: the interop hazard of §2.3.1.
	if s, _ := url.QueryUnescape(figSecret); s == figSecret {
		t.Errorf("Figure 10 secret survives form-decoding unchanged: %q", s)
	}

	// Figure 11: the response.
	if tok.Subject != "someone@example.com" || tok.Issuer != "https://server.example.com" {
		t.Errorf("sub = %q, iss = %q", tok.Subject, tok.Issuer)
	}
	if tok.Cnf.JKT != insJKT || !tok.Cnf.Bound() {
		t.Errorf("cnf = %+v", tok.Cnf)
	}
	if !tok.NotBefore.Equal(time.Unix(1562262611, 0)) || !tok.Expiry.Equal(time.Unix(1562266216, 0)) {
		t.Errorf("nbf = %v, exp = %v", tok.NotBefore, tok.Expiry)
	}
	if tok.Claims["active"] != true || tok.Claims["sub"] != "someone@example.com" {
		t.Errorf("claims = %v", tok.Claims)
	}
	if cnf, ok := tok.Claims["cnf"].(map[string]any); !ok || cnf["jkt"] != insJKT {
		t.Errorf("claims cnf = %v", tok.Claims["cnf"])
	}
	// The resource server checks the binding itself (RFC 9449 §6.2).
	if err := validate.CheckDPoPBinding(tok, &validate.Proof{Thumbprint: insJKT}); err != nil {
		t.Errorf("binding to the Figure 13 proof key: %v", err)
	}
}

func insSplitBasic(t *testing.T, header string) (string, string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(header, "Basic "))
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		t.Fatalf("no colon in %q", raw)
	}
	return id, secret
}

func TestIntrospectFields(t *testing.T) {
	as := newInsAS(t, false, insJSON(`{"active":true,"iss":"https://as","sub":"alice","client_id":"s6BhdRkqt3",
		"aud":["https://other","https://api"],"scope":"read  write","jti":"j1","iat":1562262600,
		"exp":1562262700,"nbf":1562262600,"token_type":"Bearer","username":"alice@example.com","ext":{"a":[1,2]}}`))
	i := as.introspector(t, insBasic(), validate.ExpectIssuer("https://as", false), validate.Audience("https://api"))
	tok, err := i.VerifyToken(t.Context(), "opaque-token")
	if err != nil {
		t.Fatal(err)
	}
	if tok.Issuer != "https://as" || tok.Subject != "alice" || tok.ClientID != "s6BhdRkqt3" || tok.ID != "j1" {
		t.Errorf("token = %+v", tok)
	}
	if strings.Join(tok.Audience, ",") != "https://other,https://api" || strings.Join(tok.Scopes, ",") != "read,write" {
		t.Errorf("aud = %v, scopes = %v", tok.Audience, tok.Scopes)
	}
	if !tok.IssuedAt.Equal(time.Unix(1562262600, 0)) || !tok.Expiry.Equal(time.Unix(1562262700, 0)) ||
		!tok.NotBefore.Equal(time.Unix(1562262600, 0)) {
		t.Errorf("iat = %v, exp = %v, nbf = %v", tok.IssuedAt, tok.Expiry, tok.NotBefore)
	}
	if tok.Cnf.Bound() {
		t.Errorf("cnf = %+v, want unbound", tok.Cnf)
	}
	if tok.Claims["username"] != "alice@example.com" || tok.Claims["token_type"] != "Bearer" {
		t.Errorf("claims = %v", tok.Claims)
	}
}

func TestIntrospectAccepts(t *testing.T) {
	for name, body := range map[string]string{
		"minimal":                  `{"active":true}`,
		"token_type dpop":          `{"active":true,"token_type":"dpop","cnf":{"jkt":"` + insJKT + `"}}`,
		"token_type DPoP":          `{"active":true,"token_type":"DPoP","cnf":{"jkt":"` + insJKT + `"}}`,
		"jkt without token_type":   `{"active":true,"cnf":{"jkt":"` + insJKT + `"}}`,
		"Bearer with mTLS binding": `{"active":true,"token_type":"Bearer","cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}`,
		"no iss, no aud":           `{"active":true,"sub":"x"}`,
		"aud string":               `{"active":true,"aud":"https://api"}`,
		"nbf within leeway":        `{"active":true,"nbf":1562262628}`,
		"exp one second ahead":     `{"active":true,"exp":1562262619}`,
		"fractional exp":           `{"active":true,"exp":1562262618.5}`,
		"unknown members":          `{"active":true,"x":{"y":[null,false,1e3,"z"]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			as := newInsAS(t, false, insJSON(body))
			i := as.introspector(t, insBasic(), validate.ExpectIssuer("https://as", false), validate.Audience("https://api"))
			if _, err := i.VerifyToken(t.Context(), "opaque-token"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestIntrospectRejects(t *testing.T) {
	const (
		inv   = popguard.CodeInvalidToken
		unav  = popguard.CodeTemporarilyUnavailable
		dpop  = `"cnf":{"jkt":"` + insJKT + `"}`
		later = 1562262618 + 3600
	)
	for _, c := range []struct {
		name   string
		body   string
		code   popguard.ErrorCode
		reason popguard.Reason
	}{
		{"inactive", `{"active":false}`, inv, popguard.ReasonTokenInactive},
		{"inactive with claims", `{"active":false,"sub":"x","exp":1562266216}`, inv, popguard.ReasonTokenInactive},
		{"active string", `{"active":"true","sub":"x"}`, inv, popguard.ReasonTokenInactive},
		{"active number", `{"active":1}`, inv, popguard.ReasonTokenInactive},
		{"active null", `{"active":null}`, inv, popguard.ReasonTokenInactive},
		{"active array", `{"active":[true]}`, inv, popguard.ReasonTokenInactive},
		{"active missing", `{"sub":"x","exp":1562266216}`, inv, popguard.ReasonTokenInactive},
		{"empty object", `{}`, inv, popguard.ReasonTokenInactive},
		{"expired", `{"active":true,"exp":1562262617}`, inv, popguard.ReasonTokenExpired},
		{"exp now", `{"active":true,"exp":1562262618}`, inv, popguard.ReasonTokenExpired},
		{"nbf future", `{"active":true,"nbf":` + fmt.Sprint(later) + `}`, inv, popguard.ReasonTokenNotYetValid},
		{"iss mismatch", `{"active":true,"iss":"https://evil"}`, inv, popguard.ReasonTokenIssuer},
		{"iss case", `{"active":true,"iss":"https://AS"}`, inv, popguard.ReasonTokenIssuer},
		{"aud mismatch", `{"active":true,"aud":"https://other"}`, inv, popguard.ReasonTokenAudience},
		{"aud array mismatch", `{"active":true,"aud":["https://other","https://api/"]}`, inv, popguard.ReasonTokenAudience},
		{"aud empty array", `{"active":true,"aud":[]}`, inv, popguard.ReasonTokenAudience},
		{"Bearer with jkt", `{"active":true,"token_type":"Bearer",` + dpop + `}`, inv, popguard.ReasonTokenCnf},
		{"N_A with jkt", `{"active":true,"token_type":"N_A",` + dpop + `}`, inv, popguard.ReasonTokenCnf},
		{"DPoP without cnf", `{"active":true,"token_type":"DPoP"}`, inv, popguard.ReasonTokenCnf},
		{"DPoP with mTLS cnf", `{"active":true,"token_type":"DPoP","cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}`, inv, popguard.ReasonTokenCnf},
		{"cnf string", `{"active":true,"cnf":"` + insJKT + `"}`, inv, popguard.ReasonTokenCnf},
		{"cnf jkt URI", `{"active":true,"cnf":{"jkt":"urn:ietf:params:oauth:jwk-thumbprint:sha-256:` + insJKT + `"}}`, inv, popguard.ReasonTokenCnf},
		{"cnf two keys", `{"active":true,"cnf":{"jkt":"` + insJKT + `","x5t#S256":"abc"}}`, inv, popguard.ReasonTokenCnf},
		{"token_type number", `{"active":true,"token_type":1}`, inv, popguard.ReasonTokenClaims},
		{"exp string", `{"active":true,"exp":"1562266216"}`, inv, popguard.ReasonTokenClaims},
		{"exp negative", `{"active":true,"exp":-1}`, inv, popguard.ReasonTokenClaims},
		{"exp huge", `{"active":true,"exp":1e300}`, inv, popguard.ReasonTokenClaims},
		{"sub number", `{"active":true,"sub":42}`, inv, popguard.ReasonTokenClaims},
		{"scope array", `{"active":true,"scope":["read"]}`, inv, popguard.ReasonTokenClaims},
		{"duplicate active", `{"active":false,"active":true}`, unav, popguard.ReasonTokenKeySetUnavailable},
		{"duplicate sub", `{"active":true,"sub":"a","sub":"b"}`, unav, popguard.ReasonTokenKeySetUnavailable},
		{"duplicate in cnf", `{"active":true,"cnf":{"jkt":"` + insJKT + `","jkt":"` + insJKT + `"}}`, unav, popguard.ReasonTokenKeySetUnavailable},
		{"array", `[{"active":true}]`, unav, popguard.ReasonTokenKeySetUnavailable},
		{"bare true", `true`, unav, popguard.ReasonTokenKeySetUnavailable},
		{"string", `"active"`, unav, popguard.ReasonTokenKeySetUnavailable},
		{"two objects", `{"active":true}{"active":true}`, unav, popguard.ReasonTokenKeySetUnavailable},
		{"garbage", `<html><body>Service Unavailable</body></html>`, unav, popguard.ReasonTokenKeySetUnavailable},
		{"truncated", `{"active":true,"sub":"x"`, unav, popguard.ReasonTokenKeySetUnavailable},
		{"empty", ``, unav, popguard.ReasonTokenKeySetUnavailable},
		{"invalid UTF-8", "{\"active\":true,\"sub\":\"\xff\"}", unav, popguard.ReasonTokenKeySetUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			as := newInsAS(t, false, insJSON(c.body))
			i := as.introspector(t, insBasic(), validate.ExpectIssuer("https://as", false), validate.Audience("https://api"))
			const token = "secret-opaque-token"
			tok, err := i.VerifyToken(t.Context(), token)
			if tok != nil {
				t.Errorf("token = %+v, want nil", tok)
			}
			insWantErr(t, err, token, c.code, c.reason)
		})
	}
}

func TestIntrospectRequireIssuer(t *testing.T) {
	as := newInsAS(t, false, insJSON(`{"active":true,"sub":"x"}`))
	i := as.introspector(t, insBasic(), validate.ExpectIssuer("https://as", true))
	_, err := i.VerifyToken(t.Context(), "t")
	insWantErr(t, err, "", popguard.CodeInvalidToken, popguard.ReasonTokenIssuer)
}

func TestIntrospectHTTPFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		cause  string
	}{
		{"500", http.StatusInternalServerError, `{"active":true}`, "HTTP 500"},
		{"503", http.StatusServiceUnavailable, ``, "HTTP 503"},
		{"400", http.StatusBadRequest, `{"error":"invalid_request"}`, "HTTP 400"},
		{"204", http.StatusNoContent, ``, "HTTP 204"},
		{"201", http.StatusCreated, `{"active":true}`, "HTTP 201"},
		{"401 from the AS", http.StatusUnauthorized, `{"error":"invalid_client"}`, "HTTP 401"},
		{"403 from the AS", http.StatusForbidden, ``, "HTTP 403"},
	} {
		t.Run(c.name, func(t *testing.T) {
			as := newInsAS(t, true, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body)
			})
			const token = "secret-opaque-token"
			_, err := as.introspector(t, insBasic()).VerifyToken(t.Context(), token)
			pe := insWantErr(t, err, token, popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)
			if !strings.Contains(pe.Err.Error(), c.cause) {
				t.Errorf("cause = %v, want it to name %q", pe.Err, c.cause)
			}
			authErr := c.status == http.StatusUnauthorized || c.status == http.StatusForbidden
			if errors.Is(err, validate.ErrIntrospectAuth) != authErr {
				t.Errorf("errors.Is(err, ErrIntrospectAuth) = %v, want %v", !authErr, authErr)
			}
		})
	}
}

func TestIntrospectOversizedResponse(t *testing.T) {
	big := `{"active":true,"pad":"` + strings.Repeat("a", 2048) + `"}`
	as := newInsAS(t, false, insJSON(big))
	i := as.introspector(t, insBasic(), validate.MaxSize(1024))
	_, err := i.VerifyToken(t.Context(), "t")
	insWantErr(t, err, "", popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)

	// The default limit is 64 KiB.
	huge := `{"active":true,"pad":"` + strings.Repeat("a", 64<<10) + `"}`
	as = newInsAS(t, false, insJSON(huge))
	_, err = as.introspector(t, insBasic()).VerifyToken(t.Context(), "t")
	insWantErr(t, err, "", popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)

	// Exactly at the limit is fine.
	exact := `{"active":true,"pad":"` + strings.Repeat("a", 1024-len(`{"active":true,"pad":""}`)) + `"}`
	as = newInsAS(t, false, insJSON(exact))
	if _, err := as.introspector(t, insBasic(), validate.MaxSize(1024)).VerifyToken(t.Context(), "t"); err != nil {
		t.Fatal(err)
	}
}

func TestIntrospectSlowServer(t *testing.T) {
	release := make(chan struct{})
	as := newInsAS(t, false, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	// Runs before as.Close (cleanups are LIFO), so the handler returns.
	t.Cleanup(func() { close(release) })
	i := as.introspector(t, insBasic(), validate.Timeout(50*time.Millisecond))
	_, err := i.VerifyToken(t.Context(), "t")
	insWantErr(t, err, "", popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline", err)
	}

	// The caller's context is honoured too.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = as.introspector(t, insBasic()).VerifyToken(ctx, "t")
	insWantErr(t, err, "", popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)
}

func TestIntrospectUnreachable(t *testing.T) {
	as := newInsAS(t, false, insJSON(`{"active":true}`))
	i := as.introspector(t, insBasic())
	as.Close()
	_, err := i.VerifyToken(t.Context(), "secret-opaque-token")
	insWantErr(t, err, "secret-opaque-token", popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)
}

func TestIntrospectRedirectNotFollowed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		custom bool
	}{
		{"307 custom client", http.StatusTemporaryRedirect, true},
		{"308 custom client", http.StatusPermanentRedirect, true},
		{"302 custom client", http.StatusFound, true},
		{"307 default client", http.StatusTemporaryRedirect, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := newInsAS(t, !tc.custom, insJSON(`{"active":true}`))
			as := newInsAS(t, tc.custom, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/introspect", tc.status)
			})
			var i *validate.Introspector
			if tc.custom {
				// The TLS server's client follows redirects by default.
				i = as.introspector(t, insBasic())
			} else {
				var err error
				i, err = validate.NewIntrospector(as.URL+"/introspect", insBasic(), validate.Clock(insClock))
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err := i.VerifyToken(t.Context(), "t")
			pe := insWantErr(t, err, "", popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)
			if !strings.Contains(pe.Err.Error(), fmt.Sprint(tc.status)) {
				t.Errorf("cause = %v", pe.Err)
			}
			if as.hits.Load() != 1 || target.hits.Load() != 0 {
				t.Errorf("hits: endpoint %d, redirect target %d", as.hits.Load(), target.hits.Load())
			}
		})
	}
}

func TestIntrospectMalformedTokenNoRequest(t *testing.T) {
	as := newInsAS(t, false, insJSON(`{"active":true}`))
	i := as.introspector(t, insBasic())
	for name, token := range map[string]string{
		"empty":        "",
		"newline":      "abc\ndef",
		"CRLF":         "abc\r\nX-Injected: 1",
		"tab":          "abc\tdef",
		"NUL":          "abc\x00",
		"DEL":          "abc\x7f",
		"non-ASCII":    "abcé",
		"invalid UTF8": "abc\xff",
		"too long":     strings.Repeat("a", 16385),
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := i.VerifyToken(t.Context(), token)
			if tok != nil {
				t.Errorf("token = %+v, want nil", tok)
			}
			insWantErr(t, err, "", popguard.CodeInvalidToken, popguard.ReasonTokenMalformed)
		})
	}
	if n := as.hits.Load(); n != 0 {
		t.Fatalf("server hit %d times, want 0", n)
	}
	// The limits themselves pass: 16 KiB, and VSCHAR (RFC 6749 A.12)
	// including space.
	for _, token := range []string{strings.Repeat("a", 16384), "a b~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"} {
		if _, err := i.VerifyToken(t.Context(), token); err != nil {
			t.Fatalf("len %d: %v", len(token), err)
		}
		if got := as.last(t).form.Get("token"); got != token {
			t.Fatalf("server got token %q, want %q", got, token)
		}
	}
}

func TestIntrospectClientSecretPost(t *testing.T) {
	as := newInsAS(t, true, insJSON(`{"active":true}`))
	i := as.introspector(t, validate.ClientSecretPost("rs", "s3cr:t+/ &="))
	if _, err := i.VerifyToken(t.Context(), insFig10Token); err != nil {
		t.Fatal(err)
	}
	r := as.last(t)
	if r.auth != "" {
		t.Errorf("Authorization = %q, want none", r.auth)
	}
	want := url.Values{"token": {insFig10Token}, "token_type_hint": {"access_token"}, "client_id": {"rs"}, "client_secret": {"s3cr:t+/ &="}}
	if r.form.Encode() != want.Encode() {
		t.Errorf("form = %v, want %v", r.form, want)
	}
}

func TestIntrospectBearerAuth(t *testing.T) {
	as := newInsAS(t, true, insJSON(`{"active":true}`))
	i := as.introspector(t, validate.BearerAuth("rs-access-token=="))
	if _, err := i.VerifyToken(t.Context(), "t"); err != nil {
		t.Fatal(err)
	}
	r := as.last(t)
	if r.auth != "Bearer rs-access-token==" {
		t.Errorf("Authorization = %q", r.auth)
	}
	if r.form.Has("client_id") || r.form.Has("client_secret") {
		t.Errorf("form = %v", r.form)
	}
}

func TestIntrospectOptions(t *testing.T) {
	auth := insBasic()
	for name, c := range map[string]struct {
		endpoint string
		opts     []validate.Option
	}{
		"http non-loopback":      {"http://as.example.com/introspect", []validate.Option{auth}},
		"http private IP":        {"http://10.0.0.1/introspect", []validate.Option{auth}},
		"http loopback-ish name": {"http://localhost.example.com/introspect", []validate.Option{auth}},
		"ftp":                    {"ftp://127.0.0.1/introspect", []validate.Option{auth}},
		"relative":               {"/introspect", []validate.Option{auth}},
		"empty":                  {"", []validate.Option{auth}},
		"no host":                {"https:///introspect", []validate.Option{auth}},
		"userinfo":               {"https://rs:secret@as.example.com/introspect", []validate.Option{auth}},
		"fragment":               {"https://as.example.com/introspect#x", []validate.Option{auth}},
		"no auth":                {"https://as.example.com/introspect", nil},
		"two auths":              {"https://as.example.com/introspect", []validate.Option{auth, validate.BearerAuth("x")}},
		"basic empty id":         {"https://as.example.com/i", []validate.Option{validate.ClientSecretBasic("", "s")}},
		"basic empty secret":     {"https://as.example.com/i", []validate.Option{validate.ClientSecretBasic("rs", "")}},
		"post empty secret":      {"https://as.example.com/i", []validate.Option{validate.ClientSecretPost("rs", "")}},
		"bearer with space":      {"https://as.example.com/i", []validate.Option{validate.BearerAuth("a b")}},
		"bearer with newline":    {"https://as.example.com/i", []validate.Option{validate.BearerAuth("a\r\nb")}},
		"bearer empty":           {"https://as.example.com/i", []validate.Option{validate.BearerAuth("")}},
		"nil client":             {"https://as.example.com/i", []validate.Option{auth, validate.HTTPClient(nil)}},
		"zero timeout":           {"https://as.example.com/i", []validate.Option{auth, validate.Timeout(0)}},
		"empty issuer":           {"https://as.example.com/i", []validate.Option{auth, validate.ExpectIssuer("", false)}},
		"no audience":            {"https://as.example.com/i", []validate.Option{auth, validate.Audience()}},
		"empty audience":         {"https://as.example.com/i", []validate.Option{auth, validate.Audience("a", "")}},
		"nil clock":              {"https://as.example.com/i", []validate.Option{auth, validate.Clock(nil)}},
		"tiny MaxSize":           {"https://as.example.com/i", []validate.Option{auth, validate.MaxSize(10)}},
		"negative MaxSize":       {"https://as.example.com/i", []validate.Option{auth, validate.MaxSize(-1)}},
	} {
		if i, err := validate.NewIntrospector(c.endpoint, c.opts...); err == nil {
			t.Errorf("%s: NewIntrospector = %v, want an error", name, i)
		}
	}
	for _, ep := range []string{
		"https://as.example.com/introspect", "https://as.example.com:8443/as/introspect.oauth2?tenant=a",
		"http://127.0.0.1:8080/introspect", "http://127.0.0.2/introspect", "http://[::1]:9/introspect",
		"http://localhost/introspect", "http://LOCALHOST:1/introspect",
	} {
		i, err := validate.NewIntrospector(ep, auth, validate.ExpectIssuer("https://as", true),
			validate.Audience("https://api"), validate.Timeout(time.Second),
			validate.MaxSize(4096), validate.HTTPClient(http.DefaultClient))
		if err != nil {
			t.Errorf("%s: %v", ep, err)
			continue
		}
		if i.Endpoint() != ep {
			t.Errorf("Endpoint() = %q", i.Endpoint())
		}
	}
	// HTTPClient works on a copy: the caller's client is untouched.
	if http.DefaultClient.CheckRedirect != nil {
		t.Error("HTTPClient modified the caller's client")
	}
}

// insMutableClock is a clock tests move forward.
type insMutableClock struct{ unix atomic.Int64 }

func (c *insMutableClock) now() time.Time { return time.Unix(c.unix.Load(), 0) }

func TestIntrospectTokenCache(t *testing.T) {
	clock := &insMutableClock{}
	clock.unix.Store(insNow)
	newCached := func(t *testing.T, h http.HandlerFunc) (*insAS, *validate.TokenCache) {
		as := newInsAS(t, false, h)
		i := as.introspector(t, insBasic(), validate.Clock(clock.now))
		c, err := validate.NewTokenCache(i, validate.Clock(clock.now))
		if err != nil {
			t.Fatal(err)
		}
		return as, c
	}

	t.Run("active token cached until exp", func(t *testing.T) {
		clock.unix.Store(insNow)
		as, c := newCached(t, insJSON(`{"active":true,"sub":"a","exp":`+fmt.Sprint(insNow+60)+`}`))
		for range 2 {
			tok, err := c.VerifyToken(t.Context(), "tok-a")
			if err != nil || tok.Subject != "a" {
				t.Fatalf("tok = %v, err = %v", tok, err)
			}
		}
		if n := as.hits.Load(); n != 1 {
			t.Fatalf("hits = %d, want 1", n)
		}
		// Another token is another entry.
		if _, err := c.VerifyToken(t.Context(), "tok-b"); err != nil {
			t.Fatal(err)
		}
		if n := as.hits.Load(); n != 2 {
			t.Fatalf("hits = %d, want 2", n)
		}
		// RFC 7662 §4: never cached beyond exp. The endpoint is asked again
		// and its (now expired) answer rejected.
		clock.unix.Store(insNow + 60)
		_, err := c.VerifyToken(t.Context(), "tok-a")
		insWantErr(t, err, "", popguard.CodeInvalidToken, popguard.ReasonTokenExpired)
		if n := as.hits.Load(); n != 3 {
			t.Fatalf("hits = %d, want 3", n)
		}
	})

	t.Run("inactive never cached", func(t *testing.T) {
		clock.unix.Store(insNow)
		as, c := newCached(t, insJSON(`{"active":false}`))
		for range 2 {
			_, err := c.VerifyToken(t.Context(), "tok")
			insWantErr(t, err, "", popguard.CodeInvalidToken, popguard.ReasonTokenInactive)
		}
		if n := as.hits.Load(); n != 2 {
			t.Fatalf("hits = %d, want 2", n)
		}
	})

	t.Run("unavailable never cached", func(t *testing.T) {
		clock.unix.Store(insNow)
		var fail atomic.Bool
		fail.Store(true)
		as, c := newCached(t, func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			insJSON(`{"active":true}`)(w, r)
		})
		for range 2 {
			_, err := c.VerifyToken(t.Context(), "tok")
			insWantErr(t, err, "", popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)
		}
		fail.Store(false)
		if _, err := c.VerifyToken(t.Context(), "tok"); err != nil {
			t.Fatal(err)
		}
		if n := as.hits.Load(); n != 3 {
			t.Fatalf("hits = %d, want 3", n)
		}
	})

	t.Run("already expired not cached", func(t *testing.T) {
		clock.unix.Store(insNow)
		var exp atomic.Int64
		exp.Store(insNow + 1)
		as, c := newCached(t, func(w http.ResponseWriter, r *http.Request) {
			insJSON(fmt.Sprintf(`{"active":true,"exp":%d}`, exp.Load()))(w, r)
		})
		if _, err := c.VerifyToken(t.Context(), "tok"); err != nil {
			t.Fatal(err)
		}
		clock.unix.Store(insNow + 1) // exp reached: the cached entry is dropped
		exp.Store(insNow + 100)      // and the server now says a later exp
		tok, err := c.VerifyToken(t.Context(), "tok")
		if err != nil || !tok.Expiry.Equal(time.Unix(insNow+100, 0)) {
			t.Fatalf("tok = %v, err = %v", tok, err)
		}
		if n := as.hits.Load(); n != 2 {
			t.Fatalf("hits = %d, want 2", n)
		}
	})
}

func TestIntrospectConcurrent(t *testing.T) {
	as := newInsAS(t, true, insJSON(insFig11))
	i := as.introspector(t, insBasic(), validate.ExpectIssuer("https://server.example.com", false))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			tok, err := i.VerifyToken(t.Context(), insFig10Token)
			if err != nil || tok.Cnf.JKT != insJKT {
				t.Errorf("tok = %v, err = %v", tok, err)
			}
		})
	}
	wg.Wait()
	if n := as.hits.Load(); n != 16 {
		t.Errorf("hits = %d, want 16", n)
	}
}

// A resource server validating opaque access tokens with the authorization
// server's RFC 7662 introspection endpoint, as in RFC 9449 Figures 10/11.
func ExampleNewIntrospector() {
	// The authorization server's introspection endpoint (normally elsewhere,
	// and always https).
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// RFC 6749 §2.3.1: the id and secret are form-encoded inside Basic.
		id, secret, _ := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if id != "rs" || secret != "Mku-6g_lCzKIdz4fsN7kYcya+Ti" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("token") != "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" {
			fmt.Fprint(w, `{"active":false}`)
			return
		}
		fmt.Fprint(w, `{"active":true,"sub":"someone@example.com","iss":"https://server.example.com",
			"scope":"read write","nbf":1562262611,"exp":1562266216,
			"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`)
	}))
	defer as.Close()

	introspector, err := validate.NewIntrospector(as.URL+"/as/introspect.oauth2",
		validate.ClientSecretBasic("rs", "Mku-6g_lCzKIdz4fsN7kYcya+Ti"),
		validate.ExpectIssuer("https://server.example.com", false),
		validate.Clock(func() time.Time { return time.Unix(1562262618, 0) }))
	if err != nil {
		log.Fatal(err)
	}
	// Cache answers (never beyond exp); the middleware does this by default.
	verifier, err := validate.NewTokenCache(introspector,
		validate.Clock(func() time.Time { return time.Unix(1562262618, 0) }))
	if err != nil {
		log.Fatal(err)
	}

	tok, err := verifier.VerifyToken(context.Background(), "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", tok.Subject)
	fmt.Println("scopes:", tok.Scopes)
	fmt.Println("jkt:", tok.Cnf.JKT)

	_, err = verifier.VerifyToken(context.Background(), "revoked")
	pe := popguard.AsError(err)
	fmt.Println("rejected:", pe.Code, pe.Reason)

	// Output:
	// subject: someone@example.com
	// scopes: [read write]
	// jkt: 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I
	// rejected: invalid_token token_inactive
}
