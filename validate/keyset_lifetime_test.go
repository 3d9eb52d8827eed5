package validate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// The two lifetimes of a RemoteKeySet: construction is bounded (by ctx's
// deadline or the startup timeout), and the background refresher runs until
// Close, whatever becomes of the construction context.

// ksNewWithin calls NewRemoteKeySet on s and fails the test if it does not
// return within limit (a generous bound: hanging is the bug). A key set
// returned is closed at the end of the test.
// ksIssuerToken is ksToken for iss's own key: an RFC 9068 token for alice
// from jtIssuer to jtAudience, valid for five minutes, with iss's kid.
func ksIssuerToken(iss *poptest.Issuer) string {
	return iss.Token(poptest.TokenOptions{Subject: "alice", Audience: jtAudience})
}

func ksNewWithin(t *testing.T, ctx context.Context, limit time.Duration, s *ksServer, opts ...validate.Option) (*validate.RemoteKeySet, error) {
	t.Helper()
	all := append([]validate.Option{validate.HTTPClient(ksClient(t)), validate.KeySetLogger(ksQuiet)}, opts...)
	type result struct {
		ks  *validate.RemoteKeySet
		err error
	}
	done := make(chan result, 1)
	go func() {
		ks, err := validate.NewRemoteKeySet(ctx, s.url(), all...)
		done <- result{ks, err}
	}()
	select {
	case r := <-done:
		if r.ks != nil {
			t.Cleanup(func() { _ = r.ks.Close() })
		}
		return r.ks, r.err
	case <-time.After(limit):
		t.Fatalf("NewRemoteKeySet did not return within %v (%d requests to the JWKS URL)", limit, s.hits.Load())
		return nil, nil
	}
}

// ksStartupFails checks that construction failed with an error naming the URL.
func ksStartupFails(t *testing.T, s *ksServer, ks *validate.RemoteKeySet, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("NewRemoteKeySet succeeded (%v) against an endpoint that cannot serve keys", ks)
	}
	if !strings.Contains(err.Error(), s.url()) || !strings.Contains(err.Error(), "could not fetch the key set") {
		t.Errorf("error %q does not say which key set could not be fetched", err)
	}
}

// ksNoMoreRequests checks that the server gets no request any more (after a
// short settle time): nothing is left running.
func ksNoMoreRequests(t *testing.T, s *ksServer, what string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	hits := s.hits.Load()
	time.Sleep(250 * time.Millisecond)
	if n := s.hits.Load() - hits; n != 0 {
		t.Errorf("%d requests to the JWKS URL %s", n, what)
	}
}

func TestRemoteKeySetStartupBoundedWhenDown(t *testing.T) {
	iss := poptest.NewStaticIssuer(jtIssuer)
	const bound = 300 * time.Millisecond
	t.Run("failing, StartupTimeout", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.mode.Store(ksFail)
		ks, err := ksNewWithin(t, context.Background(), 5*time.Second, s, validate.KeySetStartupTimeout(bound))
		ksStartupFails(t, s, ks, err)
		// A failed fetch fails construction at once, with the fetch error.
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %q is a timeout, want the fetch failure", err)
		}
		if s.hits.Load() < 1 {
			t.Error("no fetch was attempted")
		}
		ksNoMoreRequests(t, s, "after construction failed")
	})
	t.Run("connection refused, StartupTimeout", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.srv.Close()
		ks, err := ksNewWithin(t, context.Background(), 5*time.Second, s, validate.KeySetStartupTimeout(bound))
		ksStartupFails(t, s, ks, err)
	})
	t.Run("hanging, StartupTimeout", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.mode.Store(ksHang)
		ks, err := ksNewWithin(t, context.Background(), 5*time.Second, s, validate.KeySetStartupTimeout(bound))
		ksStartupFails(t, s, ks, err)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "startup timeout") {
			t.Errorf("error %q does not say the startup timeout passed", err)
		}
	})
	t.Run("hanging, ctx deadline", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.mode.Store(ksHang)
		ks, err := ksNewWithin(t, ksCtx(t, bound), 5*time.Second, s)
		ksStartupFails(t, s, ks, err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %q does not wrap context.DeadlineExceeded", err)
		}
	})
	t.Run("failing, ctx deadline", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.mode.Store(ksFail)
		ks, err := ksNewWithin(t, ksCtx(t, bound), 5*time.Second, s)
		ksStartupFails(t, s, ks, err)
	})
	t.Run("hanging, StartupTimeout shorter than ctx deadline", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.mode.Store(ksHang)
		ks, err := ksNewWithin(t, ksCtx(t, time.Minute), 5*time.Second, s, validate.KeySetStartupTimeout(bound))
		ksStartupFails(t, s, ks, err)
	})
	t.Run("invalid StartupTimeout", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		for _, d := range []time.Duration{0, -time.Second} {
			if ks, err := ksNewWithin(t, context.Background(), 5*time.Second, s, validate.KeySetStartupTimeout(d)); err == nil {
				t.Errorf("KeySetStartupTimeout(%v) accepted: %v", d, ks)
			}
		}
		if n := s.hits.Load(); n != 0 {
			t.Errorf("invalid options still fetched %d times", n)
		}
	})
}

func TestRemoteKeySetStartupSlowServer(t *testing.T) {
	iss := poptest.NewStaticIssuer(jtIssuer)
	t.Run("bounded, then recovers", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.mode.Store(ksHang)
		ks, err := ksNewWithin(t, context.Background(), 5*time.Second, s, validate.KeySetStartupTimeout(300*time.Millisecond))
		ksStartupFails(t, s, ks, err)
		if s.hits.Load() != 1 {
			t.Errorf("%d requests, want 1", s.hits.Load())
		}
		// The issuer recovers: a new key set works.
		s.mode.Store(ksOK)
		s.unblock()
		ks, err = ksNewWithin(t, context.Background(), 5*time.Second, s, validate.KeySetStartupTimeout(2*time.Second))
		if err != nil {
			t.Fatalf("NewRemoteKeySet after recovery: %v", err)
		}
		jtAccept(t, ksVerifier(t, ks), ksIssuerToken(iss))
	})
	t.Run("WaitForKeys(false) returns at once", func(t *testing.T) {
		s := newKSServer(t, iss.JWKS())
		s.mode.Store(ksHang)
		ks, err := ksNewWithin(t, context.Background(), 2*time.Second, s, validate.WaitForKeys(false),
			validate.KeySetStartupTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if ks.Has(iss.KeyID()) {
			t.Fatal("Has(kid) before the first fetch completed")
		}
		// The fetch completes in the background.
		s.unblock()
		ksPoll(t, 3*time.Second, func() bool { return ks.Has(iss.KeyID()) },
			func() string { return "the keys never arrived in the background" })
		jtAccept(t, ksVerifier(t, ks), ksIssuerToken(iss))
	})
}

// The construction context ending (cancelled, or past its deadline) after
// NewRemoteKeySet returned must not stop the refresher: a key rotated in
// later must still be fetched.
func TestRemoteKeySetRefreshOutlivesConstructionContext(t *testing.T) {
	for _, how := range []string{"cancelled", "deadline"} {
		t.Run(how+", unknown kid", func(t *testing.T) {
			iss1 := poptest.NewStaticIssuer(jtIssuer)
			iss2 := poptest.NewStaticIssuer(jtIssuer)
			s := newKSServer(t, iss1.JWKS())
			// A long max-age keeps the periodic refresh out of the way: the
			// new key can only arrive through the forced refresh.
			s.cacheControl("max-age=3600")
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			ks, err := ksNewWithin(t, ctx, 5*time.Second, s, validate.KeySetRefresh(50*time.Millisecond, time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if how == "cancelled" {
				cancel()
			}
			<-ctx.Done()
			time.Sleep(60 * time.Millisecond) // past the minimum gap

			s.set(iss2.JWKS()) // rotate
			kctx := ksCtx(t, 3*time.Second)
			ksPoll(t, 3*time.Second, func() bool {
				keys, err := ks.Keys(kctx, iss2.KeyID())
				return err == nil && len(keys) == 1
			}, func() string {
				return "the rotated key was never fetched after the construction context ended (" +
					context.Cause(ctx).Error() + ")"
			})
			jtAccept(t, ksVerifier(t, ks), ksIssuerToken(iss2))
		})
	}
	t.Run("cancelled, periodic refresh", func(t *testing.T) {
		iss1 := poptest.NewStaticIssuer(jtIssuer)
		iss2 := poptest.NewStaticIssuer(jtIssuer)
		s := newKSServer(t, iss1.JWKS())
		s.cacheControl("max-age=1")
		ctx, cancel := context.WithCancel(context.Background())
		ks, err := ksNewWithin(t, ctx, 5*time.Second, s, validate.KeySetRefresh(50*time.Millisecond, time.Hour))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		s.set(iss2.JWKS())
		// Has never fetches: only the periodic refresh can bring the key.
		ksPoll(t, 4*time.Second, func() bool { return ks.Has(iss2.KeyID()) },
			func() string { return "the periodic refresh stopped with the construction context" })
	})
}

// Close, not the construction context, stops the refresher; it is
// idempotent, and cached keys keep serving without any further fetch.
func TestRemoteKeySetCloseStopsRefresher(t *testing.T) {
	iss := poptest.NewStaticIssuer(jtIssuer)
	s := newKSServer(t, iss.JWKS())
	s.cacheControl("max-age=3600")
	const gap = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ks, err := ksNewWithin(t, ctx, 5*time.Second, s, validate.KeySetRefresh(gap, time.Hour))
	cancel() // does not stop anything
	if err != nil {
		t.Fatal(err)
	}
	kctx := ksCtx(t, 3*time.Second)
	time.Sleep(gap + 10*time.Millisecond)
	hits := s.hits.Load()
	if keys, err := ks.Keys(kctx, "unknown"); err != nil || len(keys) != 0 {
		t.Fatalf("Keys(unknown) = %v, %v", keys, err)
	}
	if s.hits.Load() != hits+1 {
		t.Fatalf("an unknown kid made %d requests before Close, want 1", s.hits.Load()-hits)
	}

	for range 2 {
		if err := ks.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	hits = s.hits.Load()
	for range 3 {
		time.Sleep(gap + 10*time.Millisecond)
		if keys, err := ks.Keys(kctx, "unknown"); err != nil || len(keys) != 0 {
			t.Errorf("after Close, Keys(unknown) = %v, %v; want no key", keys, err)
		}
	}
	if keys, err := ks.Keys(kctx, iss.KeyID()); err != nil || len(keys) != 1 {
		t.Errorf("after Close, Keys(%s) = %v, %v; want the cached key", iss.KeyID(), keys, err)
	}
	if n := s.hits.Load() - hits; n != 0 {
		t.Errorf("%d requests after Close", n)
	}
	ksNoMoreRequests(t, s, "after Close")
}
