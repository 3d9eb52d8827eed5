package popguard_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// A report-only mode lets every valid request through, like Mixed, and
// reports the ones its stricter target would reject.
func ExampleReportOnly() {
	migrating := popguard.ReportOnly(popguard.DPoPOnly)
	fmt.Println(migrating, migrating.IsReportOnly())
	fmt.Println("accepts Bearer:", migrating.Accepts(popguard.Bearer))
	fmt.Println("target:", migrating.Target(), "accepts Bearer:", migrating.Target().Accepts(popguard.Bearer))

	for _, m := range []popguard.Mode{popguard.BearerOnly, popguard.Mixed, popguard.DPoPOnly, popguard.PoPOnly,
		popguard.ProofOnly, popguard.Accepting(popguard.Bearer, popguard.DPoP)} {
		fmt.Printf("%-16s Bearer %-5v DPoP %-5v PoP %v\n", m, m.Accepts(popguard.Bearer), m.Accepts(popguard.DPoP), m.Accepts(popguard.PoP))
	}
	// Output:
	// report-only(DPoP) true
	// accepts Bearer: true
	// target: DPoP accepts Bearer: false
	// Bearer           Bearer true  DPoP false PoP false
	// Bearer|DPoP|PoP  Bearer true  DPoP true  PoP true
	// DPoP             Bearer false DPoP true  PoP false
	// PoP              Bearer false DPoP false PoP true
	// DPoP|PoP         Bearer false DPoP true  PoP true
	// Bearer|DPoP      Bearer true  DPoP true  PoP false
}

// A handler behind the middleware reads the authenticated caller from the
// request context.
func ExampleFromContext() {
	// The authorization server (normally elsewhere) and the client's DPoP key.
	as := poptest.NewStaticIssuer("https://as.example.com")
	client := poptest.NewClient()

	keys := as.KeySet()
	tokens, err := validate.NewJWTVerifier(as.URL, keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := popguard.FromContext(r.Context()) // never nil behind the guard
		fmt.Println("scheme:", caller.Scheme)
		fmt.Println("subject:", caller.Subject, "client:", caller.ClientID)
		fmt.Println("may write:", caller.HasScope("orders:write"))
		fmt.Println("proof key is the client's:", caller.KeyThumbprint == client.Thumbprint())
	})
	h := guard.Require(popguard.DPoPOnly)(orders)

	at := as.Token(poptest.TokenOptions{Subject: "alice", ClientID: "shop-app", Audience: "https://api.example.com",
		Scope: "orders:read", DPoP: client})
	proof := client.Proof("GET", "https://api.example.com/orders", at, poptest.ProofOptions{})
	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("Authorization", "DPoP "+at)
	r.Header.Set("DPoP", proof)
	h.ServeHTTP(httptest.NewRecorder(), r)

	// Outside the middleware there is no caller.
	fmt.Println("unprotected:", popguard.FromContext(httptest.NewRequest("GET", "/", nil).Context()))
	// Output:
	// scheme: DPoP
	// subject: alice client: shop-app
	// may write: false
	// proof key is the client's: true
	// unprotected: <nil>
}

// Every popguard check returns an *Error: match its RFC error code with
// errors.Is and read its stable reason with errors.As (or popguard.ReasonOf).
func ExampleError() {
	proofs, err := validate.NewProofVerifier()
	if err != nil {
		log.Fatal(err)
	}
	client := poptest.NewClient()
	proof := client.Proof("GET", "https://api.example.com/orders", "", poptest.ProofOptions{})

	// The proof was made for GET; the request is a POST.
	_, err = proofs.Verify(proof, validate.ProofRequest{Method: "POST", Target: "https://api.example.com/orders"})
	err = fmt.Errorf("orders: %w", err) // wrapping keeps both working

	fmt.Println("invalid proof:", errors.Is(err, popguard.CodeInvalidDPoPProof))
	fmt.Println("invalid token:", errors.Is(err, popguard.CodeInvalidToken))
	fmt.Println("wrong method:", errors.Is(err, popguard.ReasonProofHTM))

	var pe *popguard.Error
	if errors.As(err, &pe) {
		fmt.Println("code:", pe.Code)
		fmt.Println("reason:", pe.Reason)
		fmt.Println("description:", pe.Description) // safe to send to the client
	}
	fmt.Println("ReasonOf:", popguard.ReasonOf(err))
	// Output:
	// invalid proof: true
	// invalid token: false
	// wrong method: true
	// code: invalid_dpop_proof
	// reason: proof_htm
	// description: The DPoP proof htm does not match the request method
	// ReasonOf: proof_htm
}

// Each route picks its Mode. The same three calls against a route in each
// mode: a Bearer token, a DPoP-bound token with its proof, and that bound
// token sent as a Bearer token without a proof, as a thief would: no mode
// accepts it. ReportOnly(DPoPOnly) answers like Mixed, but logs and counts
// the Bearer call that DPoPOnly would reject.
func ExampleMode() {
	as := poptest.NewStaticIssuer("https://as.example.com")
	client := poptest.NewClient()
	keys := as.KeySet()
	tokens, err := validate.NewJWTVerifier(as.URL, keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	bearer := as.Token(poptest.TokenOptions{Subject: "bob", ClientID: "legacy", Audience: "https://api.example.com"})
	bound := as.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app", Audience: "https://api.example.com", DPoP: client})
	status := func(h http.Handler, scheme, token string) int {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.Header.Set("Authorization", scheme+" "+token)
		if scheme == "DPoP" {
			proof := client.Proof("GET", "https://api.example.com/orders", token, poptest.ProofOptions{})
			r.Header.Set("DPoP", proof)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	fmt.Printf("%-18s %6s %5s %20s\n", "mode", "Bearer", "DPoP", "DPoP token as Bearer")
	for _, mode := range []popguard.Mode{popguard.BearerOnly, popguard.Mixed, popguard.ReportOnly(popguard.DPoPOnly),
		popguard.DPoPOnly, popguard.ProofOnly} {
		h := guard.Require(mode)(ok)
		fmt.Printf("%-18s %6d %5d %20d\n", mode,
			status(h, "Bearer", bearer), status(h, "DPoP", bound), status(h, "Bearer", bound))
	}
	// Output:
	// mode               Bearer  DPoP DPoP token as Bearer
	// Bearer                200   401                  401
	// Bearer|DPoP|PoP       200   200                  401
	// report-only(DPoP)     200   200                  401
	// DPoP                  401   200                  401
	// DPoP|PoP              401   200                  401
}
