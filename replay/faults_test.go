package replay_test

// Faults and floods under the replay stores: Redis down, slow, dropping
// connections mid-command or losing replies (through a TCP proxy of this
// file in front of the real server named by POPGUARD_TEST_REDIS), and a
// flood of unique proofs into a bounded Memory store.

import (
	"context"
	"errors"
	"github.com/popguard/popguard/internal/faultkit"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/validate"
)

const fltTimeout = 150 * time.Millisecond

var fltSeq atomic.Int64

func fltKey() string {
	return "k" + strconv.FormatInt(fltSeq.Add(1), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// fltHung is set once an InsertIfAbsent call was abandoned: the leak
// checks are then moot (the stuck goroutines are the bug).
var fltHung atomic.Bool

// fltHangMsg names the hang every bounded wait below reports.
const fltHangMsg = "BUG: replay/redis.go (*Redis).process, direct path (client.Process with ContextTimeoutEnabled): " +
	"go-redis v9.17.0 (go.mod) can block forever in internal.(*FastSemaphore).Release under pool contention " +
	"(redis/go-redis#3619, fixed in v9.17.2), so InsertIfAbsent ignores its timeout and the request hangs instead of failing closed; " +
	"bump github.com/redis/go-redis/v9 to >= v9.17.2 and/or race Process against ctx.Done() on the direct path too"

// fltUnavailable asserts InsertIfAbsent fails closed within the timeout. A
// call that has not returned 5 s later is reported, not waited for.
func fltUnavailable(t *testing.T, s replay.Store) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.InsertIfAbsent(context.Background(), fltKey(), time.Minute) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		if fltHung.CompareAndSwap(false, true) {
			t.Errorf("InsertIfAbsent has not returned %v after it started (timeout %v). %s", time.Since(start).Round(time.Millisecond), fltTimeout, fltHangMsg)
		} else {
			t.Error("another InsertIfAbsent hung (see above)")
		}
		return
	}
	took := time.Since(start)
	if !errors.Is(err, replay.ErrUnavailable) {
		t.Errorf("InsertIfAbsent = %v, want an error wrapping ErrUnavailable", err)
	}
	if took > fltTimeout+750*time.Millisecond {
		t.Errorf("InsertIfAbsent took %v, timeout %v", took, fltTimeout)
	}
}

func TestFaultRedisStore(t *testing.T) {
	o := faultkit.RedisOptions(t)
	prefix := faultkit.Prefix(t, o)
	before := faultkit.Goroutines()
	for _, direct := range []bool{true, false} {
		t.Run("ContextTimeoutEnabled="+strconv.FormatBool(direct), func(t *testing.T) {
			proxy := faultkit.NewProxy(t, o.Addr)
			client := faultkit.Client(o, proxy.Addr(), direct)
			defer client.Close()
			s := replay.NewRedis(client, replay.Timeout(fltTimeout), replay.Prefix(prefix))
			ctx := context.Background()
			recovers := func(t *testing.T) {
				t.Helper()
				proxy.Set(faultkit.Forward, 0)
				deadline := time.Now().Add(3 * time.Second)
				for {
					key := fltKey()
					err := s.InsertIfAbsent(ctx, key, time.Minute)
					if err == nil {
						if err := s.InsertIfAbsent(ctx, key, time.Minute); !errors.Is(err, replay.ErrReplayed) {
							t.Fatalf("after recovery, second insert = %v, want ErrReplayed", err)
						}
						return
					}
					if !errors.Is(err, replay.ErrUnavailable) {
						t.Fatalf("while recovering: %v", err)
					}
					if time.Now().After(deadline) {
						t.Fatal("the store did not recover once Redis answered again")
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if err := s.InsertIfAbsent(ctx, fltKey(), time.Minute); err != nil {
				t.Fatalf("healthy: %v", err)
			}
			t.Run("slow", func(t *testing.T) {
				proxy.Set(faultkit.Delay, 2*time.Second)
				for range 3 {
					fltUnavailable(t, s)
				}
				recovers(t)
			})
			t.Run("drop after reading the command", func(t *testing.T) {
				proxy.Set(faultkit.Drop, 0)
				for range 3 {
					fltUnavailable(t, s)
				}
				recovers(t)
			})
			t.Run("reply lost after the SET ran", func(t *testing.T) {
				proxy.Set(faultkit.DropReply, 0)
				key := fltKey()
				err := s.InsertIfAbsent(ctx, key, time.Minute)
				// Fail closed: a lost reply must never be read as "absent" by
				// a later caller. The first caller may see the retry's answer
				// (replayed) or give up (unavailable).
				if err != nil && !errors.Is(err, replay.ErrReplayed) && !errors.Is(err, replay.ErrUnavailable) {
					t.Errorf("InsertIfAbsent = %v", err)
				}
				recovers(t)
				if err := s.InsertIfAbsent(ctx, key, time.Minute); !errors.Is(err, replay.ErrReplayed) {
					t.Errorf("the key whose reply was lost: second insert = %v, want ErrReplayed", err)
				}
			})
			t.Run("caller context already cancelled", func(t *testing.T) {
				c, cancel := context.WithCancel(ctx)
				cancel()
				if err := s.InsertIfAbsent(c, fltKey(), time.Minute); !errors.Is(err, replay.ErrUnavailable) {
					t.Errorf("InsertIfAbsent = %v, want ErrUnavailable", err)
				}
			})
			t.Run("down", func(t *testing.T) {
				proxy.Close()
				for range 3 {
					fltUnavailable(t, s)
				}
				if err := s.Ping(ctx); !errors.Is(err, replay.ErrUnavailable) {
					t.Errorf("Ping = %v, want ErrUnavailable", err)
				}
			})
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		for _, direct := range []bool{true, false} {
			client := faultkit.Client(o, addr, direct)
			fltUnavailable(t, replay.NewRedis(client, replay.Timeout(fltTimeout)))
			_ = client.Close()
		}
	})
	if !fltHung.Load() {
		faultkit.NoLeak(t, before, 2)
	}
}

// TestFaultRedisSlowFlood: many concurrent checks against a slow Redis all
// fail closed within the timeout, and every helper goroutine is gone once
// the client is closed.
func TestFaultRedisSlowFlood(t *testing.T) {
	o := faultkit.RedisOptions(t)
	before := faultkit.Goroutines()
	proxy := faultkit.NewProxy(t, o.Addr)
	proxy.Set(faultkit.Delay, 3*time.Second)
	for _, direct := range []bool{true, false} {
		client := faultkit.Client(o, proxy.Addr(), direct)
		s := replay.NewRedis(client, replay.Timeout(fltTimeout), replay.Prefix(faultkit.Prefix(t, o)))
		var wg sync.WaitGroup
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fltUnavailable(t, s)
			}()
		}
		wg.Wait()
		_ = client.Close()
	}
	proxy.Close()
	if !fltHung.Load() {
		faultkit.NoLeak(t, before, 2)
	}
}

// ---- a flood of unique proofs into a bounded memory store ----

// fltReplayKey is the replay key the middleware stores for a DPoP proof.
func fltReplayKey(thumbprint string, i int) string {
	p := validate.Proof{Thumbprint: thumbprint, JTI: "jti-" + strconv.Itoa(i)}
	return p.ReplayKey()
}

func TestFaultMemoryFlood(t *testing.T) {
	const total, capacity = 200_000, 50_000
	const ttl = 70 * time.Second
	var mu sync.Mutex
	now := time.Unix(1_750_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	const tp = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" // RFC 9449 example key

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := replay.NewMemory(replay.Capacity(capacity), replay.Clock(clock))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	flood := func(t *testing.T, from int) (inserted, full int) {
		t.Helper()
		for i := from; i < from+total; i++ {
			switch err := s.InsertIfAbsent(ctx, fltReplayKey(tp, i), ttl); {
			case err == nil:
				inserted++
			case errors.Is(err, replay.ErrFull):
				full++
			default:
				t.Fatalf("insert %d: %v", i, err)
			}
			if i%5000 == 0 && s.Len() > s.Capacity() {
				t.Fatalf("Len() = %d > Capacity() = %d", s.Len(), s.Capacity())
			}
		}
		return inserted, full
	}
	inserted, full := flood(t, 0)
	if inserted != capacity || full != total-capacity || s.Len() != capacity {
		t.Errorf("inserted %d, refused (full) %d, Len %d; want %d, %d, %d", inserted, full, s.Len(), capacity, total-capacity, capacity)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("memory store: %d entries of %d-byte keys, heap growth %d bytes = %.0f bytes/entry", s.Len(), len(fltReplayKey(tp, 0)), growth, float64(growth)/float64(s.Len()))
	if growth > 64<<20 {
		t.Errorf("heap grew by %d bytes for %d entries, want < 64 MiB", growth, s.Len())
	}
	// Replays of stored proofs stay replays while the store is full.
	for i := 0; i < total; i += 997 {
		err := s.InsertIfAbsent(ctx, fltReplayKey(tp, i), ttl)
		if err == nil {
			t.Fatalf("proof %d accepted twice", i)
		}
	}
	// Once the window has passed, expired entries make room again and the
	// store never grows beyond its capacity.
	mu.Lock()
	now = now.Add(ttl + time.Second)
	mu.Unlock()
	inserted, full = flood(t, total)
	if inserted != capacity || full != total-capacity || s.Len() > s.Capacity() {
		t.Errorf("second window: inserted %d, refused %d, Len %d", inserted, full, s.Len())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if growth2 := int64(after.HeapAlloc) - int64(before.HeapAlloc); growth2 > 64<<20 {
		t.Errorf("after a second window the heap grew by %d bytes, want < 64 MiB", growth2)
	}
	runtime.KeepAlive(s)
}

// TestFaultMemoryConcurrentFlood: writers racing on a small store never
// push Len() past Capacity(), and each key is accepted at most once.
func TestFaultMemoryConcurrentFlood(t *testing.T) {
	const capacity, writers, each = 4096, 8, 4000
	s, err := replay.NewMemory(replay.Capacity(capacity))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var accepted atomic.Int64
	stop := make(chan struct{})
	var over atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				if n := s.Len(); n > s.Capacity() {
					over.Store(int64(n))
				}
				runtime.Gosched()
			}
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Every key is sent by two writers: at most one may win.
				key := fltReplayKey("tp", (w/2)*each+i)
				if err := s.InsertIfAbsent(context.Background(), key, time.Minute); err == nil {
					accepted.Add(1)
				} else if !errors.Is(err, replay.ErrReplayed) && !errors.Is(err, replay.ErrFull) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if n := over.Load(); n != 0 {
		t.Errorf("Len() reached %d > Capacity() %d", n, capacity)
	}
	if accepted.Load() > capacity || int64(s.Len()) != accepted.Load() {
		t.Errorf("accepted %d, Len %d, capacity %d", accepted.Load(), s.Len(), capacity)
	}
}
