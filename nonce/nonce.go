// Package nonce issues and checks stateless server nonces for DPoP
// (RFC 9449 §8 and §9) and Microsoft PoP: start from [New], whose [Source]
// goes to middleware.WithNonces for the routes built with
// middleware.RequireNonce.
//
// A nonce is the number of the current time step together with a truncated
// HMAC-SHA256 of it under a server secret. Checking needs only the secret, so
// every instance of a fleet that shares the secret (and roughly agrees on the
// time) accepts the nonces issued by the others; there is no state to
// replicate. A nonce stays valid for the current step and Window steps back,
// and a nonce from up to FleetSkew ahead (by default the next step) is
// accepted for clock skew between instances.
//
// Time resolution: a nonce records the step in which it was issued, not the
// instant, so its age is known to one Step (default 60 s, at least 1 s). On
// the instance that issued it, a nonce is accepted for between Window×Step
// and (Window+1)×Step after it was issued: 120 to 180 s by default. When a
// route judges proof freshness by the nonce (validate.FreshnessNonce), that
// is how long after its nonce a proof is accepted, whatever the client's
// clock says; for a tighter window, shorten the step: Step(10*time.Second)
// with Window(3) accepts a nonce for 30 to 40 s, and an active client is
// handed a new nonce every 10 s. Instances whose clocks are ahead of the one
// that issued a nonce see it older, those behind see it younger, by as much
// as their clocks differ (FleetSkew).
//
// Format: base64url without padding (RFC 4648 §5) of
//
//	step (8 bytes, big-endian) || HMAC-SHA256(secret, "popguard-nonce-v1" 0x00 scope 0x00 step)[:16]
//
// which is 32 characters from [A-Za-z0-9_-]: valid RFC 9449 NQCHARs, with no
// '=' or ',' that naive WWW-Authenticate parsers split on.
package nonce

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults and limits for [New].
const (
	// minSecretLen is the minimum length in bytes of a secret.
	minSecretLen = 32
	// defaultStep is the default length of a time step.
	defaultStep = 60 * time.Second
	// minStep is the shortest allowed time step.
	minStep = time.Second
	// defaultWindow is the default number of past steps whose nonces are accepted.
	defaultWindow = 2
)

const (
	version    = "popguard-nonce-v1"
	stepLen    = 8
	macLen     = 16
	rawLen     = stepLen + macLen // 24 bytes
	encodedLen = 32               // base64.RawURLEncoding.EncodedLen(rawLen)
)

var enc = base64.RawURLEncoding.Strict()

// ErrRejected is matched (with errors.Is) by every error that [Source.Check]
// returns: the client's nonce is not acceptable and it must retry with a
// new one.
var ErrRejected = errors.New("nonce: rejected")

// Errors returned by [Source.Check]. Each also
// matches [ErrRejected].
var (
	// ErrMissing reports an empty nonce.
	ErrMissing error = &rejection{"nonce: missing"}
	// ErrMalformed reports a nonce that is not one this package issues: wrong
	// length, characters outside base64url, padding.
	ErrMalformed error = &rejection{"nonce: malformed"}
	// ErrExpired reports an authentic nonce whose step is older than the
	// window, or further in the future than FleetSkew allows.
	ErrExpired error = &rejection{"nonce: expired"}
	// ErrInvalid reports a well-formed nonce whose MAC matches none of the
	// secrets for this scope.
	ErrInvalid error = &rejection{"nonce: invalid"}
)

// ErrInvalidConfig is wrapped by errors from [New] about the secret or options.
var ErrInvalidConfig = errors.New("nonce: invalid configuration")

type rejection struct{ msg string }

func (e *rejection) Error() string { return e.msg }
func (e *rejection) Unwrap() error { return ErrRejected }

// Source issues and checks server nonces: HMAC-SHA256 over a time step.
//
// A Source is immutable after [New] and safe for concurrent use.
type Source struct {
	step   int64  // nanoseconds
	window uint64 // steps
	ahead  uint64 // steps a nonce may be in the future (FleetSkew)
	domain []byte // version 0x00 scope 0x00
	now    func() time.Time
	keys   []*macKey // keys[0] issues; all check
	cache  atomic.Pointer[issued]
}

// issued caches the nonce of one step, issued under keys[0].
type issued struct {
	step  int64
	nonce string
}

type config struct {
	step     time.Duration
	window   int
	skew     time.Duration
	skewSet  bool
	previous [][]byte
	scope    string
	now      func() time.Time
}

// Option configures [New].
type Option func(*config) error

// Step sets the length of a time step (default 60 seconds). It must be at
// least one second. All instances sharing nonces need the same step.
func Step(d time.Duration) Option {
	return func(c *config) error {
		if d < minStep {
			return fmt.Errorf("%w: step %v is shorter than %v", ErrInvalidConfig, d, minStep)
		}
		c.step = d
		return nil
	}
}

// Window sets how many steps back a nonce stays valid (default
// 2): a nonce lives between Window and Window+1 steps. It must
// not be negative.
func Window(steps int) Option {
	return func(c *config) error {
		if steps < 0 {
			return fmt.Errorf("%w: window %d is negative", ErrInvalidConfig, steps)
		}
		c.window = steps
		return nil
	}
}

// FleetSkew sets how far ahead of this instance's clock the clock of
// another instance sharing the secret may run (default one Step): a nonce
// issued up to d in the future, rounded up to whole steps, is accepted. 0
// accepts no nonce from a future step, which only suits a single instance.
// It is the tolerance for the servers' clocks, apart from the clients'
// (validate.FutureSkew and validate.MaxAge, which bound a proof's iat). d
// must not be negative.
func FleetSkew(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: fleet skew %v is negative", ErrInvalidConfig, d)
		}
		c.skew, c.skewSet = d, true
		return nil
	}
}

// Previous adds secrets that are still accepted when checking nonces but
// never used to issue them, for rotation: deploy the new secret with the old
// one in Previous, and drop the old one after a nonce lifetime. Each must be
// at least 32 bytes. Nonces accepted under a previous secret are
// never reported fresh, so that clients move to the current secret.
func Previous(secrets ...[]byte) Option {
	return func(c *config) error {
		for i, s := range secrets {
			if len(s) < minSecretLen {
				return fmt.Errorf("%w: previous secret %d is %d bytes, need at least %d", ErrInvalidConfig, i, len(s), minSecretLen)
			}
		}
		c.previous = append(c.previous, secrets...)
		return nil
	}
}

// Scope sets a context string mixed into the MAC, such as the resource
// server's identifier, so that nonces of another server or realm using the
// same secret are not accepted (default "").
func Scope(s string) Option {
	return func(c *config) error {
		c.scope = s
		return nil
	}
}

// Clock sets the time source (default [time.Now]); intended for tests.
func Clock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
		}
		c.now = now
		return nil
	}
}

// New returns a Source that issues nonces under secret, which must be at
// least 32 bytes of high-entropy data shared by every instance
// that must accept the nonces. The secrets are copied. Errors wrap
// [ErrInvalidConfig].
func New(secret []byte, opts ...Option) (*Source, error) {
	if len(secret) < minSecretLen {
		return nil, fmt.Errorf("%w: secret is %d bytes, need at least %d", ErrInvalidConfig, len(secret), minSecretLen)
	}
	cfg := config{step: defaultStep, window: defaultWindow, now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	domain := make([]byte, 0, len(version)+len(cfg.scope)+2)
	domain = append(domain, version...)
	domain = append(domain, 0)
	domain = append(domain, cfg.scope...)
	domain = append(domain, 0)
	ahead := uint64(1)
	if cfg.skewSet {
		ahead = uint64(cfg.skew / cfg.step)
		if cfg.skew%cfg.step != 0 {
			ahead++
		}
	}
	s := &Source{
		step:   int64(cfg.step),
		window: uint64(cfg.window),
		ahead:  ahead,
		domain: domain,
		now:    cfg.now,
		keys:   []*macKey{newMACKey(secret)},
	}
	for _, p := range cfg.previous {
		s.keys = append(s.keys, newMACKey(p))
	}
	return s, nil
}

// currentStep returns the number of the step containing the current time.
func (s *Source) currentStep() int64 {
	t := s.now().UnixNano()
	q := t / s.step
	if t%s.step < 0 {
		q--
	}
	return q
}

// Issue returns the nonce of the current step. Every call within a step
// returns the same nonce, on every instance sharing the secret and scope.
func (s *Source) Issue() string {
	cur := s.currentStep()
	if c := s.cache.Load(); c != nil && c.step == cur {
		return c.nonce
	}
	var raw [rawLen]byte
	binary.BigEndian.PutUint64(raw[:stepLen], uint64(cur))
	s.keys[0].mac(raw[stepLen:], s.domain, raw[:stepLen])
	n := enc.EncodeToString(raw[:])
	s.cache.Store(&issued{step: cur, nonce: n})
	return n
}

// Check reports whether nonce is valid. When err is nil, fresh reports
// whether the nonce is of the current step (or a later one within
// FleetSkew, issued by an instance whose clock is ahead) under the current
// secret; if it is
// not, the caller should send a new nonce ([Source.Issue]) with its
// successful response so that the client rotates before the nonce expires.
//
// Errors are [ErrMissing], [ErrMalformed], [ErrInvalid] and [ErrExpired], all
// matching [ErrRejected]; the caller then answers with a use_dpop_nonce error
// and a new nonce. The MAC is compared in constant time.
func (s *Source) Check(nonce string) (fresh bool, err error) {
	if nonce == "" {
		return false, ErrMissing
	}
	// Every nonce this package issues is exactly encodedLen long: reject
	// anything else before decoding.
	if len(nonce) != encodedLen {
		return false, ErrMalformed
	}
	cur := s.currentStep()
	if c := s.cache.Load(); c != nil && c.step == cur &&
		subtle.ConstantTimeCompare([]byte(c.nonce), []byte(nonce)) == 1 {
		return true, nil
	}
	var raw [rawLen]byte
	if n, err := enc.Decode(raw[:], []byte(nonce)); err != nil || n != rawLen {
		return false, ErrMalformed
	}
	matched := -1
	for i, k := range s.keys {
		if k.verify(s.domain, raw[:stepLen], raw[stepLen:]) {
			matched = i
			break
		}
	}
	if matched < 0 {
		return false, ErrInvalid
	}
	// Compare in unsigned arithmetic: an authentic step is never far from
	// cur, but nothing here may overflow whatever it is.
	step := int64(binary.BigEndian.Uint64(raw[:stepLen]))
	if step > cur {
		if uint64(step)-uint64(cur) > s.ahead {
			return false, ErrExpired
		}
		return matched == 0, nil
	}
	age := uint64(cur) - uint64(step)
	if age > s.window {
		return false, ErrExpired
	}
	return age == 0 && matched == 0, nil
}

// Lifetime returns the longest time between the issue of a nonce and the
// last instant an instance of the fleet accepts it, when the instances'
// clocks differ by at most FleetSkew: (Window + 1 + FleetSkew in whole
// steps) × Step, 4 minutes with the defaults. A route that judges proof
// freshness by the nonce accepts a proof at most this long, so its replay
// store must remember the proof that long; the middleware does so for the
// nonce source of middleware.WithNonces.
func (s *Source) Lifetime() time.Duration {
	steps := s.window + 1 + s.ahead
	if steps < s.window || steps > uint64(math.MaxInt64/s.step) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(int64(steps) * s.step)
}

// macKey computes MACs under one secret, reusing keyed HMAC states.
type macKey struct{ pool sync.Pool }

// macState is a pooled keyed HMAC with buffers that live on the heap with
// it, so that nothing passed through the hash.Hash interface escapes.
type macState struct {
	h    hash.Hash
	step [stepLen]byte
	sum  [sha256.Size]byte
}

// compute returns the truncated MAC of step, valid until st is reused.
func (st *macState) compute(domain, step []byte) []byte {
	copy(st.step[:], step)
	st.h.Reset()
	st.h.Write(domain)
	st.h.Write(st.step[:])
	return st.h.Sum(st.sum[:0])[:macLen]
}

func newMACKey(secret []byte) *macKey {
	key := append([]byte(nil), secret...)
	k := &macKey{}
	k.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return k
}

// mac writes the truncated MAC of step to dst.
func (k *macKey) mac(dst, domain, step []byte) {
	st := k.pool.Get().(*macState)
	copy(dst, st.compute(domain, step))
	k.pool.Put(st)
}

// verify reports in constant time whether got is the truncated MAC of step.
func (k *macKey) verify(domain, step, got []byte) bool {
	st := k.pool.Get().(*macState)
	ok := hmac.Equal(st.compute(domain, step), got)
	k.pool.Put(st)
	return ok
}
