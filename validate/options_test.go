package validate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard/internal/sign"
)

// Every option applies to the constructors its doc names and is refused,
// with its name, by the others.
func TestOptionsApplyWhereDocumented(t *testing.T) {
	iss, err := sign.NewIssuer("https://issuer")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewStaticKeySet(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := NewJWTVerifier("https://issuer", keys, SkipAudienceCheck())
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Unix(1, 0) }
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(iss.JWKS()) }))
	defer jwks.Close()
	ctors := map[string]func(...Option) error{
		"JWTVerifier": func(o ...Option) error {
			_, err := NewJWTVerifier("https://issuer", keys, append([]Option{SkipAudienceCheck()}, o...)...)
			return err
		},
		"Introspector": func(o ...Option) error {
			_, err := NewIntrospector("https://as.example/introspect", append([]Option{BearerAuth("t")}, o...)...)
			return err
		},
		"ProofVerifier": func(o ...Option) error { _, err := NewProofVerifier(o...); return err },
		"SHRVerifier":   func(o ...Option) error { _, err := NewSHRVerifier(jwt, o...); return err },
		"TokenCache":    func(o ...Option) error { _, err := NewTokenCache(jwt, o...); return err },
		"RemoteKeySet": func(o ...Option) error {
			ks, err := NewRemoteKeySet(context.Background(), jwks.URL, o...)
			if err == nil {
				_ = ks.Close()
			}
			return err
		},
	}
	for _, c := range []struct {
		opt   Option
		where []string
	}{
		{Clock(now), []string{"JWTVerifier", "Introspector", "ProofVerifier", "SHRVerifier", "TokenCache"}},
		{Algs("ES256"), []string{"JWTVerifier", "ProofVerifier", "SHRVerifier"}},
		{MaxSize(2048), []string{"JWTVerifier", "Introspector", "ProofVerifier", "SHRVerifier"}},
		{MaxAge(time.Minute), []string{"ProofVerifier", "SHRVerifier", "TokenCache"}},
		{FutureSkew(time.Second), []string{"ProofVerifier", "SHRVerifier"}},
		{RSAKeySize(2048, 3072), []string{"ProofVerifier", "SHRVerifier"}},
		{Audience("https://api"), []string{"JWTVerifier", "Introspector"}},
		{Leeway(time.Second), []string{"JWTVerifier"}},
		{ExpectIssuer("https://as", true), []string{"Introspector"}},
		{MaxJTILength(64), []string{"ProofVerifier"}},
		{MSALBrowserCompat(), []string{"SHRVerifier"}},
		{CacheSize(10), []string{"TokenCache"}},
		{WaitForKeys(true), []string{"RemoteKeySet"}},
	} {
		for name, ctor := range ctors {
			err := ctor(c.opt)
			want := false
			for _, w := range c.where {
				want = want || w == name
			}
			switch {
			case want && err != nil:
				t.Errorf("%s on a %s: %v", c.opt.name, name, err)
			case !want && (err == nil || !strings.Contains(err.Error(), c.opt.name+" does not apply to a "+name)):
				t.Errorf("%s on a %s: error %v, want it refused by name", c.opt.name, name, err)
			}
		}
	}
}
