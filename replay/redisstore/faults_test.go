package redisstore_test

// Faults under the Redis store: Redis down, slow, dropping connections
// mid-command or losing replies (through a TCP proxy of internal/faultkit in
// front of the real server named by POPGUARD_TEST_REDIS).

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popguard/popguard/internal/faultkit"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/replay/redisstore"
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
const fltHangMsg = "BUG: replay/redisstore/redisstore.go (*Store).process, direct path (client.Process with ContextTimeoutEnabled): " +
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
			s := redisstore.New(client, redisstore.Timeout(fltTimeout), redisstore.Prefix(prefix))
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
			fltUnavailable(t, redisstore.New(client, redisstore.Timeout(fltTimeout)))
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
		s := redisstore.New(client, redisstore.Timeout(fltTimeout), redisstore.Prefix(faultkit.Prefix(t, o)))
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
