package validate_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/validate"
)

// ksJWKS marshals keys (JWK member maps) as a JWK Set document.
func ksJWKS(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ksToken signs a valid access token (real clock) with k under kid.
func ksToken(t *testing.T, k *jwsKey, kid string) string {
	t.Helper()
	now := time.Now()
	hdr := map[string]any{"typ": "at+jwt"}
	if kid != "" {
		hdr["kid"] = kid
	}
	return jtSign(t, k, hdr, map[string]any{
		"iss": jtIssuer, "sub": "alice", "aud": jtAudience, "client_id": "client-1",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": jwsRandomID(),
	})
}

func ksVerifier(t *testing.T, keys validate.KeySet) *validate.JWTVerifier {
	t.Helper()
	v, err := validate.NewJWTVerifier(jtIssuer, keys, validate.Audience(jtAudience))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ksTry verifies token once. Polls use it while a remote set is changing:
// jtVerify's check that a traced run agrees would compare two runs that may
// see different sets.
func ksTry(v *validate.JWTVerifier, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := v.VerifyToken(ctx, token)
	return err
}

func ksCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestKeySetStaticJWKS(t *testing.T) {
	ec := newJWSKey("ES256")
	p384 := newJWSKey("ES384")
	p521 := newJWSKey("ES512")
	rsaK := jtRSAKey()
	ed := newJWSKey("EdDSA")
	enc := newJWSKey("ES256")
	secret := []byte("0123456789abcdef0123456789abcdef")
	doc := ksJWKS(t,
		ec.PublicJWK(map[string]any{"kid": "ec", "alg": "ES256", "use": "sig"}),
		p384.PublicJWK(map[string]any{"kid": "p384"}),
		p521.PublicJWK(map[string]any{"kid": "p521", "alg": "ES512"}),
		rsaK.PublicJWK(map[string]any{"kid": "rsa", "use": "sig"}),
		rsaK.PublicJWK(map[string]any{"kid": "rsa-rs256", "alg": "RS256"}),
		ed.PublicJWK(map[string]any{"kid": "ed", "alg": "EdDSA"}),
		map[string]any{"kty": "oct", "kid": "hmac", "alg": "HS256", "k": jtB64.EncodeToString(secret)},
		map[string]any{"kty": "oct", "kid": "hmac-noalg", "k": jtB64.EncodeToString(secret)},
		enc.PublicJWK(map[string]any{"kid": "enc", "use": "enc"}),
	)
	ks, err := validate.NewStaticKeySet(doc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ksCtx(t, 5*time.Second)
	all, err := ks.Keys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range all {
		kids = append(kids, k.KeyID)
	}
	if len(all) != 6 {
		t.Errorf("Keys(\"\") = %q, want the 6 public signing keys", kids)
	}
	for _, kid := range []string{"hmac", "hmac-noalg", "enc", "nope"} {
		if got, err := ks.Keys(ctx, kid); err != nil || len(got) != 0 {
			t.Errorf("Keys(%q) = %v, %v; want none", kid, got, err)
		}
	}
	if got, _ := ks.Keys(ctx, "ec"); len(got) != 1 || got[0].Algorithm != "ES256" || got[0].KeyID != "ec" {
		t.Errorf("Keys(ec) = %+v", got)
	}

	v := ksVerifier(t, ks)
	for _, c := range []struct {
		kid string
		key *jwsKey
	}{
		{"ec", ec}, {"p384", p384}, {"p521", p521}, {"rsa", rsaK}, {"rsa", jtWithAlg(rsaK, "PS256")},
		{"rsa", jtWithAlg(rsaK, "RS512")}, {"rsa-rs256", rsaK}, {"ed", ed}, {"ed", jtWithAlg(ed, "Ed25519")},
	} {
		t.Run(c.kid+" "+c.key.Alg, func(t *testing.T) {
			tok := jtAccept(t, v, ksToken(t, c.key, c.kid))
			if tok.SigningKeyID != c.kid {
				t.Errorf("SigningKeyID = %q", tok.SigningKeyID)
			}
		})
	}
	t.Run("no kid tries every key", func(t *testing.T) {
		jtAccept(t, v, ksToken(t, ed, ""))
		jtAccept(t, v, ksToken(t, rsaK, ""))
	})
	t.Run("alg pinned by the JWK", func(t *testing.T) {
		_, err := jtVerify(t, v, ksToken(t, jtWithAlg(rsaK, "PS256"), "rsa-rs256"))
		jtReject(t, err, popguard.ReasonTokenUnknownKey)
		_, err = jtVerify(t, v, ksToken(t, jtWithAlg(ec, "ES384"), "ec"))
		jtReject(t, err, popguard.ReasonTokenUnknownKey)
	})
	t.Run("symmetric key never used", func(t *testing.T) {
		hdr := map[string]any{"typ": "at+jwt", "kid": "hmac"}
		claims := map[string]any{
			"iss": jtIssuer, "sub": "alice", "aud": jtAudience, "client_id": "c", "jti": "j",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
		}
		for _, kid := range []string{"hmac", "hmac-noalg", ""} {
			hdr["kid"] = kid
			tok := jtHMAC(t, "HS256", secret, hdr, claims)
			_, err := jtVerify(t, v, tok)
			jtReject(t, err, popguard.ReasonTokenAlg)
			// A verifier with its own HMAC secret uses that secret, never
			// the oct key of the set.
			hv, err := validate.NewJWTVerifier(jtIssuer, ks, validate.Audience(jtAudience),
				validate.HMACSecret([]byte("another secret, at least 32 bytes long")))
			if err != nil {
				t.Fatal(err)
			}
			_, err = jtVerify(t, hv, tok)
			jtReject(t, err, popguard.ReasonTokenSignature)
		}
		// An asymmetric alg naming the oct key finds no key.
		_, err := jtVerify(t, v, ksToken(t, ec, "hmac"))
		jtReject(t, err, popguard.ReasonTokenUnknownKey)
	})
	t.Run("use enc key never used", func(t *testing.T) {
		_, err := jtVerify(t, v, ksToken(t, enc, "enc"))
		jtReject(t, err, popguard.ReasonTokenUnknownKey)
		_, err = jtVerify(t, v, ksToken(t, enc, ""))
		jtReject(t, err, popguard.ReasonTokenSignature)
	})
}

func TestKeySetStaticErrors(t *testing.T) {
	ec := newJWSKey("ES256")
	secret := jtB64.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	bad := map[string][]byte{
		"empty set":    []byte(`{"keys":[]}`),
		"empty":        nil,
		"not JSON":     []byte("not json"),
		"JSON array":   []byte(`[]`),
		"empty object": []byte(`{}`),
		"only oct":     ksJWKS(t, map[string]any{"kty": "oct", "k": secret, "kid": "h"}),
		"only enc":     ksJWKS(t, ec.PublicJWK(map[string]any{"use": "enc", "kid": "e"})),
		"unknown kty":  ksJWKS(t, map[string]any{"kty": "XYZ", "kid": "x"}),
	}
	for name, doc := range bad {
		if ks, err := validate.NewStaticKeySet(doc); err == nil {
			t.Errorf("%s: NewStaticKeySet succeeded: %+v", name, ks)
		}
	}
	// A single JWK is accepted as a set of one.
	one, err := json.Marshal(ec.PublicJWK(map[string]any{"kid": "solo"}))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := validate.NewStaticKeySet(one)
	if err != nil {
		t.Fatalf("single JWK: %v", err)
	}
	jtAccept(t, ksVerifier(t, ks), ksToken(t, ec, "solo"))
	// A JWKS holding a private key only yields its public half.
	d, err := ec.Signer.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := validate.NewStaticKeySet(ksJWKS(t, ec.PublicJWK(map[string]any{"kid": "x", "d": jtB64.EncodeToString(d)})))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := priv.Keys(ksCtx(t, 5*time.Second), "x")
	if len(got) != 1 {
		t.Fatalf("Keys(x) = %+v", got)
	}
	if _, ok := got[0].Key.(*ecdsa.PublicKey); !ok {
		t.Errorf("Key is %T, want *ecdsa.PublicKey", got[0].Key)
	}
	jtAccept(t, ksVerifier(t, priv), ksToken(t, ec, "x"))
}

func TestKeySetStaticKeys(t *testing.T) {
	a, b := newJWSKey("ES256"), newJWSKey("EdDSA")
	old := newJWSKey("ES256")
	ks, err := validate.StaticKeys(
		validate.PublicKey{KeyID: "a", Key: a.Signer.Public()},
		validate.PublicKey{KeyID: "b", Algorithm: "EdDSA", Key: b.Signer.Public()},
		validate.PublicKey{KeyID: "a", Key: old.Signer.Public()}, // same kid during rotation
		validate.PublicKey{Key: old.Signer.Public()},             // no kid
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ksCtx(t, 5*time.Second)
	if got, _ := ks.Keys(ctx, ""); len(got) != 4 {
		t.Errorf("Keys(\"\") has %d keys, want 4", len(got))
	}
	if got, _ := ks.Keys(ctx, "a"); len(got) != 2 {
		t.Errorf("Keys(a) has %d keys, want 2", len(got))
	}
	v := ksVerifier(t, ks)
	jtAccept(t, v, ksToken(t, a, "a"))
	jtAccept(t, v, ksToken(t, old, "a"))
	jtAccept(t, v, ksToken(t, b, "b"))
	jtAccept(t, v, ksToken(t, old, ""))
	_, err = jtVerify(t, v, ksToken(t, b, "a"))
	jtReject(t, err, popguard.ReasonTokenUnknownKey)
	_, err = jtVerify(t, v, ksToken(t, a, "c"))
	jtReject(t, err, popguard.ReasonTokenUnknownKey)
	_, err = jtVerify(t, v, ksToken(t, newJWSKey("ES256"), "a"))
	jtReject(t, err, popguard.ReasonTokenSignature)

	xk, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, keys := range map[string][]validate.PublicKey{
		"none":        nil,
		"nil key":     {{KeyID: "n"}},
		"private key": {{KeyID: "p", Key: a.Signer}},
		"X25519":      {{KeyID: "x", Key: xk.PublicKey()}},
		"bytes":       {{KeyID: "h", Key: []byte("0123456789abcdef0123456789abcdef")}},
		"one bad":     {{KeyID: "a", Key: a.Signer.Public()}, {KeyID: "s", Key: "secret"}},
	} {
		if ks, err := validate.StaticKeys(keys...); err == nil {
			t.Errorf("%s: StaticKeys succeeded: %+v", name, ks)
		}
	}
}

// ksServer serves a JWKS document and counts the requests.
type ksServer struct {
	srv     *httptest.Server
	hits    atomic.Int64
	body    atomic.Pointer[[]byte]
	mode    atomic.Int32 // ksOK, ksFail, ksGarbage, ksHang
	cache   atomic.Pointer[string]
	release chan struct{} // closed by unblock: ksHang requests then succeed
	once    sync.Once
}

const (
	ksOK int32 = iota
	ksFail
	ksGarbage
	ksHang // requests block until unblock, or until the client gives up
)

func newKSServer(t *testing.T, doc []byte) *ksServer {
	t.Helper()
	s := &ksServer{release: make(chan struct{})}
	s.set(doc)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.mode.Load() == ksHang {
			select {
			case <-s.release:
			case <-r.Context().Done():
				return
			}
		}
		if cc := s.cache.Load(); cc != nil {
			w.Header().Set("Cache-Control", *cc)
		}
		switch s.mode.Load() {
		case ksFail:
			http.Error(w, "down", http.StatusInternalServerError)
		case ksGarbage:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"keys":[{"kty":`))
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(*s.body.Load())
		}
	}))
	t.Cleanup(s.srv.Close)
	t.Cleanup(s.unblock) // before Close, which waits for hanging requests
	return s
}

// unblock releases the requests held by ksHang, now and later.
func (s *ksServer) unblock() { s.once.Do(func() { close(s.release) }) }

func (s *ksServer) set(doc []byte)        { s.body.Store(&doc) }
func (s *ksServer) cacheControl(v string) { s.cache.Store(&v) }
func (s *ksServer) url() string           { return s.srv.URL + "/.well-known/jwks.json" }

// ksPoll polls cond until it holds or the deadline passes.
func ksPoll(t *testing.T, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ksClient is an HTTP client without idle connections, so that closed key
// sets leave no goroutines behind.
func ksClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 2 * time.Second}
}

var ksQuiet = slog.New(slog.DiscardHandler)

// newRemote starts a RemoteKeySet on s and closes it at the end of the test.
func newRemote(t *testing.T, s *ksServer, opts ...validate.Option) *validate.RemoteKeySet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	all := append([]validate.Option{validate.HTTPClient(ksClient(t)), validate.KeySetLogger(ksQuiet)}, opts...)
	ks, err := validate.NewRemoteKeySet(ctx, s.url(), all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	return ks
}

func TestKeySetRemoteVerifies(t *testing.T) {
	iss := newJWSIssuer(jtIssuer)
	s := newKSServer(t, iss.JWKS())
	ks := newRemote(t, s)
	if n := s.hits.Load(); n != 1 {
		t.Errorf("construction made %d requests, want 1", n)
	}
	v := ksVerifier(t, ks)
	for range 20 {
		jtAccept(t, v, ksToken(t, iss.Key, iss.KID))
	}
	if !ks.Has(iss.KID) || ks.Has("other") {
		t.Errorf("Has(%s), Has(other) = %v, %v", iss.KID, ks.Has(iss.KID), ks.Has("other"))
	}
	_, err := jtVerify(t, v, ksToken(t, iss.Key, "other"))
	jtReject(t, err, popguard.ReasonTokenUnknownKey)
	_, err = jtVerify(t, v, ksToken(t, newJWSKey("ES256"), iss.KID))
	jtReject(t, err, popguard.ReasonTokenSignature)
	if n := s.hits.Load(); n != 1 {
		t.Errorf("verification made %d requests in all, want 1 (the unknown kid is within the minimum gap)", n)
	}
}

func TestKeySetRemoteRotation(t *testing.T) {
	iss1 := newJWSIssuer(jtIssuer)
	iss2 := newJWSIssuer(jtIssuer)
	s := newKSServer(t, iss1.JWKS())
	// A long max-age keeps the background refresh out of the way: the new
	// key can only arrive through the forced refresh on an unknown kid.
	s.cacheControl("max-age=3600")
	ks := newRemote(t, s, validate.KeySetRefresh(50*time.Millisecond, time.Hour))
	v := ksVerifier(t, ks)
	tok1 := ksToken(t, iss1.Key, iss1.KID)
	tok2 := ksToken(t, iss2.Key, iss2.KID)
	jtAccept(t, v, tok1)

	s.set(iss2.JWKS()) // rotate: the old key is gone
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := jtVerify(t, v, tok2)
		if err == nil {
			break
		}
		jtReject(t, err, popguard.ReasonTokenUnknownKey)
		if time.Now().After(deadline) {
			t.Fatalf("the rotated key never verified; %d requests", s.hits.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !ks.Has(iss2.KID) || ks.Has(iss1.KID) {
		t.Errorf("after rotation Has(new), Has(old) = %v, %v", ks.Has(iss2.KID), ks.Has(iss1.KID))
	}
	_, err := jtVerify(t, v, tok1)
	jtReject(t, err, popguard.ReasonTokenUnknownKey)

	// Overlap: both keys published, both verify.
	both := ksJWKS(t,
		iss1.Key.PublicJWK(map[string]any{"kid": iss1.KID}),
		iss2.Key.PublicJWK(map[string]any{"kid": iss2.KID}))
	s.set(both)
	ksPoll(t, 3*time.Second, func() bool {
		return ksTry(v, tok1) == nil
	}, func() string { return "the re-added key never verified" })
	jtAccept(t, v, tok2)
}

func ksStorm(t *testing.T, v *validate.JWTVerifier, k *jwsKey, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		tok := ksToken(t, k, jwsRandomID())
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := v.VerifyToken(ctx, tok)
			var pe *popguard.Error
			if !errors.As(err, &pe) || pe.Code != popguard.CodeInvalidToken || pe.Reason != popguard.ReasonTokenUnknownKey {
				errs <- fmt.Errorf("unknown kid: got %v, want invalid_token (%s)", err, popguard.ReasonTokenUnknownKey)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
		break
	}
}

func TestKeySetRemoteUnknownKidStorm(t *testing.T) {
	iss := newJWSIssuer(jtIssuer)
	t.Run("within the minimum gap", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		ks := newRemote(t, s, validate.KeySetRefresh(10*time.Minute, time.Hour))
		v := ksVerifier(t, ks)
		ksStorm(t, v, iss.Key, 200)
		if extra := s.hits.Load() - 1; extra > 2 {
			t.Errorf("200 unknown kids caused %d fetches beyond the initial one, want <= 2", extra)
		}
		jtAccept(t, v, ksToken(t, iss.Key, iss.KID))
	})
	t.Run("after the minimum gap", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.cacheControl("max-age=3600")
		ks := newRemote(t, s, validate.KeySetRefresh(400*time.Millisecond, time.Hour))
		v := ksVerifier(t, ks)
		time.Sleep(450 * time.Millisecond)
		ksStorm(t, v, iss.Key, 200)
		extra := s.hits.Load() - 1
		if extra < 1 || extra > 2 {
			t.Errorf("200 unknown kids caused %d fetches beyond the initial one, want 1 or 2", extra)
		}
	})
}

func TestKeySetRemoteKeepsKeysOnFailure(t *testing.T) {
	iss := newJWSIssuer(jtIssuer)
	for _, mode := range []string{"500", "garbage", "down"} {
		t.Run(mode, func(t *testing.T) {
			s := newKSServer(t, iss.JWKS())
			s.cacheControl("max-age=3600")
			const gap = 30 * time.Millisecond
			ks := newRemote(t, s, validate.KeySetRefresh(gap, time.Hour))
			v := ksVerifier(t, ks)
			tok := ksToken(t, iss.Key, iss.KID)
			jtAccept(t, v, tok)
			switch mode {
			case "500":
				s.mode.Store(ksFail)
			case "garbage":
				s.mode.Store(ksGarbage)
			case "down":
				s.srv.Close()
			}
			// Unknown kids force refreshes, which fail; the keys stay.
			hits := s.hits.Load()
			for range 3 {
				time.Sleep(gap + 10*time.Millisecond)
				_, err := jtVerify(t, v, ksToken(t, iss.Key, "rotated"))
				jtReject(t, err, popguard.ReasonTokenUnknownKey)
				jtAccept(t, v, tok)
			}
			if mode != "down" && s.hits.Load() < hits+3 {
				t.Errorf("%d failed fetches, want 3", s.hits.Load()-hits)
			}
			if !ks.Has(iss.KID) {
				t.Error("Has(kid) = false after failed refreshes")
			}
			// The issuer comes back with the same key: still fine.
			if mode != "down" {
				s.mode.Store(ksOK)
				time.Sleep(gap + 10*time.Millisecond)
				_, err := jtVerify(t, v, ksToken(t, iss.Key, "rotated"))
				jtReject(t, err, popguard.ReasonTokenUnknownKey)
				jtAccept(t, v, tok)
			}
		})
	}
}

// An issuer that publishes a set with no usable signing key: tokens cannot
// be verified and the error says the keys are unavailable.
func TestKeySetRemoteUnusableSet(t *testing.T) {
	iss := newJWSIssuer(jtIssuer)
	s := newKSServer(t, iss.JWKS())
	ks := newRemote(t, s, validate.KeySetRefresh(50*time.Millisecond, time.Hour))
	v := ksVerifier(t, ks)
	tok := ksToken(t, iss.Key, iss.KID)
	jtAccept(t, v, tok)
	s.set([]byte(`{"keys":[]}`))
	ksPoll(t, 3*time.Second, func() bool {
		_ = ksTry(v, ksToken(t, iss.Key, "unknown")) // forces a refresh
		return ksTry(v, tok) != nil
	}, func() string { return "token still accepted after the issuer emptied its key set" })
	_, err := jtVerify(t, v, tok)
	jtWant(t, err, popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)
}

func TestKeySetRemoteFirstFetchFails(t *testing.T) {
	iss := newJWSIssuer(jtIssuer)
	t.Run("WaitForKeys(true)", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.mode.Store(ksFail)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		ks, err := validate.NewRemoteKeySet(ctx, s.url(), validate.WaitForKeys(true),
			validate.HTTPClient(ksClient(t)), validate.KeySetLogger(ksQuiet))
		if err == nil {
			_ = ks.Close()
			t.Fatal("NewRemoteKeySet succeeded against a failing endpoint")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("NewRemoteKeySet took %v to fail", d)
		}
		if s.hits.Load() < 1 {
			t.Error("no fetch was attempted")
		}
	})
	t.Run("WaitForKeys(false)", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.mode.Store(ksFail)
		ks := newRemote(t, s, validate.WaitForKeys(false), validate.KeySetRefresh(50*time.Millisecond, time.Hour))
		v := ksVerifier(t, ks)
		tok := ksToken(t, iss.Key, iss.KID)
		_, err := jtVerify(t, v, tok)
		jtWant(t, err, popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable)
		if !errors.Is(err, popguard.CodeTemporarilyUnavailable) {
			t.Errorf("errors.Is(%v, CodeTemporarilyUnavailable) = false", err)
		}
		if ks.Has(iss.KID) {
			t.Error("Has(kid) = true before any successful fetch")
		}
		// The issuer recovers; a verification after the minimum gap
		// fetches the keys.
		s.mode.Store(ksOK)
		ksPoll(t, 3*time.Second, func() bool {
			return ksTry(v, tok) == nil
		}, func() string { return "keys never arrived after the endpoint recovered" })
	})
	t.Run("bad RefreshInterval", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		for _, ri := range [][2]time.Duration{{0, time.Hour}, {-time.Second, time.Hour}, {time.Hour, time.Minute}} {
			ks, err := validate.NewRemoteKeySet(ksCtx(t, 5*time.Second), s.url(), validate.KeySetRefresh(ri[0], ri[1]))
			if err == nil {
				_ = ks.Close()
				t.Errorf("KeySetRefresh(%v, %v) accepted", ri[0], ri[1])
			}
		}
		if n := s.hits.Load(); n != 0 {
			t.Errorf("invalid options still fetched %d times", n)
		}
	})
}

func TestKeySetRemoteClose(t *testing.T) {
	iss := newJWSIssuer(jtIssuer)
	s := newKSServer(t, iss.JWKS())
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	tok := ksToken(t, iss.Key, iss.KID)

	// Let the server's goroutines settle before counting.
	runtime.GC()
	before := runtime.NumGoroutine()
	var sets []*validate.RemoteKeySet
	for range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ks, err := validate.NewRemoteKeySet(ctx, s.url(), validate.HTTPClient(client), validate.KeySetLogger(ksQuiet),
			validate.KeySetRefresh(50*time.Millisecond, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		jtAccept(t, ksVerifier(t, ks), tok)
		sets = append(sets, ks)
	}
	during := runtime.NumGoroutine()
	for _, ks := range sets {
		done := make(chan error, 1)
		go func() { done <- ks.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not return")
		}
	}
	client.CloseIdleConnections()
	const slack = 3
	ksPoll(t, 3*time.Second, func() bool { return runtime.NumGoroutine() <= before+slack }, func() string {
		return fmt.Sprintf("goroutines: %d before, %d with 4 key sets, %d after Close (slack %d)", before, during, runtime.NumGoroutine(), slack)
	})
	// The background refresh has stopped.
	hits := s.hits.Load()
	time.Sleep(200 * time.Millisecond)
	if n := s.hits.Load(); n != hits {
		t.Errorf("%d fetches after Close", n-hits)
	}
	// Keys fetched before Close keep verifying.
	jtAccept(t, ksVerifier(t, sets[0]), tok)
}

// Once the key set is closed, a token with an unknown kid must not block on
// the stopped refresher: VerifyToken is commonly called with a request
// context without deadline. (The end of the construction context does not
// stop the refresher: see TestRemoteKeySetRefreshOutlivesConstructionContext.)
func TestKeySetRemoteUnknownKidAfterStop(t *testing.T) {
	iss := newJWSIssuer(jtIssuer)
	for _, how := range []string{"Close", "Close, then context cancelled"} {
		t.Run(how, func(t *testing.T) {
			s := newKSServer(t, iss.JWKS())
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ks, err := validate.NewRemoteKeySet(ctx, s.url(), validate.HTTPClient(ksClient(t)), validate.KeySetLogger(ksQuiet),
				validate.KeySetRefresh(20*time.Millisecond, time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ks.Close() }()
			v := ksVerifier(t, ks)
			if err := ks.Close(); err != nil {
				t.Fatal(err)
			}
			if how != "Close" {
				cancel()
			}
			time.Sleep(50 * time.Millisecond) // past the minimum gap: a forced refresh is due
			good, unknown := ksToken(t, iss.Key, iss.KID), ksToken(t, iss.Key, "unknown")
			jtAccept(t, v, good) // cached keys still serve
			vctx, vcancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer vcancel()
			done := make(chan error, 1)
			go func() {
				_, err := v.VerifyToken(vctx, unknown)
				done <- err
			}()
			select {
			case err := <-done:
				jtReject(t, err, popguard.ReasonTokenUnknownKey)
			case <-time.After(time.Second):
				vcancel() // release the blocked call
				<-done
				t.Fatal("BUG: VerifyToken with an unknown kid blocked after the key set stopped, until its own " +
					"context ended: RemoteKeySet.refresh (validate/keyset.go, the k.cache.Refresh call) calls jwk.Cache.Refresh on the stopped " +
					"jwk.Cache, whose request is queued but never answered, while holding k.mu; with a context " +
					"without deadline the request (and every later forced refresh) hangs forever")
			}
		})
	}
}

// Issuer keys get the RSA bounds proof keys get: a JWKS key over 8192 bits
// or with an exponent above 65537 is never used to verify (jwx itself
// refuses keys under 2048 bits or with an even exponent when it parses the
// set; StaticKeys, which takes crypto keys, refuses all of them).
func TestKeySetIssuerRSABounds(t *testing.T) {
	good := newJWSKey("RS256")
	rsaJWK := func(kid string, pub *rsa.PublicKey) map[string]any {
		return map[string]any{"kty": "RSA", "kid": kid, "n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
	}
	goodPub := good.Signer.Public().(*rsa.PublicKey)
	bigE, evenE := *goodPub, *goodPub
	bigE.E, evenE.E = 1<<31-1, 65536
	huge := &rsa.PublicKey{N: new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 8200), big.NewInt(1)), E: 65537}
	ks, err := validate.NewStaticKeySet(ksJWKS(t, rsaJWK("bige", &bigE), rsaJWK("huge", huge), rsaJWK("good", goodPub)))
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"bige", "evene", "huge"} {
		if ks.Has(kid) {
			t.Errorf("key %q is in the set", kid)
		}
		if _, err := validate.StaticKeys(validate.PublicKey{KeyID: kid, Key: map[string]*rsa.PublicKey{"bige": &bigE, "evene": &evenE, "huge": huge}[kid]}); err == nil {
			t.Errorf("StaticKeys accepted key %q", kid)
		}
	}
	if !ks.Has("good") {
		t.Error("the 2048-bit key is not in the set")
	}
	if _, err := validate.NewStaticKeySet(ksJWKS(t, rsaJWK("huge", huge))); err == nil {
		t.Error("a set of one 8200-bit key was accepted")
	}
}
