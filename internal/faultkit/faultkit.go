// Package faultkit is shared test support for fault injection: goroutine
// leak checks, a TCP proxy that can delay, drop or cut connections in front
// of a real server, and Redis clients that reach the test server through it.
// Only tests import it.
package faultkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ---- goroutine accounting ----

// Goroutines returns the goroutine count after a GC.
func Goroutines() int {
	runtime.GC()
	return runtime.NumGoroutine()
}

// NoLeak waits up to 5 s for the goroutine count to fall back to before+slack
// and reports a leak, with every stack, if it does not.
func NoLeak(t testing.TB, before, slack int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	n := Goroutines()
	for n > before+slack && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = Goroutines()
	}
	if n > before+slack {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutine leak: %d goroutines, %d before (slack %d)\n%s", n, before, slack, buf)
	}
}

// ---- a fault-injecting TCP proxy ----

// Proxy behaviours.
const (
	Forward   int32 = iota // pass bytes both ways
	Delay                  // hold every command for delay
	Drop                   // read the command, then close (it never reaches Redis)
	DropReply              // pass the command on, then close before the reply
)

// Proxy is a TCP proxy in front of upstream whose behaviour (Forward, Delay,
// Drop, DropReply) can change while connections are open.
type Proxy struct {
	ln       net.Listener
	upstream string
	mode     atomic.Int32
	delay    atomic.Int64
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// NewProxy starts a proxy to upstream on a loopback port; t.Cleanup closes it.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, upstream: upstream, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set switches the behaviour; delay is used by Delay.
func (p *Proxy) Set(mode int32, delay time.Duration) {
	p.delay.Store(int64(delay))
	p.mode.Store(mode)
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		_ = c.Close()
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	up, err := net.DialTimeout("tcp", p.upstream, time.Second)
	if err != nil {
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer c.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 {
				if p.mode.Load() == DropReply {
					return
				}
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			switch p.mode.Load() {
			case Drop:
				return
			case Delay:
				timer := time.NewTimer(time.Duration(p.delay.Load()))
				select {
				case <-timer.C:
				case <-p.done:
					timer.Stop()
					return
				}
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops the proxy and every connection through it.
func (p *Proxy) Close() {
	p.once.Do(func() {
		close(p.done)
		_ = p.ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// ---- Redis behind the proxy ----

// RedisOptions returns the options of the Redis named by POPGUARD_TEST_REDIS,
// skipping the test when it is unset and failing it when Redis does not answer.
func RedisOptions(t testing.TB) *redis.Options {
	t.Helper()
	u := os.Getenv("POPGUARD_TEST_REDIS")
	if u == "" {
		t.Skip("POPGUARD_TEST_REDIS is not set; skipping Redis fault tests (example: POPGUARD_TEST_REDIS=redis://127.0.0.1:6379/0)")
	}
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("POPGUARD_TEST_REDIS: %v", err)
	}
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("POPGUARD_TEST_REDIS is set but Redis at %s does not answer: %v", o.Addr, err)
	}
	return o
}

// Prefix returns a key prefix unique to the test; its keys are deleted at cleanup.
func Prefix(t testing.TB, o *redis.Options) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "popguard-test:faults:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		c := redis.NewClient(o)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if keys, _ := c.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			_ = c.Del(ctx, keys...).Err()
		}
	})
	return prefix
}

// Client returns a client for o that connects to addr (a Proxy), with or
// without go-redis context timeouts.
func Client(o *redis.Options, addr string, contextTimeouts bool) *redis.Client {
	c := *o
	c.Addr = addr
	c.ContextTimeoutEnabled = contextTimeouts
	c.ReadTimeout, c.WriteTimeout, c.DialTimeout = time.Second, time.Second, time.Second
	return redis.NewClient(&c)
}
