package replay

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// shardOf returns the index of the shard of s, as an owner or as a key: both
// use the same seed and mask.
func (m *Memory) shardOf(s string) uint64 {
	return maphash.String(m.seed, s) & m.mask
}

// ownerCount returns the number of owner records held, stale ones included.
func (m *Memory) ownerCount() int {
	n := 0
	for i := range m.owners {
		o := &m.owners[i]
		o.mu.Lock()
		n += o.lru.Len()
		o.mu.Unlock()
	}
	return n
}

// checkOwned calls InsertOwned and checks its error against want (nil, or a
// sentinel matched with errors.Is). It also checks that a quota error matches
// none of the other sentinels, so a caller's switch cannot misclassify it.
func checkOwned(t *testing.T, s OwnedStore, owner, key string, ttl time.Duration, want error) {
	t.Helper()
	err := s.InsertOwned(context.Background(), owner, key, ttl)
	if want == nil {
		if err != nil {
			t.Fatalf("InsertOwned(%q, %q) = %v, want nil", owner, key, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("InsertOwned(%q, %q) = %v, want %v", owner, key, err, want)
	}
	for _, other := range []error{ErrReplayed, ErrQuota, ErrFull, ErrUnavailable} {
		if other != want && errors.Is(err, other) {
			t.Fatalf("InsertOwned(%q, %q) = %v, also matches %v", owner, key, err, other)
		}
	}
}

func TestMemoryOwnerQuota(t *testing.T) {
	const ttl = time.Minute
	clk := newFakeClock()
	m := newTestMemory(t, Capacity(1000), OwnerQuota(3), Clock(clk.Now))

	steps := []struct {
		name, owner, key string
		want             error
	}{
		{"A first", "A", "a1", nil},
		{"A second", "A", "a2", nil},
		{"A third", "A", "a3", nil},
		{"A over quota", "A", "a4", ErrQuota},
		{"A still over quota", "A", "a5", ErrQuota},
		{"B unaffected", "B", "b1", nil},
		{"A replay at quota is ErrReplayed", "A", "a1", ErrReplayed},
		{"B replaying A's key is ErrReplayed", "B", "a2", ErrReplayed},
		{"A replaying B's key is ErrReplayed", "A", "b1", ErrReplayed},
		{"rejected key was not recorded (still ErrQuota, not ErrReplayed)", "A", "a4", ErrQuota},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) { checkOwned(t, m, st.owner, st.key, ttl, st.want) })
	}
	if got := m.Len(); got != 4 {
		t.Fatalf("Len() = %d, want 4 (a1 a2 a3 b1)", got)
	}

	clk.Advance(ttl - time.Nanosecond) // everything still live
	checkOwned(t, m, "A", "a6", ttl, ErrQuota)

	clk.Advance(time.Nanosecond) // A's entries expire at this instant
	for _, k := range []string{"a4", "a5", "a1"} {
		// a4 and a5 were rejected for quota and never recorded; a1 has
		// expired. None is a replay, and A has its full quota again.
		checkOwned(t, m, "A", k, ttl, nil)
	}
	checkOwned(t, m, "A", "a7", ttl, ErrQuota)
	checkOwned(t, m, "A", "a4", ttl, ErrReplayed)
}

// TestMemoryOwnerQuotaExpiresOneByOne: the count follows each entry's own
// expiry, not the owner's first or last one.
func TestMemoryOwnerQuotaExpiresOneByOne(t *testing.T) {
	const ttl = time.Minute
	clk := newFakeClock()
	m := newTestMemory(t, OwnerQuota(2), Clock(clk.Now))
	checkOwned(t, m, "A", "k1", ttl, nil)
	clk.Advance(10 * time.Second)
	checkOwned(t, m, "A", "k2", ttl, nil)
	checkOwned(t, m, "A", "k3", ttl, ErrQuota)
	clk.Advance(50 * time.Second) // k1 expires, k2 is live
	checkOwned(t, m, "A", "k3", ttl, nil)
	checkOwned(t, m, "A", "k4", ttl, ErrQuota)
	clk.Advance(10 * time.Second) // k2 expires
	checkOwned(t, m, "A", "k4", ttl, nil)
}

// TestMemoryOwnerQuotaMixedTTL: an entry with a shorter TTL than an earlier
// one stops counting when it expires, not when the earlier one does.
func TestMemoryOwnerQuotaMixedTTL(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, OwnerQuota(2), Clock(clk.Now))
	checkOwned(t, m, "A", "long", time.Hour, nil)
	checkOwned(t, m, "A", "short", time.Second, nil)
	checkOwned(t, m, "A", "x", time.Second, ErrQuota)
	clk.Advance(time.Second) // "short" expires behind the live "long"
	checkOwned(t, m, "A", "x", time.Hour, nil)
	checkOwned(t, m, "A", "y", time.Second, ErrQuota)
}

// TestMemoryOwnerQuotaProtectsCapacity: one owner at its quota leaves the
// rest of the store to the others, where without the quota it fills it.
func TestMemoryOwnerQuotaProtectsCapacity(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		opts                 []MemoryOption
		wantA, wantQuota     int
		wantFull, wantOthers int
	}{
		// One shard, so that B's 80 keys cannot hit one full shard early.
		{"quota 10", []MemoryOption{Capacity(100), Shards(1), OwnerQuota(10)}, 10, 990, 0, 80},
		{"no quota", []MemoryOption{Capacity(100), Shards(1)}, 100, 0, 900, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMemory(t, tc.opts...)
			ctx := context.Background()
			var accepted, quota, full int
			for i := range uint64(1000) {
				switch err := m.InsertOwned(ctx, "A", testKey(i), time.Minute); {
				case err == nil:
					accepted++
				case errors.Is(err, ErrQuota):
					quota++
				case errors.Is(err, ErrFull):
					full++
				default:
					t.Fatalf("insert %d: %v", i, err)
				}
			}
			if accepted != tc.wantA || quota != tc.wantQuota || full != tc.wantFull {
				t.Fatalf("owner A: accepted %d, quota %d, full %d; want %d, %d, %d",
					accepted, quota, full, tc.wantA, tc.wantQuota, tc.wantFull)
			}
			// Eight other owners, ten keys each (each is also held to 10).
			accepted = 0
			for i := range uint64(80) {
				if m.InsertOwned(ctx, fmt.Sprint("B", i/10), testKey(1_000_000+i), time.Minute) == nil {
					accepted++
				}
			}
			if accepted != tc.wantOthers {
				t.Fatalf("other owners: accepted %d of 80, want %d", accepted, tc.wantOthers)
			}
		})
	}
}

// TestMemoryOwnerQuotaFullNotCounted: a key refused because the store is
// full does not count against its owner.
func TestMemoryOwnerQuotaFullNotCounted(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, Capacity(2), Shards(1), OwnerQuota(2), Clock(clk.Now))
	checkOwned(t, m, "B", "b1", time.Minute, nil)
	checkOwned(t, m, "B", "b2", time.Second, nil)
	checkOwned(t, m, "A", "a1", time.Minute, ErrFull)
	if got := m.ownerCount(); got != 1 {
		t.Fatalf("owner records = %d, want 1 (A refused, not recorded)", got)
	}
	clk.Advance(time.Second) // b2 expires: one slot free
	checkOwned(t, m, "A", "a1", time.Minute, nil)
	checkOwned(t, m, "A", "a2", time.Minute, ErrFull) // full again; A holds 1, not at quota
	clk.Advance(time.Minute)                          // everything expires
	checkOwned(t, m, "A", "a2", time.Minute, nil)
	checkOwned(t, m, "A", "a3", time.Minute, nil)
	checkOwned(t, m, "A", "a4", time.Minute, ErrQuota)
}

func TestMemoryOwnerQuotaConcurrent(t *testing.T) {
	const goroutines, quota = 50, 7
	m := newTestMemory(t, OwnerQuota(quota))
	var (
		wg               sync.WaitGroup
		start            = make(chan struct{})
		accepted, quoted atomic.Int32
		otherErr         atomic.Value
	)
	for g := range uint64(goroutines) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			switch err := m.InsertOwned(context.Background(), "A", testKey(g), time.Minute); {
			case err == nil:
				accepted.Add(1)
			case errors.Is(err, ErrQuota):
				quoted.Add(1)
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
	if accepted.Load() != quota || quoted.Load() != goroutines-quota {
		t.Fatalf("accepted %d, ErrQuota %d; want %d and %d", accepted.Load(), quoted.Load(), quota, goroutines-quota)
	}
	if got := m.Len(); got != quota {
		t.Fatalf("Len() = %d, want %d", got, quota)
	}
}

// TestMemoryOwnerQuotaConcurrentOwners: several owners and plain inserts
// racing (both lock orders in play) neither deadlock nor exceed any quota.
func TestMemoryOwnerQuotaConcurrentOwners(t *testing.T) {
	const owners, perOwner, quota = 8, 200, 25
	m := newTestMemory(t, Capacity(4096), OwnerQuota(quota))
	var wg sync.WaitGroup
	counts := make([]atomic.Int32, owners)
	for w := range owners {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perOwner {
				key := testKey(uint64(w*perOwner + i))
				if err := m.InsertOwned(context.Background(), fmt.Sprint("owner-", w), key, time.Minute); err == nil {
					counts[w].Add(1)
				} else if !errors.Is(err, ErrQuota) && !errors.Is(err, ErrReplayed) {
					t.Error(err)
				}
			}
		}()
		go func() { // plain inserts on the same keys
			defer wg.Done()
			for i := range perOwner {
				_ = m.InsertIfAbsent(context.Background(), testKey(uint64(w*perOwner+i)), time.Minute)
			}
		}()
	}
	wg.Wait()
	for w := range counts {
		if n := counts[w].Load(); n > quota {
			t.Errorf("owner-%d: %d accepted, quota %d", w, n, quota)
		}
	}
}

// TestMemoryOwnerRecordsBounded: owner records of expired entries are
// dropped, and there are never more records than the capacity.
func TestMemoryOwnerRecordsBounded(t *testing.T) {
	const capacity = 64
	for _, tc := range []struct {
		name   string
		shards int
		step   time.Duration // clock advance per insert; ttl is 10ms
		live   int           // most owners with a live entry at any time
	}{
		{"one shard, 10 live", 1, time.Millisecond, 10},
		{"4 shards, 10 live", 4, time.Millisecond, 10},
		{"4 shards, all expired each time", 4, 10 * time.Millisecond, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			m := newTestMemory(t, Capacity(capacity), Shards(tc.shards), OwnerQuota(1), Clock(clk.Now))
			peak := 0
			for i := range uint64(20_000) {
				checkOwned(t, m, fmt.Sprint("owner-", i), testKey(i), 10*time.Millisecond, nil)
				peak = max(peak, m.ownerCount())
				clk.Advance(tc.step)
			}
			if peak > capacity {
				t.Fatalf("peak owner records = %d > capacity %d", peak, capacity)
			}
			// Stale records are reclaimed per shard when the shard gets a new
			// owner, so at most one shard's worth of records lingers.
			if limit := tc.live + capacity/tc.shards; peak > limit {
				t.Fatalf("peak owner records = %d, want <= %d (live owners + one shard)", peak, limit)
			}
			t.Logf("peak owner records %d (capacity %d)", peak, capacity)
		})
	}
}

// TestMemoryOwnerSweepKeepsLiveOwner: with mixed TTLs a live owner can sit at
// the oldest end with stale owners behind it; a full owner shard sweeps the
// stale ones instead of forgetting the live one.
func TestMemoryOwnerSweepKeepsLiveOwner(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, Capacity(4), Shards(1), OwnerQuota(1), Clock(clk.Now))
	checkOwned(t, m, "A", "a1", time.Hour, nil) // A at quota, oldest owner
	for _, o := range []string{"B", "C", "D"} {
		checkOwned(t, m, o, o+"1", time.Second, nil)
	}
	if got := m.ownerCount(); got != 4 {
		t.Fatalf("owner records = %d, want 4 (shard full)", got)
	}
	clk.Advance(time.Second) // B, C and D are stale behind the live A
	checkOwned(t, m, "E", "e1", time.Second, nil)
	if got := m.ownerCount(); got != 2 {
		t.Fatalf("owner records = %d, want 2 (A and E)", got)
	}
	checkOwned(t, m, "A", "a2", time.Hour, ErrQuota) // A was not forgotten
}

// TestMemoryOwnerStaleRecordsDropped: once an owner's entries have all
// expired its record goes at the next accepted insert of any owner of the
// shard, new or known, and an owner's queue gives back the memory of a burst.
func TestMemoryOwnerStaleRecordsDropped(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, Capacity(1000), Shards(1), OwnerQuota(500), Clock(clk.Now))
	for i := range uint64(400) { // A bursts
		checkOwned(t, m, "A", testKey(i), time.Second, nil)
	}
	for _, o := range []string{"B", "C", "D"} {
		checkOwned(t, m, o, o+"0", time.Second, nil)
	}
	if got := m.ownerCount(); got != 4 {
		t.Fatalf("owner records = %d, want 4", got)
	}
	for i := range uint64(20) { // D trickles: one entry per window
		clk.Advance(time.Second)
		checkOwned(t, m, "D", fmt.Sprint("D", i+1), time.Second, nil)
		if got := m.ownerCount(); got != 1 {
			t.Fatalf("window %d: owner records = %d, want 1 (only D is live)", i, got)
		}
	}
	// A comes back, then trickles: its burst array is given back.
	for i := range uint64(20) {
		clk.Advance(time.Second)
		checkOwned(t, m, "A", testKey(1000+i), time.Second, nil)
	}
	q, _ := m.owners[0].lru.Peek("A")
	if q.n() != 1 || cap(q.exp) > minQueueCap {
		t.Fatalf("A holds %d expiries in an array of %d, want 1 in at most %d", q.n(), cap(q.exp), minQueueCap)
	}
}

// TestOwnerQueueModel checks ownerQueue against a plain sorted slice under
// random pushes (mostly in order, some shorter TTLs) and expiries, and that
// its array stays within four times the expiries it holds.
func TestOwnerQueueModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var q ownerQueue
		var model []int64
		now := int64(0)
		for step := range 300 {
			now += r.Int64N(5)
			q.expire(now)
			model = slices.DeleteFunc(model, func(e int64) bool { return e <= now })
			if burst := r.IntN(10) == 0; burst || r.IntN(3) > 0 {
				for range 1 + r.IntN(map[bool]int{true: 100, false: 2}[burst]) {
					ttl := int64(50)
					if r.IntN(8) == 0 {
						ttl = 1 + r.Int64N(50)
					}
					q.push(now + ttl)
					i, _ := slices.BinarySearch(model, now+ttl)
					model = slices.Insert(model, i, now+ttl)
				}
			}
			if want := slices.Concat([]int64{math.MinInt64}, model)[len(model)]; q.last() != want {
				t.Fatalf("round %d step %d: last() = %d, want %d", round, step, q.last(), want)
			}
			if got := q.exp[q.head:]; !slices.Equal(got, model) {
				t.Fatalf("round %d step %d: queue %v, want %v", round, step, got, model)
			}
			if c := cap(q.exp); c > max(2*minQueueCap, 4*q.n()+4) && q.n() > 0 {
				t.Fatalf("round %d step %d: array of %d (len %d head %d) for %d expiries", round, step, c, len(q.exp), q.head, q.n())
			}
		}
	}
}

// TestMemoryOwnerEmptyRecordRemovedOnFull: an owner whose entries have all
// expired and whose new key is refused as ErrFull leaves no record behind.
func TestMemoryOwnerEmptyRecordRemovedOnFull(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, Capacity(3), Shards(1), OwnerQuota(3), Clock(clk.Now))
	checkOwned(t, m, "L", "l1", time.Hour, nil)   // oldest owner, live
	checkOwned(t, m, "A", "a1", time.Second, nil) // behind L
	clk.Advance(time.Second)                      // A is stale, but behind the live L
	checkOwned(t, m, "M", "m1", time.Hour, nil)
	checkOwned(t, m, "M", "m2", time.Hour, nil) // reclaims a1 from the entry shard
	if got := m.ownerCount(); got != 3 {
		t.Fatalf("owner records = %d, want 3 (L, stale A, M)", got)
	}
	checkOwned(t, m, "A", "a2", time.Hour, ErrFull)
	if got := m.ownerCount(); got != 2 {
		t.Fatalf("owner records = %d, want 2 (A's empty record removed)", got)
	}
}

// TestMemoryOwnerShardFullOfLiveOwners: when owners hash unevenly and one
// owner shard fills with live owners, a new owner evicts the least recent one,
// which then gets a fresh quota (the documented under-count), and the owner
// records never exceed the shard's share of the capacity.
func TestMemoryOwnerShardFullOfLiveOwners(t *testing.T) {
	m := newTestMemory(t, Capacity(8), Shards(2), OwnerQuota(1))
	// Five owners of owner shard 0 (room for 4 owners), and six keys
	// alternating between the two entry shards (room for 4 entries each).
	var owners, keys []string
	for i := 0; len(owners) < 5; i++ {
		if o := fmt.Sprint("owner-", i); m.shardOf(o) == 0 {
			owners = append(owners, o)
		}
	}
	for i := 0; len(keys) < 6; i++ {
		if k := fmt.Sprint("key-", i); m.shardOf(k) == uint64(len(keys)%2) {
			keys = append(keys, k)
		}
	}
	for i, o := range owners {
		checkOwned(t, m, o, keys[i], time.Hour, nil)
		if got := m.ownerCount(); got > m.owners[0].capacity {
			t.Fatalf("owner records = %d > shard capacity %d", got, m.owners[0].capacity)
		}
	}
	// owners[0] was the least recent when owners[4] arrived: forgotten.
	checkOwned(t, m, owners[0], keys[5], time.Hour, nil)
	checkOwned(t, m, owners[4], "other", time.Hour, ErrQuota) // still counted
}

// TestMemoryOwnerHugeTTL: a TTL that overflows the clock is clamped, as in
// InsertIfAbsent, and counts until then.
func TestMemoryOwnerHugeTTL(t *testing.T) {
	clk := newFakeClock()
	m := newTestMemory(t, OwnerQuota(1), Clock(clk.Now))
	clk.Advance(time.Hour)
	checkOwned(t, m, "A", "k", time.Duration(1<<63-1), nil)
	clk.Advance(100 * 365 * 24 * time.Hour)
	checkOwned(t, m, "A", "k", time.Minute, ErrReplayed)
	checkOwned(t, m, "A", "k2", time.Minute, ErrQuota)
}

func TestMemoryOwnerQuotaOff(t *testing.T) {
	for name, opts := range map[string][]MemoryOption{
		"default":       {Capacity(10), Shards(1)},
		"OwnerQuota(0)": {Capacity(10), Shards(1), OwnerQuota(0)},
	} {
		t.Run(name, func(t *testing.T) {
			m := newTestMemory(t, opts...)
			if m.owners != nil {
				t.Fatal("owner accounting allocated with the quota off")
			}
			for i := range uint64(10) {
				checkOwned(t, m, "A", testKey(i), time.Minute, nil)
			}
			checkOwned(t, m, "A", testKey(0), time.Minute, ErrReplayed)
			checkOwned(t, m, "B", testKey(10), time.Minute, ErrFull)
		})
	}
}

func TestMemoryOwnerQuotaOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []MemoryOption
		ok   bool
	}{
		{"-1", []MemoryOption{OwnerQuota(-1)}, false},
		{"min int", []MemoryOption{OwnerQuota(-1 << 62)}, false},
		{"0 is off", []MemoryOption{OwnerQuota(0)}, true},
		{"1", []MemoryOption{OwnerQuota(1)}, true},
		{"default capacity", []MemoryOption{OwnerQuota(defaultCapacity)}, true},
		{"above default capacity", []MemoryOption{OwnerQuota(defaultCapacity + 1)}, false},
		{"equal to capacity", []MemoryOption{Capacity(10), OwnerQuota(10)}, true},
		{"above capacity", []MemoryOption{Capacity(10), OwnerQuota(11)}, false},
		{"above capacity, capacity set after", []MemoryOption{OwnerQuota(11), Capacity(10)}, false},
		{"capacity set after", []MemoryOption{OwnerQuota(200_000), Capacity(200_000)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMemory(tc.opts...)
			if tc.ok {
				if err != nil || m == nil {
					t.Fatalf("NewMemory = %v, %v; want a store", m, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || m != nil {
				t.Fatalf("NewMemory = %v, %v; want nil, ErrInvalidConfig", m, err)
			}
		})
	}
}

// BenchmarkMemoryInsertOwned measures accepted InsertOwned calls of distinct
// keys at steady state (keys expire after 1ms, so the store keeps reclaiming),
// with a quota that is never reached:
//
//   - quota: 64 owners that stay live (each comes back well within the TTL,
//     as clients do with a 71s window);
//   - quota-churn: 16384 owners, each stale by the time it comes back, so every
//     insert drops an owner record and creates one (the worst case);
//   - off: no quota, for comparison with BenchmarkMemoryInsert.
func BenchmarkMemoryInsertOwned(b *testing.B) {
	const nkeys = 1 << 18
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = testKey(uint64(i))
	}
	owners := make([]string, 1<<14)
	for i := range owners {
		owners[i] = testKey(uint64(nkeys + i))
	}
	for _, tc := range []struct {
		name    string
		owners  int
		options []MemoryOption
	}{
		{"quota", 64, []MemoryOption{Capacity(1 << 16), OwnerQuota(1 << 10)}},
		{"quota-churn", 1 << 14, []MemoryOption{Capacity(1 << 16), OwnerQuota(1 << 10)}},
		{"off", 64, []MemoryOption{Capacity(1 << 16)}},
	} {
		run := func(b *testing.B, m *Memory, start uint64, next func() bool) {
			ctx := context.Background()
			n := uint64(tc.owners)
			for i := start; next(); i++ {
				_ = m.InsertOwned(ctx, owners[i%n], keys[i%nkeys], time.Millisecond)
			}
		}
		b.Run(tc.name+"/serial", func(b *testing.B) {
			m := newTestMemory(b, tc.options...)
			b.ReportAllocs()
			b.ResetTimer()
			run(b, m, 0, b.Loop)
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			m := newTestMemory(b, tc.options...)
			var worker atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				run(b, m, worker.Add(1)*(nkeys/64), pb.Next)
			})
		})
	}
}
