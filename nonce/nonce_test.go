package nonce

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	secretA = []byte("0123456789abcdef0123456789abcdef-A")
	secretB = []byte("0123456789abcdef0123456789abcdef-B")
)

// t0 is the start of a 60s step.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newSource(t testing.TB, secret []byte, opts ...Option) *Source {
	t.Helper()
	s, err := New(secret, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func wantValid(t *testing.T, s *Source, n string, wantFresh bool) {
	t.Helper()
	fresh, err := s.Check(n)
	if err != nil || fresh != wantFresh {
		t.Fatalf("Check(%q) = %v, %v; want %v, nil", n, fresh, err, wantFresh)
	}
}

func wantErr(t *testing.T, s *Source, n string, want error) {
	t.Helper()
	fresh, err := s.Check(n)
	if !errors.Is(err, want) || !errors.Is(err, ErrRejected) || fresh {
		t.Fatalf("Check(%q) = %v, %v; want false, %v", n, fresh, err, want)
	}
}

// reference computes a nonce independently of the implementation, pinning the format.
func reference(secret []byte, scope string, step int64) string {
	var st [8]byte
	binary.BigEndian.PutUint64(st[:], uint64(step))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("popguard-nonce-v1\x00" + scope + "\x00"))
	m.Write(st[:])
	return base64.RawURLEncoding.EncodeToString(append(st[:], m.Sum(nil)[:16]...))
}

func TestRoundTrip(t *testing.T) {
	clk := newFakeClock(t0.Add(17 * time.Second))
	s := newSource(t, secretA, Clock(clk.Now), Scope("https://rs.example"))
	n := s.Issue()
	if want := reference(secretA, "https://rs.example", t0.Unix()/60); n != want {
		t.Fatalf("Issue() = %q, want %q", n, want)
	}
	if len(n) != encodedLen {
		t.Fatalf("len(Issue()) = %d, want %d", len(n), encodedLen)
	}
	if again := s.Issue(); again != n {
		t.Fatalf("second Issue() in the same step = %q, want %q", again, n)
	}
	wantValid(t, s, n, true)

	// Another instance sharing the secret accepts it (without a cached nonce).
	other := newSource(t, secretA, Clock(clk.Now), Scope("https://rs.example"))
	wantValid(t, other, n, true)
}

// nqchar reports whether c is an RFC 9449 NQCHAR (%x21 / %x23-5B / %x5D-7E).
func nqchar(c byte) bool {
	return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)
}

func TestCharset(t *testing.T) {
	clk := newFakeClock(t0)
	s := newSource(t, secretA, Clock(clk.Now))
	for range 2000 {
		n := s.Issue()
		if strings.ContainsAny(n, "=,") {
			t.Fatalf("nonce %q contains '=' or ','", n)
		}
		for i := range len(n) {
			if !nqchar(n[i]) {
				t.Fatalf("nonce %q has non-NQCHAR %q", n, n[i])
			}
		}
		clk.Advance(defaultStep)
	}
	// Negative steps (clocks before 1970) encode and check as well.
	clk = newFakeClock(time.Unix(-90, 0))
	s = newSource(t, secretA, Clock(clk.Now))
	n := s.Issue()
	if want := reference(secretA, "", -2); n != want {
		t.Fatalf("Issue() before 1970 = %q, want %q", n, want)
	}
	wantValid(t, s, n, true)
}

func TestFreshAcrossSteps(t *testing.T) {
	clk := newFakeClock(t0.Add(59 * time.Second))
	s := newSource(t, secretA, Clock(clk.Now)) // window 2
	n := s.Issue()
	clk.Advance(time.Second) // next step
	wantValid(t, s, n, false)
	if n2 := s.Issue(); n2 == n {
		t.Fatal("Issue() did not change across a step boundary")
	}
	wantValid(t, s, n, false)
	clk.Advance(defaultStep) // two steps old
	wantValid(t, s, n, false)
	clk.Advance(defaultStep) // three steps old: beyond the window
	wantErr(t, s, n, ErrExpired)
}

func TestWindow(t *testing.T) {
	for _, w := range []int{0, 1, 5} {
		clk := newFakeClock(t0)
		s := newSource(t, secretA, Clock(clk.Now), Window(w), Step(10*time.Second))
		n := s.Issue()
		for range w {
			clk.Advance(10 * time.Second)
			wantValid(t, s, n, false)
		}
		clk.Advance(10 * time.Second)
		wantErr(t, s, n, ErrExpired)
	}
}

func TestFutureStep(t *testing.T) {
	clk := newFakeClock(t0)
	checker := newSource(t, secretA, Clock(clk.Now))
	for _, tc := range []struct {
		ahead time.Duration
		want  error
	}{
		{defaultStep, nil},                             // next step: fleet clock skew
		{2*defaultStep - time.Nanosecond, nil},         // still the next step
		{2 * defaultStep, ErrExpired},                  // beyond one step
		{1000 * defaultStep, ErrExpired},               // far future
		{defaultStep - time.Nanosecond, nil},           // same step
		{-2 * defaultStep, nil},                        // oldest step inside the window
		{-2*defaultStep - time.Nanosecond, ErrExpired}, // step just outside the window
		{-1000 * defaultStep, ErrExpired},              // far past
	} {
		issuer := newSource(t, secretA, Clock(func() time.Time { return t0.Add(tc.ahead) }))
		n := issuer.Issue()
		if tc.want != nil {
			wantErr(t, checker, n, tc.want)
			continue
		}
		if _, err := checker.Check(n); err != nil {
			t.Fatalf("ahead %v: Check = %v, want nil", tc.ahead, err)
		}
	}
	// A next-step nonce under the current secret counts as fresh.
	next := newSource(t, secretA, Clock(func() time.Time { return t0.Add(defaultStep) })).Issue()
	wantValid(t, checker, next, true)
}

// FleetSkew is the tolerance for instances whose clocks run ahead: a nonce
// is accepted up to that far in the future, rounded up to whole steps.
func TestFleetSkew(t *testing.T) {
	const step = 10 * time.Second
	for _, tc := range []struct {
		skew  time.Duration
		ahead int // whole steps accepted in the future
	}{
		{0, 0},
		{time.Nanosecond, 1},
		{step, 1},
		{step + time.Nanosecond, 2},
		{35 * time.Second, 4},
	} {
		clk := newFakeClock(t0)
		checker := newSource(t, secretA, Clock(clk.Now), Step(step), FleetSkew(tc.skew))
		for k := 0; k <= tc.ahead+1; k++ {
			issuer := newSource(t, secretA, Clock(func() time.Time { return t0.Add(time.Duration(k) * step) }), Step(step))
			n := issuer.Issue()
			if k > tc.ahead {
				wantErr(t, checker, n, ErrExpired)
				continue
			}
			wantValid(t, checker, n, true) // current or future step under the current secret
		}
	}
}

// Lifetime is the longest a nonce is accepted after it was issued: issued
// at the very start of its step by an instance FleetSkew ahead of this one,
// it is accepted here until Window steps after its step ends.
func TestLifetime(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want time.Duration
	}{
		{nil, 4 * time.Minute}, // (2 + 1 + 1) x 60 s
		{[]Option{Step(10 * time.Second), Window(3)}, 50 * time.Second},
		{[]Option{Step(10 * time.Second), Window(3), FleetSkew(0)}, 40 * time.Second},
		{[]Option{Step(10 * time.Second), Window(3), FleetSkew(25 * time.Second)}, 70 * time.Second},
		{[]Option{Window(1 << 62)}, time.Duration(1<<63 - 1)},
	} {
		s := newSource(t, secretA, tc.opts...)
		if got := s.Lifetime(); got != tc.want {
			t.Errorf("Lifetime() = %v, want %v", got, tc.want)
			continue
		}
		if tc.want > time.Hour {
			continue
		}
		// Issued at the start of its step by an instance ahead by the whole
		// tolerance: accepted here until exactly Lifetime later, not after.
		skewSteps := time.Duration(s.ahead) * time.Duration(s.step)
		clk := newFakeClock(t0)
		checker := newSource(t, secretA, append(slices.Clone(tc.opts), Clock(clk.Now))...)
		issued := t0.Add(skewSteps)
		n := newSource(t, secretA, append(slices.Clone(tc.opts), Clock(func() time.Time { return issued }))...).Issue()
		clk.Advance(tc.want - time.Nanosecond)
		if _, err := checker.Check(n); err != nil {
			t.Errorf("%v after issue: %v, want accepted", tc.want-time.Nanosecond, err)
		}
		clk.Advance(time.Nanosecond)
		wantErr(t, checker, n, ErrExpired)
	}
}

// rawNonce decodes n for tampering.
func rawNonce(t *testing.T, n string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(raw) != rawLen {
		t.Fatalf("decode %q: %v", n, err)
	}
	return raw
}

func TestTampered(t *testing.T) {
	clk := newFakeClock(t0)
	s := newSource(t, secretA, Clock(clk.Now))
	n := s.Issue()
	for i := range rawLen {
		for _, bit := range []byte{0x01, 0x80} {
			raw := rawNonce(t, n)
			raw[i] ^= bit
			wantErr(t, s, base64.RawURLEncoding.EncodeToString(raw), ErrInvalid)
		}
	}
	// A step moved back by one with the MAC of the original is invalid, not valid.
	raw := rawNonce(t, n)
	binary.BigEndian.PutUint64(raw[:8], binary.BigEndian.Uint64(raw[:8])-1)
	wantErr(t, s, base64.RawURLEncoding.EncodeToString(raw), ErrInvalid)
	// All-zero MAC.
	raw = rawNonce(t, n)
	clear(raw[8:])
	wantErr(t, s, base64.RawURLEncoding.EncodeToString(raw), ErrInvalid)
}

func TestMalformed(t *testing.T) {
	clk := newFakeClock(t0)
	s := newSource(t, secretA, Clock(clk.Now))
	n := s.Issue()
	std := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 8)) // has '+' and '/'
	for name, bad := range map[string]string{
		"short":           n[:31],
		"long":            n + "A",
		"padding":         n + "=",
		"padding inside":  n[:31] + "=",
		"padded encoding": base64.URLEncoding.EncodeToString(rawNonce(t, n)[:23]),
		"std alphabet":    std,
		"bad char":        n[:10] + "!" + n[11:],
		"space":           n[:10] + " " + n[11:],
		"newline":         n[:31] + "\n",
		"cr":              "\r" + n[1:],
		"comma":           n[:31] + ",",
		"nul":             n[:31] + "\x00",
		"non-ascii":       n[:30] + "é",
		"very long":       strings.Repeat("A", 1<<20),
		"one char":        "A",
	} {
		t.Run(name, func(t *testing.T) { wantErr(t, s, bad, ErrMalformed) })
	}
}

func TestMissing(t *testing.T) {
	s := newSource(t, secretA)
	wantErr(t, s, "", ErrMissing)
}

func TestRotation(t *testing.T) {
	clk := newFakeClock(t0)
	old := newSource(t, secretA, Clock(clk.Now))
	oldNonce := old.Issue()

	rotated := newSource(t, secretB, Clock(clk.Now), Previous(secretA))
	wantValid(t, rotated, oldNonce, false) // accepted, but not fresh: client should move on
	newNonce := rotated.Issue()
	if newNonce == oldNonce {
		t.Fatal("rotated source issued under the previous secret")
	}
	wantValid(t, rotated, newNonce, true)
	wantErr(t, old, newNonce, ErrInvalid) // old instances do not know the new secret

	// Old secrets still expire normally.
	clk.Advance(3 * defaultStep)
	wantErr(t, rotated, oldNonce, ErrExpired)

	dropped := newSource(t, secretB, Clock(clk.Now))
	clk.Advance(-3 * defaultStep)
	wantErr(t, dropped, oldNonce, ErrInvalid)

	// Several previous secrets, given in one or several options.
	secretC := []byte("0123456789abcdef0123456789abcdef-C")
	cNonce := newSource(t, secretC, Clock(clk.Now)).Issue()
	for _, opts := range [][]Option{
		{Previous(secretA, secretC)},
		{Previous(secretA), Previous(secretC)},
	} {
		multi := newSource(t, secretB, append(opts, Clock(clk.Now))...)
		wantValid(t, multi, oldNonce, false)
		wantValid(t, multi, cNonce, false)
	}
}

func TestScope(t *testing.T) {
	clk := newFakeClock(t0)
	rs1 := newSource(t, secretA, Clock(clk.Now), Scope("https://rs1.example"))
	rs2 := newSource(t, secretA, Clock(clk.Now), Scope("https://rs2.example"))
	none := newSource(t, secretA, Clock(clk.Now))
	wantErr(t, rs2, rs1.Issue(), ErrInvalid)
	wantErr(t, rs1, rs2.Issue(), ErrInvalid)
	wantErr(t, none, rs1.Issue(), ErrInvalid)
	wantErr(t, rs1, none.Issue(), ErrInvalid)
	wantValid(t, rs1, rs1.Issue(), true)
}

func TestNewErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		secret []byte
		opts   []Option
	}{
		"nil secret":            {nil, nil},
		"short secret":          {secretA[:minSecretLen-1], nil},
		"step 0":                {secretA, []Option{Step(0)}},
		"step below 1s":         {secretA, []Option{Step(time.Second - 1)}},
		"negative step":         {secretA, []Option{Step(-time.Minute)}},
		"negative window":       {secretA, []Option{Window(-1)}},
		"short previous secret": {secretA, []Option{Previous(secretB, secretB[:10])}},
		"nil clock":             {secretA, []Option{Clock(nil)}},
		"negative fleet skew":   {secretA, []Option{FleetSkew(-time.Nanosecond)}},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New(tc.secret, tc.opts...)
			if s != nil || !errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrRejected) {
				t.Fatalf("New = %v, %v; want nil, ErrInvalidConfig", s, err)
			}
		})
	}
	s := newSource(t, secretA[:minSecretLen], Step(time.Second), Window(0), Scope(""), nil)
	if s.step != int64(time.Second) || s.window != 0 {
		t.Fatalf("step %v window %d", s.step, s.window)
	}
}

func TestErrors(t *testing.T) {
	for _, err := range []error{ErrMissing, ErrMalformed, ErrExpired, ErrInvalid} {
		if !errors.Is(err, ErrRejected) {
			t.Errorf("%v does not match ErrRejected", err)
		}
		for _, other := range []error{ErrMissing, ErrMalformed, ErrExpired, ErrInvalid} {
			if other != err && errors.Is(err, other) {
				t.Errorf("%v matches %v", err, other)
			}
		}
	}
}

func TestSecretsCopied(t *testing.T) {
	clk := newFakeClock(t0)
	secret := bytes.Clone(secretA)
	prev := bytes.Clone(secretB)
	s := newSource(t, secret, Clock(clk.Now), Previous(prev))
	n := s.Issue()
	clear(secret)
	clear(prev)
	clk.Advance(defaultStep) // defeat the issue cache
	wantValid(t, s, n, false)
	wantValid(t, s, newSource(t, secretB, Clock(clk.Now)).Issue(), false)
}

func TestConcurrent(t *testing.T) {
	clk := newFakeClock(t0)
	// The window covers the whole run (20 steps), so any interleaving of Issue,
	// Check and Advance must succeed.
	s := newSource(t, secretA, Clock(clk.Now), Previous(secretB), Step(time.Second), Window(25))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if _, err := s.Check(s.Issue()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			clk.Advance(100 * time.Millisecond) // 20 steps in total
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Check(Issue()) = %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	now := func() time.Time { return t0 }
	s, err := New(secretA, Clock(now), Previous(secretB), Scope("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	valid := s.Issue()
	f.Add(valid)
	f.Add(reference(secretA, "fuzz", t0.Unix()/60-1))
	f.Add(reference(secretB, "fuzz", t0.Unix()/60))
	f.Add(reference(secretA, "fuzz", t0.Unix()/60+1))
	f.Add(reference(secretA, "fuzz", t0.Unix()/60-3))
	f.Add(reference(secretA, "other", t0.Unix()/60))
	f.Add(reference(secretA, "fuzz", -1))
	f.Add(reference(secretA, "fuzz", 1<<63-1))
	f.Add("")
	f.Add(valid[:31] + "=")
	f.Add(valid + "A")
	f.Add(strings.Repeat("_", 32))
	f.Add(strings.Repeat("\xff", 32))
	f.Fuzz(func(t *testing.T, n string) {
		fresh, err := s.Check(n)
		if err != nil {
			if !errors.Is(err, ErrRejected) || fresh {
				t.Fatalf("Check(%q) = %v, %v", n, fresh, err)
			}
			return
		}
		// Anything accepted must be canonical and authentic.
		raw, derr := base64.RawURLEncoding.DecodeString(n)
		if derr != nil || len(raw) != rawLen || base64.RawURLEncoding.EncodeToString(raw) != n {
			t.Fatalf("Check accepted non-canonical %q", n)
		}
		step := int64(binary.BigEndian.Uint64(raw[:8]))
		if n != reference(secretA, "fuzz", step) && n != reference(secretB, "fuzz", step) {
			t.Fatalf("Check accepted forged %q", n)
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		s := newSource(b, secretA)
		b.ReportAllocs()
		for b.Loop() {
			_ = s.Issue()
		}
	})
	b.Run("new step", func(b *testing.B) {
		clk := newFakeClock(t0)
		s := newSource(b, secretA, Clock(clk.Now))
		b.ReportAllocs()
		for b.Loop() {
			clk.Advance(defaultStep)
			_ = s.Issue()
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	clk := newFakeClock(t0)
	s := newSource(b, secretB, Clock(clk.Now), Previous(secretA))
	prevStep := s.Issue()
	clk.Advance(defaultStep)
	current := s.Issue()
	oldSecret := newSource(b, secretA, Clock(clk.Now)).Issue()
	forged := current[:20] + "AAAAAAAAAAAA"
	for _, bc := range []struct {
		name, nonce string
	}{
		{"current", current},
		{"previous step", prevStep},
		{"previous secret", oldSecret},
		{"invalid", forged},
		{"malformed", current[:31]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = s.Check(bc.nonce)
			}
		})
	}
	b.Run("current parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = s.Check(current)
			}
		})
	})
	b.Run("previous step parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = s.Check(prevStep)
			}
		})
	})
}
