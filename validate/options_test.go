package validate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// Every option applies to the constructors its doc names and is refused,
// with its name, by the others.
func TestOptionsApplyWhereDocumented(t *testing.T) {
	iss := poptest.NewStaticIssuer("https://issuer")
	keys, err := validate.NewStaticKeySet(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := validate.NewJWTVerifier("https://issuer", keys, validate.SkipAudienceCheck())
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Unix(1, 0) }
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(iss.JWKS()) }))
	defer jwks.Close()
	ctors := map[string]func(...validate.Option) error{
		"JWTVerifier": func(o ...validate.Option) error {
			_, err := validate.NewJWTVerifier("https://issuer", keys, append([]validate.Option{validate.SkipAudienceCheck()}, o...)...)
			return err
		},
		"Introspector": func(o ...validate.Option) error {
			_, err := validate.NewIntrospector("https://as.example/introspect", append([]validate.Option{validate.BearerAuth("t")}, o...)...)
			return err
		},
		"ProofVerifier": func(o ...validate.Option) error { _, err := validate.NewProofVerifier(o...); return err },
		"SHRVerifier":   func(o ...validate.Option) error { _, err := validate.NewSHRVerifier(jwt, o...); return err },
		"TokenCache":    func(o ...validate.Option) error { _, err := validate.NewTokenCache(jwt, o...); return err },
		"RemoteKeySet": func(o ...validate.Option) error {
			ks, err := validate.NewRemoteKeySet(context.Background(), jwks.URL, o...)
			if err == nil {
				_ = ks.Close()
			}
			return err
		},
	}
	for _, c := range []struct {
		opt   validate.Option
		where []string
	}{
		{validate.Clock(now), []string{"JWTVerifier", "Introspector", "ProofVerifier", "SHRVerifier", "TokenCache"}},
		{validate.Algs("ES256"), []string{"JWTVerifier", "ProofVerifier", "SHRVerifier"}},
		{validate.MaxSize(2048), []string{"JWTVerifier", "Introspector", "ProofVerifier", "SHRVerifier"}},
		{validate.MaxAge(time.Minute), []string{"ProofVerifier", "SHRVerifier", "TokenCache"}},
		{validate.FutureSkew(time.Second), []string{"ProofVerifier", "SHRVerifier"}},
		{validate.RSAKeySize(2048, 3072), []string{"ProofVerifier", "SHRVerifier"}},
		{validate.Audience("https://api"), []string{"JWTVerifier", "Introspector"}},
		{validate.Leeway(time.Second), []string{"JWTVerifier"}},
		{validate.ExpectIssuer("https://as", true), []string{"Introspector"}},
		{validate.MaxJTILength(64), []string{"ProofVerifier"}},
		{validate.MSALBrowserCompat(), []string{"SHRVerifier"}},
		{validate.CacheSize(10), []string{"TokenCache"}},
		{validate.WaitForKeys(true), []string{"RemoteKeySet"}},
	} {
		for name, ctor := range ctors {
			err := ctor(c.opt)
			want := false
			for _, w := range c.where {
				want = want || w == name
			}
			switch {
			case want && err != nil:
				t.Errorf("%s on a %s: %v", validate.OptionName(c.opt), name, err)
			case !want && (err == nil || !strings.Contains(err.Error(), validate.OptionName(c.opt)+" does not apply to a "+name)):
				t.Errorf("%s on a %s: error %v, want it refused by name", validate.OptionName(c.opt), name, err)
			}
		}
	}
}
