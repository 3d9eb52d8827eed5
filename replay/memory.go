package replay

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Defaults for [NewMemory].
const (
	// DefaultCapacity is the default total number of entries of a [Memory] store.
	DefaultCapacity = 100_000
	// DefaultShards is the default number of shards of a [Memory] store.
	DefaultShards = 16
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
// A Memory needs no background goroutine. It is safe for concurrent use.
type Memory struct {
	shards   []memShard
	mask     uint64
	seed     maphash.Seed
	capacity int
	now      func() time.Time
	base     time.Time // expiries are nanoseconds since base (monotonic when now is time.Now)
	errFull  error
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

type memoryConfig struct {
	capacity int
	shards   int
	now      func() time.Time
}

// MemoryOption configures [NewMemory].
type MemoryOption func(*memoryConfig) error

// Capacity sets the total number of entries the store can hold
// (default [DefaultCapacity]). It must be at least 1.
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
// [DefaultShards]). It must be a power of two. If it exceeds the capacity,
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

// NewMemory returns an empty in-memory store. Errors wrap [ErrInvalidConfig].
func NewMemory(opts ...MemoryOption) (*Memory, error) {
	cfg := memoryConfig{capacity: DefaultCapacity, shards: DefaultShards, now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
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
