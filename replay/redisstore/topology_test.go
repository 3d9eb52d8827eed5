package redisstore

// The store on a Redis Cluster (POPGUARD_TEST_REDIS_CLUSTER, started by
// .ci/run) and behind a Sentinel this test starts, plus the URL forms.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/popguard/popguard/internal/testenv"
	"github.com/popguard/popguard/replay"
)

const clusterEnv = "POPGUARD_TEST_REDIS_CLUSTER"

func TestParseUniversalURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // "single", "cluster", "failover"
	}{
		{"redis://127.0.0.1:6379/2", "single"},
		{"rediss://user:pw@redis.example.com:6380/0", "single"},
		{"unix:///run/redis.sock?db=1", "single"},
		{"redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003", "cluster"},
		{"rediss://user:pw@10.0.0.1:7000?addr=10.0.0.2:7000&read_timeout=1s", "cluster"},
		{"redis://127.0.0.1:26379/0?master_name=mymaster", "failover"},
		{"redis://127.0.0.1:26379?master_name=mymaster&addr=127.0.0.1:26380", "failover"},
	} {
		c, err := ParseUniversalURL(tc.url)
		if err != nil {
			t.Errorf("ParseUniversalURL(%q): %v", tc.url, err)
			continue
		}
		_ = c.Close()
		got := "?"
		switch c := c.(type) {
		case *redis.ClusterClient:
			got = "cluster"
			if o := c.Options(); !o.ContextTimeoutEnabled || len(o.Addrs) < 2 {
				t.Errorf("%q: cluster options %+v", tc.url, o)
			}
		case *redis.Client:
			got = "single"
			if c.Options().Addr == "FailoverClient" { // how go-redis names a Sentinel-backed client
				got = "failover"
			}
			if !c.Options().ContextTimeoutEnabled {
				t.Errorf("%q: ContextTimeoutEnabled not set", tc.url)
			}
		}
		if got != tc.want {
			t.Errorf("ParseUniversalURL(%q) is a %s client (%T), want %s", tc.url, got, c, tc.want)
		}
	}

	bad := []struct {
		name  string
		parse func(string) (redis.UniversalClient, error)
		url   string
	}{
		{"universal", ParseUniversalURL, "redis://user:s3cret-pw@[::1/0"},
		{"universal", ParseUniversalURL, "redis://user:s3cret-pw@127.0.0.1:7001?addr=nohostport"},
		{"universal", ParseUniversalURL, "redis://user:s3cret-pw@127.0.0.1:7001?addr=127.0.0.1:7002&bogus=1"},
		{"universal", ParseUniversalURL, "http://127.0.0.1:6379?addr=127.0.0.1:6380"},
		{"failover", func(u string) (redis.UniversalClient, error) { return ParseFailoverURL(u) }, "redis://user:s3cret-pw@127.0.0.1:26379"},
		{"failover", func(u string) (redis.UniversalClient, error) { return ParseFailoverURL(u) }, "redis://127.0.0.1:26379?master_name=m&replica_only=true"},
		{"failover", func(u string) (redis.UniversalClient, error) { return ParseFailoverURL(u) }, "redis://127.0.0.1:26379?master_name=m&route_by_latency=true"},
		{"universal", ParseUniversalURL, "redis://127.0.0.1:26379?master_name=m&route_randomly=true"},
		{"cluster", func(u string) (redis.UniversalClient, error) { return ParseClusterURL(u) }, "redis://user:s3cret-pw@127.0.0.1:port"},
		{"cluster", func(u string) (redis.UniversalClient, error) { return ParseClusterURL(u) }, "redis://user:s3cret-pw@[::1/0"},
	}
	for _, tc := range bad {
		c, err := tc.parse(tc.url)
		if !errors.Is(err, replay.ErrInvalidConfig) || (c != nil && !isNilClient(c)) {
			t.Errorf("%s(%q) = %v, %v; want no client and replay.ErrInvalidConfig", tc.name, tc.url, c, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%s(%q) error leaks the password: %v", tc.name, tc.url, err)
		}
	}
}

// isNilClient reports a typed nil behind the interface (the typed helpers
// return a nil *redis.Client or *redis.ClusterClient with their error).
func isNilClient(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	}
	return false
}

// testCluster returns a cluster client for POPGUARD_TEST_REDIS_CLUSTER, or
// skips (fails under POPGUARD_TEST_STRICT=1) without it.
func testCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	u := os.Getenv(clusterEnv)
	if u == "" {
		testenv.Missing(t, "a Redis Cluster ("+clusterEnv+")",
			"start one as .ci/run does and set "+clusterEnv+"=redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003")
	}
	c, err := ParseClusterURL(u)
	if err != nil {
		t.Fatalf("%s: %v", clusterEnv, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.Ping(ctx).Err() }); err != nil {
		t.Fatalf("%s is set but the cluster does not answer: %v", clusterEnv, err)
	}
	return c
}

func clusterPrefix(t testing.TB, c *redis.ClusterClient) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "popguard-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			iter := m.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				m.Del(ctx, iter.Val())
			}
			return iter.Err()
		})
	})
	return prefix
}

// TestClusterStore: on a three-master cluster, keys spread over every
// master, replays are caught across instances (each its own client), and of
// 50 concurrent inserts of one key exactly one wins.
func TestClusterStore(t *testing.T) {
	c := testCluster(t)
	prefix := clusterPrefix(t, c)
	ctx := context.Background()
	a := New(c, Prefix(prefix))
	other, err := ParseUniversalURL(os.Getenv(clusterEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	b := New(other, Prefix(prefix))

	const n = 60
	for i := range uint64(n) {
		mustInsert(t, a, testKey(i), time.Minute)
		mustReplay(t, b, testKey(i), time.Minute)
	}
	var mu sync.Mutex
	perMaster := map[string]int64{}
	err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		keys, err := m.Keys(ctx, prefix+"*").Result()
		mu.Lock()
		perMaster[m.Options().Addr] = int64(len(keys))
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for addr, k := range perMaster {
		if k == 0 {
			t.Errorf("master %s holds none of the %d keys: %v", addr, n, perMaster)
		}
		total += k
	}
	if len(perMaster) < 3 || total != n {
		t.Errorf("keys per master %v, want %d keys over at least 3 masters", perMaster, n)
	}

	var ok, dup atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := a
			if i%2 == 1 {
				s = b
			}
			switch err := s.InsertIfAbsent(ctx, "concurrent", time.Minute); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, replay.ErrReplayed):
				dup.Add(1)
			default:
				t.Errorf("InsertIfAbsent: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || dup.Load() != 49 {
		t.Fatalf("50 concurrent inserts of one key: %d accepted, %d replays; want 1 and 49", ok.Load(), dup.Load())
	}
}

// TestClusterNotClusterAware: a single-node client pointed at one cluster
// node gets MOVED for keys of other shards, and fails closed.
func TestClusterNotClusterAware(t *testing.T) {
	c := testCluster(t)
	prefix := clusterPrefix(t, c)
	seed := strings.Split(c.Options().Addrs[0], ",")[0]
	single, err := ParseURL("redis://" + seed)
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	s := New(single, Prefix(prefix))
	var moved int
	for i := range uint64(20) {
		err := s.InsertIfAbsent(context.Background(), testKey(i), time.Minute)
		switch {
		case err == nil:
		case errors.Is(err, replay.ErrUnavailable) && strings.Contains(err.Error(), "MOVED"):
			moved++
		default:
			t.Fatalf("InsertIfAbsent through a single-node client: %v, want nil or ErrUnavailable (MOVED)", err)
		}
	}
	if moved == 0 {
		t.Fatal("no key of 20 hashed to another shard: the test cluster has one master?")
	}
}

// TestClusterRedirects moves an empty slot between two masters under a
// client whose slot map is stale: during the migration the store follows
// ASK to the importing node, after it MOVED, and a key recorded on one side
// is a replay on the other.
func TestClusterRedirects(t *testing.T) {
	c := testCluster(t)
	prefix := clusterPrefix(t, c)
	ctx := context.Background()
	s := New(c, Prefix(prefix), Timeout(2*time.Second))

	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) < 2 {
		t.Fatalf("the cluster has %d slot ranges, want at least 2 masters", len(slots))
	}
	owner := func(slot int) string {
		for _, r := range slots {
			if slot >= r.Start && slot <= r.End {
				return r.Nodes[0].Addr
			}
		}
		return ""
	}
	// A key whose slot is empty, so that moving it strands nothing.
	nodes := map[string]*redis.Client{}
	node := func(addr string) *redis.Client {
		if nodes[addr] == nil {
			nodes[addr] = redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { _ = nodes[addr].Close() })
		}
		return nodes[addr]
	}
	var key, full string
	var slot int
	for i := 0; ; i++ {
		key = "redirect-" + strconv.Itoa(i)
		full = prefix + key
		slot = keySlot(full)
		n, err := node(owner(slot)).ClusterCountKeysInSlot(ctx, slot).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	srcAddr := owner(slot)
	var dstAddr string
	for _, r := range slots {
		if a := r.Nodes[0].Addr; a != srcAddr {
			dstAddr = a
			break
		}
	}
	src, dst := node(srcAddr), node(dstAddr)
	srcID, err := src.Do(ctx, "cluster", "myid").Text()
	if err != nil {
		t.Fatal(err)
	}
	dstID, err := dst.Do(ctx, "cluster", "myid").Text()
	if err != nil {
		t.Fatal(err)
	}
	masters := []*redis.Client{}
	for _, r := range slots {
		masters = append(masters, node(r.Nodes[0].Addr))
	}
	setslot := func(cl *redis.Client, args ...any) {
		t.Helper()
		if err := cl.Do(ctx, append([]any{"cluster", "setslot", slot}, args...)...).Err(); err != nil {
			t.Fatalf("CLUSTER SETSLOT %d %v on %s: %v", slot, args, cl.Options().Addr, err)
		}
	}
	// However the test ends, the slot goes back to its owner, empty.
	t.Cleanup(func() {
		conn := dst.Conn()
		defer conn.Close()
		_, _ = conn.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "asking")
			p.Del(ctx, full)
			return nil
		})
		_ = src.Del(ctx, full).Err()
		for _, m := range masters {
			_ = m.Do(ctx, "cluster", "setslot", slot, "node", srcID).Err()
		}
	})

	// Warm the client's slot map, then start migrating the slot.
	mustInsert(t, s, "warm-"+key, time.Minute)
	_ = c.Del(ctx, prefix+"warm-"+key)
	setslot(dst, "importing", srcID)
	setslot(src, "migrating", dstID)

	mustInsert(t, s, key, time.Minute) // ASK: recorded on the importing node
	if n, _ := src.Exists(ctx, full).Result(); n != 0 {
		t.Fatalf("the key landed on the migrating node %s, want the importing one (ASK not followed)", srcAddr)
	}
	mustReplay(t, s, key, time.Minute) // ASK again: the importing node has it

	// Finish the migration: the slot is now the destination's, and the
	// client's map still names the source, which answers MOVED.
	setslot(dst, "node", dstID)
	setslot(src, "node", dstID)
	for _, m := range masters {
		if m != src && m != dst {
			setslot(m, "node", dstID)
		}
	}
	mustReplay(t, s, key, time.Minute)
	if n, _ := dst.Exists(ctx, full).Result(); n != 1 {
		t.Fatalf("the key is not on the node that owns its slot now (%s)", dstAddr)
	}
	fresh := New(c, Prefix(prefix+"fresh:"))
	for i := range uint64(5) {
		mustInsert(t, fresh, testKey(i), time.Minute)
		mustReplay(t, s, "fresh:"+testKey(i), time.Minute)
	}
}

// keySlot is the Redis Cluster hash slot of key (CRC16/XMODEM mod 16384,
// hash tags honoured).
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// TestClusterUnreachable: a cluster client with no reachable seed fails
// closed within the timeout.
func TestClusterUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c, err := ParseClusterURL("redis://" + addr + "?addr=" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := New(c, Timeout(300*time.Millisecond))
	if err := s.InsertIfAbsent(context.Background(), "k", time.Minute); !errors.Is(err, replay.ErrUnavailable) {
		t.Fatalf("InsertIfAbsent = %v, want ErrUnavailable", err)
	}
}

// TestSentinel starts a Sentinel (redis-server --sentinel) that monitors the
// server of POPGUARD_TEST_REDIS, and checks the store through a client that
// finds the master by asking it.
func TestSentinel(t *testing.T) {
	direct := testRedisClient(t)
	bin := testenv.LookPath(t, "redis-server", "install Redis (apt-get install redis-server)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	host, mport, err := net.SplitHostPort(direct.Options().Addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	cfg := fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nsentinel monitor popguard-test %s %s 1\n", port, dir, host, mport)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	url := fmt.Sprintf("redis://127.0.0.1:%d/%d?master_name=popguard-test", port, direct.Options().DB)
	c, err := ParseUniversalURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := New(c, Prefix(testPrefix(t, direct)), Timeout(time.Second))
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the Sentinel on port %d did not hand out the master: %v", port, s.Ping(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
	mustInsert(t, s, testKey(1), time.Minute)
	mustReplay(t, s, testKey(1), time.Minute)
	// The same key through the master directly: one store, two paths.
	mustReplay(t, New(direct, Prefix(s.prefix)), testKey(1), time.Minute)
}
