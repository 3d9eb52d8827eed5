package popguard_test

// The Go snippets of README.md, compiled. TestREADMESnippetsCompile checks
// that README.md shows exactly these bodies. Examples without an Output
// comment compile but do not run: these would listen and fetch keys.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/replay/redisstore"
	"github.com/popguard/popguard/validate"
)

func Example_quickStart() {
	ctx := context.Background()
	keys, err := validate.NewRemoteKeySet(ctx, "https://login.example.com/.well-known/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	tokens, err := validate.NewJWTVerifier("https://login.example.com", keys,
		validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}

	guard, err := middleware.New(
		middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com"), // the URL clients sign (htu)
	)
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	mux := http.NewServeMux()
	mux.Handle("/transfers/", guard.Require(popguard.DPoPOnly)(http.HandlerFunc(transfers))) // money moves: proof required
	mux.Handle("/accounts/", guard.Require(popguard.Mixed)(http.HandlerFunc(accounts)))      // migrating: Bearer still accepted
	mux.Handle("/reports/", guard.Require(popguard.ReportOnly(popguard.DPoPOnly))(http.HandlerFunc(accounts)))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

func transfers(w http.ResponseWriter, r *http.Request) {
	caller := popguard.FromContext(r.Context()) // Scheme, Subject, ClientID, Scopes, KeyThumbprint, Claims
	fmt.Fprintf(w, "transfer by %s, signed with key %s\n", caller.Subject, caller.KeyThumbprint)
}

func accounts(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "accounts of %s\n", popguard.FromContext(r.Context()).Subject)
}

// myTokens stands for the token verifier of the quick start.
func myTokens() validate.TokenVerifier {
	keys, err := validate.NewRemoteKeySet(context.Background(), "https://login.example.com/.well-known/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier("https://login.example.com", keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	return tokens
}

func Example_microsoftPoP() {
	issuer := "https://login.microsoftonline.com/TENANT/v2.0"
	entra, err := validate.Discover(context.Background(), issuer) // metadata, then its jwks_uri
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier(issuer, entra,
		validate.Audience("api://my-api"), validate.UseProfile(validate.Entra())) // v1 and v2 tokens of TENANT
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com"),
		middleware.WithPoP(validate.SHRRequireBody("POST", "PUT", "PATCH")))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
}

func Example_origin() {
	tokens := myTokens()
	// Best: the external origin (and path prefix) clients sign, fixed.
	byURL, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com/v1"))
	if err != nil {
		log.Fatal(err)
	}
	// A server reached under several names, behind a proxy or not: the hosts
	// clients may address, and the proxies whose X-Forwarded-* headers count.
	byHosts, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicHosts("api.example.com", "api.example.org:8443"),
		middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/8"))
	if err != nil {
		log.Fatal(err)
	}
	// Development only: the request's own Host, unchecked.
	dev, err := middleware.New(middleware.WithTokens(tokens), middleware.WithInsecureHostFromRequest())
	if err != nil {
		log.Fatal(err)
	}
	_, _, _ = byURL, byHosts, dev
}

func Example_certificateBound() {
	tokens := myTokens()
	// Direct mutual TLS: the Go TLS server asks for a client certificate and
	// verifies it; certificate-bound tokens are then accepted on every route
	// that takes Bearer, with their certificate only.
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	clientCAs := x509.NewCertPool() // the CA that issues your clients' certificates
	srv := &http.Server{
		Addr:      ":8443",
		Handler:   guard.Require(popguard.Mixed)(http.HandlerFunc(accounts)),
		TLSConfig: &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: clientCAs},
	}
	// Behind a proxy that terminates TLS: the certificate it forwards, in the
	// one form it uses, believed from its addresses only.
	behindNginx, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com"),
		middleware.WithForwardedClientCert(middleware.ClientCertNginx, "X-SSL-Client-Cert", "10.0.0.2"))
	if err != nil {
		log.Fatal(err)
	}
	defer behindNginx.Close()
	log.Fatal(srv.ListenAndServeTLS("server.pem", "server-key.pem"))
}

func Example_redisFleet() {
	client, err := redisstore.ParseURL("redis://10.0.0.5:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	guard, err := middleware.New(middleware.WithTokens(myTokens()), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithReplay(redisstore.New(client))) // one SET NX PX round trip per proof
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
}

func Example_replayQuota() {
	store, err := replay.NewMemory(replay.Capacity(500_000), replay.OwnerQuota(5_000))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(myTokens()), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithReplay(store))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
}

func Example_fleetNonces() {
	secret, oldSecret := []byte(os.Getenv("NONCE_SECRET")), []byte(os.Getenv("OLD_NONCE_SECRET"))
	client, err := redisstore.ParseURL(os.Getenv("REDIS_URL")) // redis://, rediss:// or unix://
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	nonces, err := nonce.New(secret, nonce.Scope("https://api.example.com"), // same secret on every instance
		nonce.Previous(oldSecret)) // accepted while rotating
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(myTokens()), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithReplay(redisstore.New(client, redisstore.Prefix("popguard:replay:payments:"))),
		middleware.WithNonces(nonces))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
}

func Example_freshness() {
	nonces, err := nonce.New([]byte(os.Getenv("NONCE_SECRET")), nonce.Scope("https://api.example.com"),
		nonce.Step(10*time.Second), nonce.Window(3), // a nonce lives 30 to 40 s
		nonce.FleetSkew(2*time.Second)) // the instances' clocks agree to 2 s
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(myTokens()), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithNonces(nonces))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	mux := http.NewServeMux()
	// Browsers and phones whose clocks may be off: the server's nonce dates the proof.
	mux.Handle("/checkout/", guard.Require(popguard.DPoPOnly,
		middleware.Freshness(validate.FreshnessNonce))(http.HandlerFunc(checkout)))
	// Servers with synchronized clocks, money moving: both must hold.
	mux.Handle("/transfers/", guard.Require(popguard.DPoPOnly,
		middleware.Freshness(validate.FreshnessBoth))(http.HandlerFunc(transfers)))
}

func checkout(w http.ResponseWriter, r *http.Request) {
	caller := popguard.FromContext(r.Context())
	tenant, _ := caller.Claims["tid"].(string)             // the issuer says so
	device, _ := caller.ClientClaims["device_id"].(string) // only the client says so
	fmt.Fprintf(w, "checkout for %s in tenant %s from device %q\n", caller.Subject, tenant, device)
}

func Example_migrationStats() {
	stats := middleware.NewMigrationStats()
	guard, err := middleware.New(middleware.WithTokens(myTokens()), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithMetrics(stats))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	admin := http.NewServeMux() // on a private listener
	admin.Handle("/debug/popguard", stats.Handler())
}

func Example_discovery() {
	ctx := context.Background()
	issuer := "https://keycloak.example.com/realms/payments"
	kc, err := validate.Discover(ctx, issuer) // OIDC discovery, then RFC 8414; issuer must match exactly
	if err != nil {
		log.Fatal(err)
	}
	defer kc.Close()
	tokens, err := validate.NewJWTVerifier(issuer, kc,
		validate.Audience("payments-api"), validate.UseProfile(validate.Keycloak()))
	if err != nil {
		log.Fatal(err)
	}
	// Opaque tokens of the same server: its introspection endpoint, from the same metadata.
	opaque, err := validate.NewIntrospector(kc.IntrospectionEndpoint(),
		validate.ClientSecretBasic("payments-api", os.Getenv("INTROSPECTION_SECRET")),
		validate.ExpectIssuer(issuer, true), validate.Audience("payments-api"))
	if err != nil {
		log.Fatal(err)
	}
	_, _ = tokens, opaque
}

func Example_entraMultiTenant() {
	ctx := context.Background()
	issuer := "https://login.microsoftonline.com/{tenantid}/v2.0"
	entra, err := validate.Discover(ctx, issuer) // the "common" metadata and keys
	if err != nil {
		log.Fatal(err)
	}
	defer entra.Close()
	tokens, err := validate.NewJWTVerifier(issuer, entra,
		validate.Audience("api://orders-api", "6e74172b-be56-4843-9ff4-e66a39bb12e3"),
		validate.UseProfile(validate.Entra()), // v1 and v2 tokens; typ JWT, scp, roles, tid
		validate.Tenants("72f988bf-86f1-41af-91ab-2d7cd011db47", "f8cdef31-a31e-4b4a-93e4-5f571e91255a"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://orders.example.com"), middleware.WithPoP())
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /orders/", guard.Require(popguard.Mixed,
		middleware.RequireScopes("Orders.Read"))(http.HandlerFunc(accounts))) // users, through a client app
	mux.Handle("POST /sync/", guard.Require(popguard.ProofOnly,
		middleware.RequireRoles("Orders.Sync"))(http.HandlerFunc(transfers))) // daemons with an app role
	log.Fatal(http.ListenAndServe(":8080", mux))
}

func Example_severalIssuers() {
	ctx := context.Background()
	var verifiers []*validate.JWTVerifier
	for _, c := range []struct {
		issuer  string
		profile validate.Profile
	}{
		{"https://payments.eu.auth0.com/", validate.Auth0()},
		{"https://example.okta.com/oauth2/default", validate.Okta()},
	} {
		as, err := validate.Discover(ctx, c.issuer)
		if err != nil {
			log.Fatal(err)
		}
		defer as.Close()
		v, err := validate.NewJWTVerifier(c.issuer, as,
			validate.Audience("https://payments.example.com"), validate.UseProfile(c.profile))
		if err != nil {
			log.Fatal(err)
		}
		verifiers = append(verifiers, v)
	}
	// A token is checked only against the keys of the issuer it names.
	tokens, err := validate.NewIssuerSet(verifiers...)
	if err != nil {
		log.Fatal(err)
	}
	_ = tokens // middleware.WithTokens(tokens)
}

func Example_customProfile() {
	p := validate.Keycloak()
	p.Name = "keycloak-payments"
	p.RoleClaims = append(p.RoleClaims, "resource_access.payments-api.roles") // client roles
	p.Types = []string{"at+jwt"}                                              // this realm issues RFC 9068 tokens only
	keys, err := validate.NewRemoteKeySet(context.Background(),
		"https://keycloak.example.com/realms/payments/protocol/openid-connect/certs")
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier("https://keycloak.example.com/realms/payments", keys,
		validate.Audience("payments-api"), validate.UseProfile(p))
	if err != nil {
		log.Fatal(err)
	}
	_ = tokens
}

func Example_resourceMetadata() {
	keys, err := validate.Discover(context.Background(), "https://login.example.com")
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	// The audience is the resource identifier: clients ask tokens for it
	// (RFC 8707), and New refuses a resource the verifier would not accept.
	tokens, err := validate.NewJWTVerifier("https://login.example.com", keys,
		validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(
		middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com"), // the resource identifier by default
		middleware.WithResourceMetadata(middleware.ResourceMetadata{
			Name:          "Payments API",
			Documentation: "https://docs.example.com/payments",
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	mux := http.NewServeMux()
	mux.Handle(guard.MetadataPath(), guard.MetadataHandler()) // /.well-known/oauth-protected-resource
	mux.Handle("/transfers/", guard.Require(popguard.DPoPOnly, middleware.RequireScopes("payments"))(http.HandlerFunc(transfers)))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
