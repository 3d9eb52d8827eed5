package validate_test

import (
	"context"
	"slices"
	"testing"

	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// nopVerifier is a TokenVerifier that tells nothing about itself.
type nopVerifier struct{}

func (nopVerifier) VerifyToken(context.Context, string) (*validate.Token, error) { return nil, nil }

func TestAcceptsAudienceAndIssuers(t *testing.T) {
	iss := poptest.NewStaticIssuer("https://a.test")
	keys, err := validate.NewStaticKeySet(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := validate.NewJWTVerifier("https://a.test", keys, validate.Audience("https://api.test", "api"))
	b, _ := validate.NewJWTVerifier("https://b.test", keys, validate.Audience("https://api.test"))
	anyAud, _ := validate.NewJWTVerifier("https://c.test", keys, validate.SkipAudienceCheck())
	set, err := validate.NewIssuerSet(a, b)
	if err != nil {
		t.Fatal(err)
	}
	intro, _ := validate.NewIntrospector("https://as.test/i", validate.ClientSecretBasic("c", "s"))
	introAud, _ := validate.NewIntrospector("https://as.test/i", validate.ClientSecretBasic("c", "s"), validate.Audience("api"))
	cache := func(v validate.TokenVerifier) *validate.TokenCache {
		c, err := validate.NewTokenCache(v)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, c := range []struct {
		name string
		v    interface{ AcceptsAudience(string) bool }
		aud  string
		want bool
	}{
		{"verifier, listed", a, "api", true},
		{"verifier, not listed", a, "https://api.test/", false},
		{"verifier, any audience", anyAud, "anything", true},
		{"set, every verifier", set, "https://api.test", true},
		{"set, one verifier only", set, "api", false},
		{"introspector without Audience", intro, "anything", true},
		{"introspector with Audience", introAud, "other", false},
		{"cache over a set", cache(set), "api", false},
		{"cache over a set, accepted", cache(set), "https://api.test", true},
		{"cache over a verifier of its own", cache(nopVerifier{}), "anything", true},
	} {
		if got := c.v.AcceptsAudience(c.aud); got != c.want {
			t.Errorf("%s: AcceptsAudience(%q) = %v, want %v", c.name, c.aud, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		c    *validate.TokenCache
		want []string
	}{
		{"verifier", cache(a), []string{"https://a.test"}},
		{"set", cache(set), []string{"https://a.test", "https://b.test"}},
		{"cache of a cache", cache(cache(set)), []string{"https://a.test", "https://b.test"}},
		{"introspector", cache(intro), nil},
	} {
		if got := c.c.Issuers(); !slices.Equal(got, c.want) {
			t.Errorf("%s: Issuers() = %q, want %q", c.name, got, c.want)
		}
	}
}
