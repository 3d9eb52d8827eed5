// Package popguard protects OAuth 2.0 resource servers against stolen access
// tokens: pick a [Mode] for each route (Bearer, DPoP or Microsoft PoP), guard
// the route with a [github.com/popguard/popguard/middleware.Guard], and read
// the caller's [Result] in the handler with [FromContext].
//
// The whole net/http setup, for an issuer that publishes its keys as a JWKS:
//
//	keys, err := validate.NewRemoteKeySet(context.Background(), "https://login.example.com/.well-known/jwks.json")
//	if err != nil { log.Fatal(err) }
//	defer keys.Close()
//	tokens, err := validate.NewJWTVerifier("https://login.example.com", keys,
//		validate.Audience("https://api.example.com"))
//	if err != nil { log.Fatal(err) }
//	guard, err := middleware.New(middleware.WithTokens(tokens),
//		middleware.WithPublicURL("https://api.example.com")) // the URL clients sign
//	if err != nil { log.Fatal(err) }
//	defer guard.Close()
//
//	mux := http.NewServeMux()
//	mux.Handle("/transfers/", guard.Require(popguard.DPoPOnly)(http.HandlerFunc(hello))) // proof required
//	mux.Handle("/accounts/", guard.Require(popguard.Mixed)(http.HandlerFunc(hello)))     // Bearer still accepted
//	log.Fatal(http.ListenAndServe(":8080", mux))
//
//	func hello(w http.ResponseWriter, r *http.Request) {
//		caller := popguard.FromContext(r.Context()) // never nil behind guard.Require
//		fmt.Fprintf(w, "hello %s, you used %s\n", caller.Subject, caller.Scheme)
//	}
//
// This root package holds the vocabulary the others share and does no I/O:
// the credential schemes ([Scheme]), the per-route modes ([Mode], with
// [ReportOnly] for migrations), the [Result] of a successful check, and the
// typed [Error] with its RFC error code and stable [Reason]. The work is
// split into small packages, each with its starting point:
//
//   - middleware: the net/http glue. Start from middleware.New, which returns
//     a Guard; Guard.Require wraps a handler, Guard.Route prepares a Route
//     whose Check serves other frameworks (see adapters/ginpop and
//     adapters/echopop). Next to chi's or echo's own middleware package,
//     import it as popmw.
//   - validate: the checks themselves, with no HTTP server code: a
//     JWTVerifier (or an Introspector for opaque tokens) over a RemoteKeySet
//     or StaticKeySet, a ProofVerifier for DPoP (RFC 9449) and an SHRVerifier
//     for Microsoft PoP signed HTTP requests.
//   - nonce: stateless server nonces (RFC 9449 §8, §9) a fleet can share:
//     nonce.New returns a Source for middleware.WithNonces.
//   - replay: proof replay detection: replay.NewMemory (the default, one
//     instance) or, for a fleet, redisstore.New in replay/redisstore.
package popguard
