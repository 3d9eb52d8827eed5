package otelpop_test

// Module-specific setup on top of poptest: the Guard under test and the
// caller's token.

import (
	"io"
	"log/slog"
	"testing"

	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

const (
	testIssuer   = "https://issuer.example.test"
	testAudience = poptest.DefaultAudience
)

// accessToken mints alice's RFC 9068 at+jwt; client, when not nil, binds it
// to the client's key for DPoP.
func accessToken(iss *poptest.Issuer, client *poptest.Client) string {
	return iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app",
		Scope: "accounts:read transfers:write", DPoP: client})
}

// newGuard builds a real Guard trusting iss through a static key set.
func newGuard(t testing.TB, iss *poptest.Issuer, opts ...middleware.Option) *middleware.Guard {
	t.Helper()
	tokens, err := validate.NewJWTVerifier(iss.URL, iss.KeySet(), validate.Audience(testAudience))
	if err != nil {
		t.Fatal(err)
	}
	base := []middleware.Option{
		middleware.WithTokens(tokens),
		middleware.WithPublicURL(testAudience),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	g, err := middleware.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}
