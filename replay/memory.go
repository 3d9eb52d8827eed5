package replay

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Defaults for [NewMemory].
const (
	// defaultCapacity is the default total number of entries of a [Memory] store.
	defaultCapacity = 100_000
	// defaultShards is the default number of shards of a [Memory] store.
	defaultShards = 16
)

// Memory is a bounded in-memory [Store] for a single instance.
//
// Entries are spread over independently locked shards by a keyed hash of the
// key. Each shard holds at most its share of the capacity and never evicts an
// entry that is still inside its TTL: expired entries are reclaimed lazily
// when a shard is full, and if nothing can be reclaimed InsertIfAbsent fails
// closed with an error wrapping [ErrFull]. Because the capacity is split
// evenly across shards, one shard can fill up slightly before the whole store
// does; size the capacity with some headroom (for example twice the expected
// number of proofs per acceptance window).
//
// Because a full store rejects every new proof, one client sending unique
// proofs fast enough could fill it and deny service to all the others. The
// [OwnerQuota] option prevents that: [Memory.InsertOwned] then caps the live
// entries of each owner (the proof key's thumbprint), and a client over its
// quota gets [ErrQuota] while the others keep the rest of the capacity.
//
// Sizing, where the window is the whole time a proof is accepted (past skew +
// future skew + rounding):
//
//   - capacity ≥ peak proofs per second across all clients × window, with
//     headroom (see above);
//   - OwnerQuota ≥ one legitimate client's peak proofs per second × window.
//
// For example, a client making at most 20 requests/s with a 71 s window
// (60 s in the past + 10 s in the future + 1 s) needs a quota of at least
// 1 420. With a capacity of 100 000 and a quota of 2 000, filling the store
// takes 50 clients at their quota, that is 50 keys each bound to a valid
// access token, instead of one.
//
// The quota is not available from the Redis store
// ([github.com/popguard/popguard/replay/redisstore.Store]): a shared Redis is
// sized with its own maxmemory setting.
//
// A Memory needs no background goroutine. It is safe for concurrent use.
type Memory struct {
	shards   []memShard
	mask     uint64
	seed     maphash.Seed
	capacity int
	now      func() time.Time
	base     time.Time // expiries are nanoseconds since base (monotonic when now is time.Now)
	errFull  error

	// Owner accounting, only with OwnerQuota: owners has one shard per entry
	// shard (same mask and seed), nil when the quota is off.
	owners   []ownerShard
	quota    int
	errQuota error
}

// memShard is one independently locked part of a Memory store. Values are
// expiry instants in nanoseconds since Memory.base; the LRU list is kept in
// insertion order because only Peek, Contains and GetOldest are used to read it.
type memShard struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, int64]
	capacity int
	// minExpiry is a lower bound of the expiry of every entry in the shard.
	// When now < minExpiry no entry can have expired, so a full sweep is useless.
	minExpiry int64
	_         [32]byte // keep shards on separate cache lines
}

// ownerShard is one independently locked part of the owner accounting of a
// Memory store. Each owner's entry is its ownerQueue; the LRU list is ordered
// by the owner's last accepted insert, so with a common TTL the owners whose
// entries have all expired gather at the oldest end.
type ownerShard struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, *ownerQueue]
	capacity int
	// minLast is a lower bound of every owner's last expiry. When
	// now < minLast no owner can be stale, so a full sweep is useless.
	minLast int64
	_       [32]byte // keep shards on separate cache lines
}

// ownerQueue holds the expiry instants (nanoseconds since Memory.base) of an
// owner's entries in exp[head:], sorted in ascending order, so expired ones
// are at the front and n() is exactly the number of live entries once expire
// has run. Entries share a TTL in practice, so a new expiry is appended; one
// with a shorter TTL than its predecessors is inserted in order, so it is
// never counted for longer than its entry lives. The array is compacted or
// shrunk so that it stays within about four times the expiries it holds.
type ownerQueue struct {
	exp  []int64
	head int
}

// minQueueCap is the array capacity below which an ownerQueue is not shrunk.
const minQueueCap = 8

type memoryConfig struct {
	capacity int
	shards   int
	quota    int
	now      func() time.Time
}

// MemoryOption configures [NewMemory].
type MemoryOption func(*memoryConfig) error

// Capacity sets the total number of entries the store can hold
// (default 100 000). It must be at least 1.
func Capacity(n int) MemoryOption {
	return func(c *memoryConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: capacity %d must be at least 1", ErrInvalidConfig, n)
		}
		c.capacity = n
		return nil
	}
}

// Shards sets the number of independently locked shards (default
// 16). It must be a power of two. If it exceeds the capacity,
// the store uses the largest power of two not above the capacity, so that
// every shard holds at least one entry.
func Shards(n int) MemoryOption {
	return func(c *memoryConfig) error {
		if n < 1 || n&(n-1) != 0 {
			return fmt.Errorf("%w: shards %d must be a power of two", ErrInvalidConfig, n)
		}
		c.shards = n
		return nil
	}
}

// Clock sets the time source (default [time.Now]); intended for tests.
// Expiry is computed from differences between its readings, so with
// [time.Now] the store uses the monotonic clock and is unaffected by wall
// clock steps.
func Clock(now func() time.Time) MemoryOption {
	return func(c *memoryConfig) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
		}
		c.now = now
		return nil
	}
}

// OwnerQuota sets the most live entries one owner may hold in the store: with
// it, [Memory.InsertOwned] returns an error wrapping [ErrQuota] for an owner
// already at n, so one client cannot fill the store and lock the others out.
// 0, the default, turns the quota off (InsertOwned then ignores the owner).
// Otherwise n must be at most the capacity, whatever the order of the options.
// See [Memory] for sizing.
//
// The count is exact: an entry stops counting at the instant it expires, even
// with mixed TTLs. The owner table holds at most one record per unit of
// capacity (each about 150 bytes with its key, for a thumbprint-sized owner).
// A record is dropped once all its entries have expired, at the next accepted
// insert into its part of the table (with mixed TTLs, at the latest when that
// part fills up), and its array of expiries stays within about four times the
// entries it counts. If owners hash unevenly and one part of the table fills
// with live owners, the least recently inserting owner is forgotten: that can
// only under-count (the owner gets a fresh quota), never reject a client that
// is within its quota.
func OwnerQuota(n int) MemoryOption {
	return func(c *memoryConfig) error {
		if n < 0 {
			return fmt.Errorf("%w: owner quota %d must not be negative", ErrInvalidConfig, n)
		}
		c.quota = n
		return nil
	}
}

// NewMemory returns an empty in-memory store. Errors wrap [ErrInvalidConfig].
func NewMemory(opts ...MemoryOption) (*Memory, error) {
	cfg := memoryConfig{capacity: defaultCapacity, shards: defaultShards, now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.quota > cfg.capacity {
		return nil, fmt.Errorf("%w: owner quota %d exceeds capacity %d", ErrInvalidConfig, cfg.quota, cfg.capacity)
	}
	n := cfg.shards
	if n > cfg.capacity {
		n = 1 << (bits.Len(uint(cfg.capacity)) - 1)
	}
	m := &Memory{
		shards:   make([]memShard, n),
		mask:     uint64(n - 1),
		seed:     maphash.MakeSeed(),
		capacity: cfg.capacity,
		now:      cfg.now,
		base:     cfg.now(),
		errFull:  fmt.Errorf("%w: capacity %d reached with only unexpired entries", ErrFull, cfg.capacity),
	}
	per, extra := cfg.capacity/n, cfg.capacity%n
	for i := range m.shards {
		c := per
		if i < extra {
			c++
		}
		lru, err := simplelru.NewLRU[string, int64](c, nil)
		if err != nil { // unreachable: c >= 1
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		m.shards[i] = memShard{lru: lru, capacity: c, minExpiry: math.MaxInt64}
	}
	if cfg.quota > 0 {
		m.quota = cfg.quota
		m.errQuota = fmt.Errorf("%w: owner holds %d live entries", ErrQuota, cfg.quota)
		m.owners = make([]ownerShard, n)
		for i := range m.owners {
			// Same split as the entry shards: never more owners than the capacity.
			c := m.shards[i].capacity
			lru, err := simplelru.NewLRU[string, *ownerQueue](c, nil)
			if err != nil { // unreachable: c >= 1
				return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
			}
			m.owners[i] = ownerShard{lru: lru, capacity: c, minLast: math.MaxInt64}
		}
	}
	return m, nil
}

// InsertIfAbsent implements [Store]. A key whose entry has expired counts as
// absent and is recorded again. TTLs below one millisecond are raised to one
// millisecond. The context is not consulted: the call never waits on anything
// but a shard mutex. It returns an error wrapping [ErrFull] when the key's
// shard holds only unexpired entries.
func (m *Memory) InsertIfAbsent(_ context.Context, key string, ttl time.Duration) error {
	ttl = max(ttl, minTTL)
	now := int64(m.now().Sub(m.base))
	exp := now + int64(ttl)
	if exp < now { // overflow
		exp = math.MaxInt64
	}
	s := &m.shards[maphash.String(m.seed, key)&m.mask]
	s.mu.Lock()
	err := s.insert(key, now, exp, m.errFull)
	s.mu.Unlock()
	return err
}

func (s *memShard) insert(key string, now, exp int64, errFull error) error {
	if old, ok := s.lru.Peek(key); ok {
		if old > now {
			return ErrReplayed
		}
		// Expired: overwrite. Add moves the entry to the newest end.
		s.add(key, exp)
		return nil
	}
	if s.lru.Len() >= s.capacity {
		s.reclaim(now)
		if s.lru.Len() >= s.capacity {
			return errFull
		}
	}
	s.add(key, exp)
	return nil
}

func (s *memShard) add(key string, exp int64) {
	s.lru.Add(key, exp) // never evicts: callers ensure there is room or the key exists
	s.minExpiry = min(s.minExpiry, exp)
}

// reclaim removes expired entries. Entries normally share a TTL, so the oldest
// expire first and are dropped from the oldest end in O(expired). If that frees
// nothing and some entry may have expired (mixed TTLs), it sweeps the shard
// once; the sweep recomputes minExpiry, so at most one sweep happens per
// expiry instant, however many inserts a full store rejects meanwhile.
func (s *memShard) reclaim(now int64) {
	for {
		_, exp, ok := s.lru.GetOldest()
		if !ok || exp > now {
			break
		}
		s.lru.RemoveOldest()
	}
	if s.lru.Len() < s.capacity || now < s.minExpiry {
		return
	}
	s.minExpiry = math.MaxInt64
	for _, k := range s.lru.Keys() {
		exp, _ := s.lru.Peek(k)
		if exp <= now {
			s.lru.Remove(k)
		} else {
			s.minExpiry = min(s.minExpiry, exp)
		}
	}
}

// InsertOwned implements [OwnedStore]. Without [OwnerQuota] it is
// InsertIfAbsent and ignores owner. With it, a key that is recorded and not
// expired still returns [ErrReplayed] first; then, if owner already holds the
// quota of live entries, it returns an error wrapping [ErrQuota] without
// recording key; otherwise it behaves like InsertIfAbsent and, on success,
// counts the entry against owner until the entry expires. The whole check is
// atomic per owner: concurrent calls for one owner never accept more than the
// quota. Any string, including "", is an owner; pass the proof key's thumbprint.
func (m *Memory) InsertOwned(ctx context.Context, owner, key string, ttl time.Duration) error {
	if m.owners == nil {
		return m.InsertIfAbsent(ctx, key, ttl)
	}
	ttl = max(ttl, minTTL)
	now := int64(m.now().Sub(m.base))
	exp := now + int64(ttl)
	if exp < now { // overflow
		exp = math.MaxInt64
	}
	o := &m.owners[maphash.String(m.seed, owner)&m.mask]
	s := &m.shards[maphash.String(m.seed, key)&m.mask]
	// Lock order: owner shard, then entry shard. InsertIfAbsent takes only the
	// entry shard, so no caller ever waits for an owner shard while holding
	// an entry shard.
	o.mu.Lock()
	s.mu.Lock()
	err := m.insertOwned(o, s, owner, key, now, exp)
	s.mu.Unlock()
	o.mu.Unlock()
	return err
}

// insertOwned runs with o and s locked.
func (m *Memory) insertOwned(o *ownerShard, s *memShard, owner, key string, now, exp int64) error {
	if old, ok := s.lru.Peek(key); ok && old > now {
		return ErrReplayed // before the quota: a replay is a replay, whoever sends it
	}
	q, known := o.lru.Peek(owner)
	if known {
		q.expire(now)
		if q.n() >= m.quota {
			return m.errQuota
		}
	}
	if err := s.insert(key, now, exp, m.errFull); err != nil {
		if known && q.n() == 0 {
			o.lru.Remove(owner)
		}
		return err
	}
	if known {
		q.push(exp)
		o.lru.Get(owner) // move to the newest end
	} else {
		if o.lru.Len() >= o.capacity {
			o.reclaim(now)
		}
		q = &ownerQueue{}
		q.push(exp)
		o.lru.Add(owner, q) // evicts the least recent owner only if the shard is full of live owners
	}
	o.minLast = min(o.minLast, exp)
	o.dropStale(now) // owner is now the newest and live, so it stays
	return nil
}

// n returns the number of expiries held.
func (q *ownerQueue) n() int { return len(q.exp) - q.head }

// last returns the latest expiry of q, or math.MinInt64 if q is empty.
func (q *ownerQueue) last() int64 {
	if q.n() == 0 {
		return math.MinInt64
	}
	return q.exp[len(q.exp)-1]
}

// expire drops the expiries that are not after now, and shrinks the array
// when it is less than a quarter full.
func (q *ownerQueue) expire(now int64) {
	for q.head < len(q.exp) && q.exp[q.head] <= now {
		q.head++
	}
	switch n := q.n(); {
	case cap(q.exp) > minQueueCap && n < cap(q.exp)/4:
		var exp []int64
		if n > 0 {
			exp = append(make([]int64, 0, 2*n), q.exp[q.head:]...)
		}
		q.exp, q.head = exp, 0
	case n == 0:
		q.exp, q.head = q.exp[:0], 0
	}
}

// push records exp, keeping the expiries sorted. When the array is full and
// starts with dropped expiries, they are discarded first: in place if they are
// at least half of it, else by moving the rest to an array twice as large.
// Each copy is paid for by as many earlier pushes, so push is amortized O(1)
// for in-order expiries, and the array never exceeds about four times the
// expiries it holds.
func (q *ownerQueue) push(exp int64) {
	if len(q.exp) == cap(q.exp) && q.head > 0 {
		live := q.exp[q.head:]
		if q.head >= len(q.exp)/2 {
			q.exp = q.exp[:len(live)]
		} else {
			q.exp = make([]int64, len(live), 2*len(q.exp))
		}
		copy(q.exp, live) // overlapping copies are fine
		q.head = 0
	}
	if q.n() == 0 || q.last() <= exp {
		q.exp = append(q.exp, exp)
		return
	}
	i, _ := slices.BinarySearch(q.exp[q.head:], exp)
	q.exp = slices.Insert(q.exp, q.head+i, exp)
}

// dropStale removes owners whose entries have all expired from the oldest
// end. The list is ordered by last accepted insert, so with a common TTL the
// stale owners are exactly a prefix of it and this reclaims all of them, at
// an amortized O(1) per insert.
func (o *ownerShard) dropStale(now int64) {
	for {
		_, q, ok := o.lru.GetOldest()
		if !ok || q.last() > now {
			return
		}
		o.lru.RemoveOldest()
	}
}

// reclaim makes room for a new owner in a full shard. After dropStale, if the
// shard is still full and some owner may be stale (mixed TTLs can leave stale
// owners behind a live one), it sweeps the shard once and recomputes minLast,
// as memShard.reclaim does.
func (o *ownerShard) reclaim(now int64) {
	o.dropStale(now)
	if o.lru.Len() < o.capacity || now < o.minLast {
		return
	}
	o.minLast = math.MaxInt64
	for _, owner := range o.lru.Keys() {
		q, _ := o.lru.Peek(owner)
		if last := q.last(); last <= now {
			o.lru.Remove(owner)
		} else {
			o.minLast = min(o.minLast, last)
		}
	}
}

// Len returns the number of entries held, including expired entries that
// have not been reclaimed yet.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}

// Capacity returns the total number of entries the store can hold.
func (m *Memory) Capacity() int { return m.capacity }

// Close releases the store. Memory runs no background goroutine, so Close
// does nothing and always returns nil; it is safe to call more than once.
// The store remains usable after Close.
func (m *Memory) Close() error { return nil }
