package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/popguard/popguard/replay"
)

const redisEnv = "POPGUARD_TEST_REDIS"

// quietLogger drops go-redis's internal log lines (dial failures are
// expected in the dead-server tests and reported through errors anyway).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

// testKey returns a key shaped like the ones callers pass: a 43-character
// base64url SHA-256.
func testKey(i uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	sum := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func mustInsert(t *testing.T, s replay.Store, key string, ttl time.Duration) {
	t.Helper()
	if err := s.InsertIfAbsent(context.Background(), key, ttl); err != nil {
		t.Fatalf("InsertIfAbsent(%q) = %v, want nil", key, err)
	}
}

func mustReplay(t *testing.T, s replay.Store, key string, ttl time.Duration) {
	t.Helper()
	if err := s.InsertIfAbsent(context.Background(), key, ttl); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("InsertIfAbsent(%q) = %v, want replay.ErrReplayed", key, err)
	}
}

// testRedisClient returns a client for the server named by POPGUARD_TEST_REDIS.
// It skips the test when the variable is unset and fails it when the server
// does not answer.
func testRedisClient(t testing.TB) *redis.Client {
	t.Helper()
	u := os.Getenv(redisEnv)
	if u == "" {
		t.Skip("POPGUARD_TEST_REDIS is not set; skipping Redis tests (example: POPGUARD_TEST_REDIS=redis://127.0.0.1:6379/0)")
	}
	c, err := ParseURL(u)
	if err != nil {
		t.Fatalf("%s: %v", redisEnv, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("%s is set but Redis at %s does not answer: %v", redisEnv, c.Options().Addr, err)
	}
	return c
}

// testPrefix returns a unique key prefix and deletes its keys when the test ends.
func testPrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "popguard-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup scan: %v", err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("cleanup del: %v", err)
				return
			}
			keys = keys[n:]
		}
	})
	return prefix
}

func TestRedisInsertThenReplay(t *testing.T) {
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	r := New(c, Prefix(prefix))
	ctx := context.Background()
	if err := r.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	k := testKey(1)
	mustInsert(t, r, k, time.Minute)
	mustReplay(t, r, k, time.Minute)
	mustInsert(t, r, testKey(2), time.Minute)

	// The key is stored under the prefix with the TTL rounded up to whole ms.
	mustInsert(t, r, testKey(3), 10*time.Minute+time.Nanosecond)
	pttl, err := c.PTTL(ctx, prefix+testKey(3)).Result()
	if err != nil || pttl <= 0 || pttl > 10*time.Minute+time.Millisecond {
		t.Fatalf("PTTL = %v, %v; want in (0, 10m1ms]", pttl, err)
	}
}

func TestRedisExpiry(t *testing.T) {
	c := testRedisClient(t)
	r := New(c, Prefix(testPrefix(t, c)))
	k := testKey(1)
	mustInsert(t, r, k, 50*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.InsertIfAbsent(context.Background(), k, time.Minute)
		if err == nil {
			break
		}
		if !errors.Is(err, replay.ErrReplayed) {
			t.Fatalf("InsertIfAbsent = %v, want nil or replay.ErrReplayed", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("key with a 50ms TTL never became insertable again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustReplay(t, r, k, time.Minute)
}

func TestRedisFleet(t *testing.T) {
	u := testRedisClient(t) // skips or fails as needed
	prefix := testPrefix(t, u)
	newInstance := func() *Store {
		c, err := ParseURL(os.Getenv(redisEnv))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return New(c, Prefix(prefix))
	}
	a, b := newInstance(), newInstance()
	mustInsert(t, a, testKey(1), time.Minute)
	mustReplay(t, b, testKey(1), time.Minute)
	mustInsert(t, b, testKey(2), time.Minute)
	mustReplay(t, a, testKey(2), time.Minute)

	// Another resource server with its own prefix is independent.
	other := New(u, Prefix(testPrefix(t, u)))
	mustInsert(t, other, testKey(1), time.Minute)
}

func TestRedisConcurrentSameKey(t *testing.T) {
	c := testRedisClient(t)
	r := New(c, Prefix(testPrefix(t, c)), Timeout(5*time.Second))
	const n = 50
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		ok, dup atomic.Int32
		errs    = make(chan error, n)
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch err := r.InsertIfAbsent(context.Background(), "same", time.Minute); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, replay.ErrReplayed):
				dup.Add(1)
			default:
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("unexpected error: %v", err)
	}
	if ok.Load() != 1 || dup.Load() != n-1 {
		t.Fatalf("successes = %d, replays = %d; want 1 and %d", ok.Load(), dup.Load(), n-1)
	}
}

// The tests below need no Redis server and always run.

// fakeRedis is a go-redis hook that answers every command itself, so the
// exact command sent and the mapping of replies can be tested without a server.
type fakeRedis struct {
	mu      sync.Mutex
	args    [][]any
	respond func(redis.Cmder) error
}

func (f *fakeRedis) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f *fakeRedis) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (f *fakeRedis) ProcessHook(redis.ProcessHook) redis.ProcessHook {
	return func(_ context.Context, cmd redis.Cmder) error {
		f.mu.Lock()
		f.args = append(f.args, cmd.Args())
		f.mu.Unlock()
		return f.respond(cmd)
	}
}

func newFakeRedis(t *testing.T, contextTimeouts bool, respond func(redis.Cmder) error) (*Store, *fakeRedis) {
	t.Helper()
	f := &fakeRedis{respond: respond}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: contextTimeouts})
	c.AddHook(f)
	t.Cleanup(func() { _ = c.Close() })
	r := New(c, Prefix("p:"))
	if r.direct != contextTimeouts {
		t.Fatalf("direct = %v, want %v", r.direct, contextTimeouts)
	}
	return r, f
}

func replyOK(cmd redis.Cmder) error {
	cmd.(*redis.StatusCmd).SetVal("OK")
	return nil
}

func TestRedisCommand(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want int64
	}{
		{-time.Second, 1},
		{0, 1},
		{time.Nanosecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + time.Nanosecond, 2},
		{1500 * time.Microsecond, 2},
		{time.Minute, 60_000},
		{5*time.Minute + 1, 300_001},
	} {
		r, f := newFakeRedis(t, true, replyOK)
		mustInsert(t, r, "key", tc.ttl)
		want := []any{"set", "p:key", "1", "px", tc.want, "nx"}
		if len(f.args) != 1 || !reflect.DeepEqual(f.args[0], want) {
			t.Errorf("ttl %v: commands %v, want exactly one %v", tc.ttl, f.args, want)
		}
	}
}

func TestRedisReplies(t *testing.T) {
	boom := errors.New("boom")
	for _, direct := range []bool{true, false} {
		for _, tc := range []struct {
			name    string
			respond func(redis.Cmder) error
			want    []error
		}{
			{"ok", replyOK, nil},
			{"nil", func(cmd redis.Cmder) error { cmd.SetErr(redis.Nil); return redis.Nil }, []error{replay.ErrReplayed}},
			{"error", func(cmd redis.Cmder) error { cmd.SetErr(boom); return boom }, []error{replay.ErrUnavailable, boom}},
			{"unexpected", func(cmd redis.Cmder) error { cmd.(*redis.StatusCmd).SetVal("QUEUED"); return nil }, []error{replay.ErrUnavailable}},
		} {
			r, _ := newFakeRedis(t, direct, tc.respond)
			err := r.InsertIfAbsent(context.Background(), "k", time.Minute)
			if tc.want == nil && err != nil {
				t.Errorf("direct=%v %s: err = %v, want nil", direct, tc.name, err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("direct=%v %s: err = %v, want it to match %v", direct, tc.name, err, w)
				}
			}
			if tc.name != "nil" && errors.Is(err, replay.ErrReplayed) {
				t.Errorf("direct=%v %s: err = %v must not match replay.ErrReplayed", direct, tc.name, err)
			}
		}
	}
}

func TestRedisDeadServer(t *testing.T) {
	for _, direct := range []bool{true, false} {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: direct})
		t.Cleanup(func() { _ = c.Close() })
		r := New(c, Timeout(50*time.Millisecond))
		err := r.InsertIfAbsent(context.Background(), "k", time.Minute)
		if !errors.Is(err, replay.ErrUnavailable) || errors.Is(err, replay.ErrReplayed) {
			t.Errorf("direct=%v: InsertIfAbsent = %v, want replay.ErrUnavailable", direct, err)
		}
		if err := r.Ping(context.Background()); !errors.Is(err, replay.ErrUnavailable) {
			t.Errorf("direct=%v: Ping = %v, want replay.ErrUnavailable", direct, err)
		}
	}
}

// hangingServer accepts connections and never answers.
func hangingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestRedisTimeout(t *testing.T) {
	addr := hangingServer(t)
	for _, direct := range []bool{true, false} {
		c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: direct})
		t.Cleanup(func() { _ = c.Close() })
		r := New(c, Timeout(50*time.Millisecond))
		start := time.Now()
		err := r.InsertIfAbsent(context.Background(), "k", time.Minute)
		if !errors.Is(err, replay.ErrUnavailable) {
			t.Errorf("direct=%v: InsertIfAbsent = %v, want replay.ErrUnavailable", direct, err)
		}
		t.Logf("direct=%v: InsertIfAbsent returned after %v: %v", direct, time.Since(start), err)
		if err := r.Ping(context.Background()); !errors.Is(err, replay.ErrUnavailable) {
			t.Errorf("direct=%v: Ping = %v, want replay.ErrUnavailable", direct, err)
		}
	}
}

func TestRedisCallerContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := redis.NewClient(&redis.Options{Addr: hangingServer(t), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	err := New(c, Timeout(time.Hour)).InsertIfAbsent(ctx, "k", time.Minute)
	if !errors.Is(err, replay.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("InsertIfAbsent with a canceled context = %v, want replay.ErrUnavailable and context.Canceled", err)
	}
}

func TestNewOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	r := New(c)
	if r.prefix != DefaultPrefix || r.timeout != DefaultTimeout || r.direct {
		t.Fatalf("defaults: prefix %q, timeout %v, direct %v", r.prefix, r.timeout, r.direct)
	}
	r = New(c, Prefix(""), Timeout(0), Timeout(-1), nil)
	if r.prefix != "" || r.timeout != DefaultTimeout {
		t.Fatalf("prefix %q, timeout %v", r.prefix, r.timeout)
	}
	r = New(c, Timeout(time.Second))
	if r.timeout != time.Second {
		t.Fatalf("timeout %v", r.timeout)
	}
	for range 2 {
		if err := r.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := c.Ping(ctx).Err(); errors.Is(err, redis.ErrClosed) {
		t.Fatal("Store.Close closed the caller's client")
	}

	defer func() {
		if recover() == nil {
			t.Fatal("New(nil) did not panic")
		}
	}()
	New(nil)
}

func TestParseURL(t *testing.T) {
	c, err := ParseURL("redis://127.0.0.1:6379/2")
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if o := c.Options(); !o.ContextTimeoutEnabled || o.DB != 2 || o.Addr != "127.0.0.1:6379" {
		t.Fatalf("options: %+v", o)
	}
	for _, bad := range []string{
		"",
		"http://127.0.0.1:6379",
		"redis://user:s3cret-pw@127.0.0.1:6379/notanumber",
		"redis://user:s3cret-pw@127.0.0.1:port/0",
		"redis://user:s3cret-pw@[::1/0",
		"redis://user:s3cret-pw@host\x7f/0",
	} {
		c, err := ParseURL(bad)
		if c != nil || !errors.Is(err, replay.ErrInvalidConfig) {
			t.Errorf("ParseURL(%q) = %v, %v; want nil, replay.ErrInvalidConfig", bad, c, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("ParseURL(%q) error leaks the password: %v", bad, err)
		}
	}
}

// BenchmarkRedisInsert measures accepted inserts (one round trip each).
func BenchmarkRedisInsert(b *testing.B) {
	c := testRedisClient(b)
	const nkeys = 1 << 16
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = testKey(uint64(i))
	}
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			r := New(c, Prefix(testPrefix(b, c)))
			ctx := context.Background()
			var worker atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			if !parallel {
				for i := 0; b.Loop(); i++ {
					_ = r.InsertIfAbsent(ctx, keys[i%nkeys], time.Minute)
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for i := worker.Add(1) * (nkeys / 64); pb.Next(); i++ {
					_ = r.InsertIfAbsent(ctx, keys[i%nkeys], time.Minute)
				}
			})
		})
	}
}
