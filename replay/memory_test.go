package replay

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a race-safe manual clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testKey returns a key shaped like the ones callers pass: a 43-character
// base64url SHA-256.
func testKey(i uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	sum := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func newTestMemory(t testing.TB, opts ...MemoryOption) *Memory {
	t.Helper()
	m, err := NewMemory(opts...)
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func mustInsert(t *testing.T, s Store, key string, ttl time.Duration) {
	t.Helper()
	if err := s.InsertIfAbsent(context.Background(), key, ttl); err != nil {
		t.Fatalf("InsertIfAbsent(%q) = %v, want nil", key, err)
	}
}

func mustReplay(t *testing.T, s Store, key string, ttl time.Duration) {
	t.Helper()
	if err := s.InsertIfAbsent(context.Background(), key, ttl); !errors.Is(err, ErrReplayed) {
		t.Fatalf("InsertIfAbsent(%q) = %v, want ErrReplayed", key, err)
	}
}

func TestMemoryInsertThenReplay(t *testing.T) {
	m := newTestMemory(t)
	k := testKey(1)
	mustInsert(t, m, k, time.Minute)
	mustReplay(t, m, k, time.Minute)
	mustReplay(t, m, k, time.Hour) // a different TTL does not make it new
	mustInsert(t, m, testKey(2), time.Minute)
	if got := m.Len(); got != 2 {
		t.Fatalf("Len() = %d, want 2", got)
	}
}

func TestMemoryOpaqueKeys(t *testing.T) {
	m := newTestMemory(t)
	for _, k := range []string{"", "a", "\x00\xff", string(make([]byte, 1024))} {
		mustInsert(t, m, k, time.Minute)
		mustReplay(t, m, k, time.Minute)
	}
}

func TestMemoryExpiry(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, Clock(clk.Now))
	k := testKey(1)
	mustInsert(t, m, k, time.Minute)
	clk.Advance(time.Minute - time.Nanosecond)
	mustReplay(t, m, k, time.Minute)
	clk.Advance(time.Nanosecond)
	mustInsert(t, m, k, time.Minute) // expired entry counts as absent
	mustReplay(t, m, k, time.Minute) // and is recorded again
	if got := m.Len(); got != 1 {
		t.Fatalf("Len() = %d, want 1 (expired entry overwritten)", got)
	}
}

func TestMemoryMinimumTTL(t *testing.T) {
	for _, ttl := range []time.Duration{-time.Hour, 0, time.Nanosecond} {
		clk := newFakeClock()
		m := newTestMemory(t, Clock(clk.Now))
		mustInsert(t, m, "k", ttl)
		mustReplay(t, m, "k", ttl)
		clk.Advance(minTTL)
		mustInsert(t, m, "k", ttl)
	}
}

func TestMemoryHugeTTL(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, Clock(clk.Now))
	clk.Advance(time.Hour)
	mustInsert(t, m, "k", time.Duration(1<<63-1)) // must not overflow into the past
	clk.Advance(100 * 365 * 24 * time.Hour)
	mustReplay(t, m, "k", time.Minute)
}

func TestMemoryFullFailsClosed(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, Capacity(4), Shards(1), Clock(clk.Now))
	for i := range uint64(4) {
		mustInsert(t, m, testKey(i), time.Minute)
	}
	clk.Advance(time.Minute - time.Nanosecond) // all still live
	for i := uint64(4); i < 10; i++ {
		err := m.InsertIfAbsent(context.Background(), testKey(i), time.Minute)
		if !errors.Is(err, ErrFull) {
			t.Fatalf("insert into full store = %v, want ErrFull", err)
		}
		if errors.Is(err, ErrReplayed) {
			t.Fatalf("ErrFull error also matches ErrReplayed: %v", err)
		}
	}
	if got := m.Len(); got != 4 {
		t.Fatalf("Len() = %d, want 4", got)
	}
	for i := range uint64(4) { // nothing was evicted
		mustReplay(t, m, testKey(i), time.Minute)
	}
	// A rejected key was not recorded.
	clk.Advance(time.Nanosecond)
	mustInsert(t, m, testKey(9), time.Minute)
}

func TestMemoryFullReclaimsExpired(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, Capacity(4), Shards(1), Clock(clk.Now))
	mustInsert(t, m, testKey(0), time.Minute)
	mustInsert(t, m, testKey(1), time.Minute)
	clk.Advance(30 * time.Second)
	mustInsert(t, m, testKey(2), time.Minute)
	mustInsert(t, m, testKey(3), time.Minute)
	clk.Advance(30 * time.Second) // keys 0 and 1 expire
	mustInsert(t, m, testKey(4), time.Minute)
	mustInsert(t, m, testKey(5), time.Minute)
	if err := m.InsertIfAbsent(context.Background(), testKey(6), time.Minute); !errors.Is(err, ErrFull) {
		t.Fatalf("third insert = %v, want ErrFull", err)
	}
	for _, i := range []uint64{2, 3, 4, 5} {
		mustReplay(t, m, testKey(i), time.Minute)
	}
	clk.Advance(30 * time.Second) // keys 2 and 3 expire
	mustInsert(t, m, testKey(0), time.Minute)
	mustInsert(t, m, testKey(1), time.Minute)
	mustReplay(t, m, testKey(5), time.Minute)
}

func TestMemoryFullMixedTTL(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, Capacity(3), Shards(1), Clock(clk.Now))
	mustInsert(t, m, "long-1", time.Hour)
	mustInsert(t, m, "short", time.Second)
	mustInsert(t, m, "long-2", time.Hour)
	if err := m.InsertIfAbsent(context.Background(), "new-1", time.Hour); !errors.Is(err, ErrFull) {
		t.Fatalf("insert = %v, want ErrFull", err)
	}
	clk.Advance(2 * time.Second) // "short" expired behind a live oldest entry
	mustInsert(t, m, "new-1", time.Hour)
	if err := m.InsertIfAbsent(context.Background(), "new-2", time.Hour); !errors.Is(err, ErrFull) {
		t.Fatalf("insert = %v, want ErrFull", err)
	}
	for _, k := range []string{"long-1", "long-2", "new-1"} {
		mustReplay(t, m, k, time.Hour)
	}
}

func TestMemoryConcurrentSameKey(t *testing.T) {
	m := newTestMemory(t)
	const n = 50
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		ok, dup  atomic.Int32
		otherErr atomic.Value
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch err := m.InsertIfAbsent(context.Background(), "same", time.Minute); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrReplayed):
				dup.Add(1)
			default:
				otherErr.Store(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := otherErr.Load(); err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if ok.Load() != 1 || dup.Load() != n-1 {
		t.Fatalf("successes = %d, replays = %d; want 1 and %d", ok.Load(), dup.Load(), n-1)
	}
}

func TestMemoryConcurrentDistinctKeys(t *testing.T) {
	const workers, perWorker = 16, 250
	m := newTestMemory(t, Capacity(2*workers*perWorker))
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range uint64(workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range uint64(perWorker) {
				if err := m.InsertIfAbsent(context.Background(), testKey(w*perWorker+i), time.Minute); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("InsertIfAbsent: %v", err)
	}
	if got := m.Len(); got != workers*perWorker {
		t.Fatalf("Len() = %d, want %d", got, workers*perWorker)
	}
	for i := range uint64(workers * perWorker) {
		mustReplay(t, m, testKey(i), time.Minute)
	}
}

func TestMemoryOptions(t *testing.T) {
	for name, opt := range map[string]MemoryOption{
		"capacity 0":     Capacity(0),
		"capacity -1":    Capacity(-1),
		"shards 0":       Shards(0),
		"shards 3":       Shards(3),
		"shards -4":      Shards(-4),
		"nil clock":      Clock(nil),
		"shards 1<<40+1": Shards(1<<40 + 1),
	} {
		t.Run(name, func(t *testing.T) {
			m, err := NewMemory(opt)
			if !errors.Is(err, ErrInvalidConfig) || m != nil {
				t.Fatalf("NewMemory = %v, %v; want nil, ErrInvalidConfig", m, err)
			}
		})
	}

	t.Run("defaults", func(t *testing.T) {
		m := newTestMemory(t, nil)
		if m.Capacity() != defaultCapacity || len(m.shards) != defaultShards {
			t.Fatalf("capacity %d, shards %d", m.Capacity(), len(m.shards))
		}
	})

	for _, tc := range []struct{ capacity, shards, wantShards int }{
		{1, 16, 1},
		{3, 16, 2},
		{10, 16, 8},
		{10, 4, 4},
		{1000, 1, 1},
		{100_000, 64, 64},
	} {
		m := newTestMemory(t, Capacity(tc.capacity), Shards(tc.shards))
		if len(m.shards) != tc.wantShards {
			t.Errorf("Capacity(%d) Shards(%d): %d shards, want %d", tc.capacity, tc.shards, len(m.shards), tc.wantShards)
		}
		total := 0
		for i := range m.shards {
			if m.shards[i].capacity < 1 {
				t.Errorf("Capacity(%d) Shards(%d): shard %d capacity %d", tc.capacity, tc.shards, i, m.shards[i].capacity)
			}
			total += m.shards[i].capacity
		}
		if total != tc.capacity || m.Capacity() != tc.capacity {
			t.Errorf("Capacity(%d) Shards(%d): shard capacities sum to %d, Capacity() = %d", tc.capacity, tc.shards, total, m.Capacity())
		}
	}

	t.Run("capacity 1", func(t *testing.T) {
		m := newTestMemory(t, Capacity(1))
		mustInsert(t, m, "a", time.Minute)
		if err := m.InsertIfAbsent(context.Background(), "b", time.Minute); !errors.Is(err, ErrFull) {
			t.Fatalf("second insert = %v, want ErrFull", err)
		}
	})
}

func TestMemoryCloseNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 10 {
		m, err := NewMemory()
		if err != nil {
			t.Fatal(err)
		}
		mustInsert(t, m, "k", time.Minute)
		for range 2 { // idempotent
			if err := m.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}

// BenchmarkMemoryInsert measures accepted inserts of distinct keys in a store
// at steady state: keys expire after 1ms, so the store keeps reclaiming.
func BenchmarkMemoryInsert(b *testing.B) {
	const nkeys = 1 << 18
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = testKey(uint64(i))
	}
	run := func(b *testing.B, m *Memory, start uint64, next func() bool) {
		ctx := context.Background()
		for i := start; next(); i++ {
			_ = m.InsertIfAbsent(ctx, keys[i%nkeys], time.Millisecond)
		}
	}
	b.Run("serial", func(b *testing.B) {
		m := newTestMemory(b, Capacity(1<<16))
		b.ReportAllocs()
		b.ResetTimer()
		run(b, m, 0, b.Loop)
	})
	b.Run("parallel", func(b *testing.B) {
		m := newTestMemory(b, Capacity(1<<16))
		var worker atomic.Uint64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			run(b, m, worker.Add(1)*(nkeys/64), pb.Next)
		})
	})
}
