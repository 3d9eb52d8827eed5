package replay_test

// Floods under the memory store: a flood of unique proofs into a bounded
// Memory store, and writers racing on a small one. (The Redis store's fault
// tests are in replay/redisstore.)

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/validate"
)

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
