// Command load measures examples/server on loopback: requests per second and
// latency percentiles for Bearer and DPoP requests, with the in-memory and
// the Redis replay store.
//
//	cd bench && go run ./cmd/load -scenario all
//
// For each scenario it
//
//  1. generates an ES256 issuer key and writes its JWKS to a temporary
//     directory, mints an access token (DPoP-bound for dpop scenarios);
//  2. builds examples/server (go build in the popguard module, GOWORK=off)
//     and starts it on a free 127.0.0.1 port with -jwks FILE -issuer
//     -audience and -replay memory, $POPGUARD_TEST_REDIS or
//     $POPGUARD_TEST_REDIS_CLUSTER;
//  3. checks that the first request is accepted (200 with the expected
//     scheme) and warms up with -warmup requests;
//  4. for dpop scenarios, signs unique proofs (htu
//     http://127.0.0.1:PORT/dpop/x, random jti, iat now) before the timed
//     window: twice what the warm-up rate says the window can use, at most
//     -max-requests. Pre-signing keeps the load generator's ECDSA signing off
//     the CPUs the server needs during the window; -duration must stay well
//     inside the server's 60 s proof max age (checked);
//  5. runs -concurrency closed-loop workers for -duration or until the
//     request bound, records every latency, and prints requests/s, p50, p90,
//     p99, max, errors (by status and challenge) and the CPU each side used;
//  6. stops the server (SIGTERM, then SIGKILL; the kernel kills it too if
//     the generator dies).
//
// Redis scenarios run only when POPGUARD_TEST_REDIS is set (for example
// redis://127.0.0.1:6379/0), and cluster scenarios only when
// POPGUARD_TEST_REDIS_CLUSTER is (the cluster URL form, for example
// redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003, the
// cluster .ci/run starts); the URLs must point at loopback addresses. The
// generator talks to nothing but 127.0.0.1.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/popguard/popguard/bench/internal/client"
)

const (
	issuerURL = "https://issuer.load.test/"
	audience  = "https://api.load.test"
	// proofMaxAge is examples/server's proof acceptance window (popguard's
	// default ProofMaxAge); proofs are pre-signed, so the timed window plus
	// signing must stay inside it.
	proofMaxAge = 60 * time.Second
)

type config struct {
	scenarios   []string
	duration    time.Duration
	concurrency int
	maxRequests int
	warmup      int
	coreDir     string
	serverBin   string
	redisURL    string
	clusterURL  string // POPGUARD_TEST_REDIS_CLUSTER: the cluster form of -replay
	keepLogs    bool
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg config
	scenario := flag.String("scenario", "all", "comma-separated: bearer-memory, dpop-memory, bearer-redis, dpop-redis, bearer-cluster, dpop-cluster, or all")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "timed window per scenario")
	flag.IntVar(&cfg.concurrency, "concurrency", 8, "closed-loop workers (each one keep-alive connection)")
	flag.IntVar(&cfg.maxRequests, "max-requests", 1_000_000, "upper bound of timed requests per scenario (and of pre-signed DPoP proofs)")
	flag.IntVar(&cfg.warmup, "warmup", 2000, "untimed requests before each timed window")
	flag.StringVar(&cfg.coreDir, "core", "", "popguard module directory holding examples/server (default: found from the working directory)")
	flag.StringVar(&cfg.serverBin, "server-bin", "", "use this examples/server binary instead of building one")
	flag.BoolVar(&cfg.keepLogs, "keep-logs", false, "keep the temporary directory with the server logs")
	flag.Parse()
	if cfg.concurrency < 1 || cfg.maxRequests < cfg.concurrency || cfg.duration <= 0 {
		return errors.New("need -concurrency >= 1, -max-requests >= -concurrency and a positive -duration")
	}
	all := []string{"bearer-memory", "dpop-memory", "bearer-redis", "dpop-redis", "bearer-cluster", "dpop-cluster"}
	if *scenario == "all" {
		cfg.scenarios = all
	} else {
		for _, s := range strings.Split(*scenario, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(all, s) {
				return fmt.Errorf("unknown scenario %q (want one of %s or all)", s, strings.Join(all, ", "))
			}
			cfg.scenarios = append(cfg.scenarios, s)
		}
	}
	cfg.redisURL = os.Getenv("POPGUARD_TEST_REDIS")
	if cfg.redisURL != "" {
		if err := loopbackURL(cfg.redisURL); err != nil {
			return fmt.Errorf("POPGUARD_TEST_REDIS: %w", err)
		}
	}
	cfg.clusterURL = os.Getenv("POPGUARD_TEST_REDIS_CLUSTER")
	if cfg.clusterURL != "" {
		if err := loopbackURL(cfg.clusterURL); err != nil {
			return fmt.Errorf("POPGUARD_TEST_REDIS_CLUSTER: %w", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tmp, err := os.MkdirTemp("", "popguard-load-")
	if err != nil {
		return err
	}
	if cfg.keepLogs {
		fmt.Println("temporary directory (kept):", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	if cfg.serverBin == "" {
		core, err := findCore(cfg.coreDir)
		if err != nil {
			return err
		}
		cfg.serverBin = filepath.Join(tmp, "server")
		fmt.Printf("building: (cd %s && GOWORK=off go build -o %s ./examples/server)\n", core, cfg.serverBin)
		build := exec.CommandContext(ctx, "go", "build", "-o", cfg.serverBin, "./examples/server")
		build.Dir = core
		build.Env = append(os.Environ(), "GOWORK=off")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build examples/server: %w", err)
		}
	}

	iss, err := client.NewIssuer(issuerURL)
	if err != nil {
		return err
	}
	jwksFile := filepath.Join(tmp, "jwks.json")
	if err := os.WriteFile(jwksFile, iss.JWKS(), 0o600); err != nil {
		return err
	}

	fmt.Printf("load generator: GOMAXPROCS=%d, NumCPU=%d, concurrency=%d, duration=%s, max-requests=%d (server and generator share the CPUs)\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), cfg.concurrency, cfg.duration, cfg.maxRequests)
	var results []*result
	for _, sc := range cfg.scenarios {
		if ctx.Err() != nil {
			break
		}
		kind, store, _ := strings.Cut(sc, "-")
		replayArg := "memory"
		switch store {
		case "redis":
			if cfg.redisURL == "" {
				fmt.Printf("\n== %s: SKIPPED: POPGUARD_TEST_REDIS is not set (e.g. POPGUARD_TEST_REDIS=redis://127.0.0.1:6379/0)\n", sc)
				results = append(results, &result{name: sc, skipped: "POPGUARD_TEST_REDIS unset"})
				continue
			}
			replayArg = cfg.redisURL
		case "cluster":
			if cfg.clusterURL == "" {
				fmt.Printf("\n== %s: SKIPPED: POPGUARD_TEST_REDIS_CLUSTER is not set (e.g. redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003)\n", sc)
				results = append(results, &result{name: sc, skipped: "POPGUARD_TEST_REDIS_CLUSTER unset"})
				continue
			}
			replayArg = cfg.clusterURL
		}
		res, err := runScenario(ctx, &cfg, tmp, jwksFile, iss, sc, kind, replayArg)
		if err != nil {
			return fmt.Errorf("%s: %w", sc, err)
		}
		results = append(results, res)
	}
	printTable(results)
	return nil
}

// findCore returns the popguard module directory: dir if given, else the
// working directory or its parent, whichever holds examples/server.
func findCore(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for _, d := range []string{wd, filepath.Dir(wd), filepath.Dir(filepath.Dir(wd)), filepath.Dir(filepath.Dir(filepath.Dir(wd)))} {
		if st, err := os.Stat(filepath.Join(d, "examples", "server", "main.go")); err == nil && !st.IsDir() {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return d, nil
			}
		}
	}
	return "", errors.New("cannot find the popguard module (examples/server); pass -core DIR or -server-bin FILE")
}

// loopbackURL accepts only URLs whose host is a loopback address.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("host %q is not a loopback address; the load generator only talks to 127.0.0.1", host)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// server is a running examples/server.
type server struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	done    chan struct{}
	err     error
}

func startServer(ctx context.Context, bin, tmp, name, jwksFile, replayArg string) (*server, []string, error) {
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"-listen", addr, "-issuer", issuerURL, "-audience", audience, "-jwks", jwksFile, "-replay", replayArg}
	logPath := filepath.Join(tmp, name+".server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr, logPath: logPath, done: make(chan struct{})}
	go func() { s.err = cmd.Wait(); logf.Close(); close(s.done) }()
	// Wait for /healthz.
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-s.done:
			return nil, nil, fmt.Errorf("server exited at startup: %v\n%s", s.err, tail(logPath))
		case <-ctx.Done():
			s.stop()
			return nil, nil, ctx.Err()
		default:
		}
		resp, err := hc.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, nil, fmt.Errorf("server not healthy after 15s\n%s", tail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s, append([]string{bin}, args...), nil
}

func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// cpuTime returns the user+system CPU time of pid from /proc (Linux), or -1.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// probeCPU spins one goroutine per CPU for d and returns how many cores the
// process actually got: a measure of how busy the shared machine is.
func probeCPU(d time.Duration) float64 {
	c0, t0 := selfCPU(), time.Now()
	var wg sync.WaitGroup
	for i := 0; i < runtime.NumCPU(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := 0
			for time.Since(t0) < d {
				for j := 0; j < 10000; j++ {
					x += j
				}
			}
			_ = x
		}()
	}
	wg.Wait()
	return (selfCPU() - c0).Seconds() / time.Since(t0).Seconds()
}

type result struct {
	name       string
	skipped    string
	avail      float64
	command    []string
	requests   int
	elapsed    time.Duration
	lat        []time.Duration
	errors     int
	byStatus   map[string]int
	serverCPU  time.Duration
	clientCPU  time.Duration
	exhausted  bool
	signedIn   time.Duration
	firstReply string
}

func runScenario(ctx context.Context, cfg *config, tmp, jwksFile string, iss *client.Issuer, name, kind, replayArg string) (*result, error) {
	srv, command, err := startServer(ctx, cfg.serverBin, tmp, name, jwksFile, replayArg)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	res := &result{name: name, command: command, byStatus: map[string]int{}}
	fmt.Printf("\n== %s\nserver: %s\n", name, strings.Join(command, " "))
	res.avail = probeCPU(time.Second)
	fmt.Printf("CPU available before the run: %.2f of %d cores (one spinning goroutine per CPU for 1 s; less means other jobs share the machine)\n",
		res.avail, runtime.NumCPU())

	// Credentials.
	topts := client.TokenOptions{Subject: "load-user", ClientID: "load-client", Audience: audience, Scope: "read"}
	var key *client.Key
	path := "/bearer/x"
	if kind == "dpop" {
		if key, err = client.NewKey(); err != nil {
			return nil, err
		}
		topts.JKT = key.Thumbprint
		path = "/dpop/x"
	}
	token, err := iss.Token(topts)
	if err != nil {
		return nil, err
	}
	target := srv.base + path
	scheme := "Bearer "
	var warmProofs, proofs []string
	var prover *client.Prover
	if kind == "dpop" {
		scheme = "DPoP "
		prover = client.NewProver(key, http.MethodGet, target, token)
		warmProofs = make([]string, cfg.warmup+1)
		if err := prover.Fill(warmProofs); err != nil {
			return nil, err
		}
	}

	tr := &http.Transport{
		Proxy:               nil, // never a proxy: loopback only
		MaxIdleConns:        cfg.concurrency,
		MaxIdleConnsPerHost: cfg.concurrency,
		MaxConnsPerHost:     cfg.concurrency,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	newReq := func(proof string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", scheme+token)
		if proof != "" {
			req.Header["DPoP"] = []string{proof}
		}
		return req
	}
	do := func(req *http.Request) (int, string, error) {
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		var body []byte
		if resp.StatusCode != http.StatusOK {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 512))
			body = append(body, []byte(" "+resp.Header.Get("WWW-Authenticate"))...)
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		resp.Body.Close()
		return resp.StatusCode, string(body), nil
	}

	// First request must be accepted, with the expected scheme.
	{
		var p string
		if kind == "dpop" {
			p = warmProofs[0]
		}
		req := newReq(p)
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("first request rejected: %d %s %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b)
		}
		var ans struct{ Scheme string }
		if err := json.Unmarshal(b, &ans); err != nil || !strings.EqualFold(ans.Scheme, strings.TrimSpace(scheme)) {
			return nil, fmt.Errorf("unexpected answer %s", b)
		}
		res.firstReply = strings.TrimSpace(string(b))
	}
	// Warm-up: every connection, untimed; its rate sizes the proof pool.
	warmStart := time.Now()
	{
		var wg sync.WaitGroup
		var next atomic.Int64
		next.Store(1)
		var bad atomic.Int64
		for w := 0; w < cfg.concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i > cfg.warmup {
						return
					}
					var p string
					if kind == "dpop" {
						p = warmProofs[i]
					}
					if code, _, err := do(newReq(p)); err != nil || code != http.StatusOK {
						bad.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if n := bad.Load(); n > 0 {
			return nil, fmt.Errorf("%d warm-up requests failed\n%s", n, tail(srv.logPath))
		}
	}
	warmRate := float64(cfg.warmup) / time.Since(warmStart).Seconds()
	limit := cfg.maxRequests
	if kind == "dpop" {
		// Sign only what the window can use (twice the warm-up rate), so
		// pre-signing stays short and every proof is fresh when sent.
		need := int(2*warmRate*cfg.duration.Seconds()) + cfg.concurrency
		limit = min(cfg.maxRequests, max(need, 1000))
		proofs = make([]string, limit)
		start := time.Now()
		if err := prover.Fill(proofs); err != nil {
			return nil, err
		}
		res.signedIn = time.Since(start)
		if budget := proofMaxAge - 10*time.Second; res.signedIn+cfg.duration > budget {
			return nil, fmt.Errorf("pre-signing took %s; with -duration %s the last proofs would be older than the server's %s max age: lower -duration or -max-requests",
				res.signedIn.Round(time.Millisecond), cfg.duration, proofMaxAge)
		}
		fmt.Printf("warm-up %.0f req/s; pre-signed %d proofs in %s\n", warmRate, len(proofs), res.signedIn.Round(time.Millisecond))
	}

	// Timed window: closed loop, bounded by duration and maxRequests.
	var (
		next     atomic.Int64
		stopFlag atomic.Bool
		mu       sync.Mutex
		wg       sync.WaitGroup
	)
	perWorker := make([][]time.Duration, cfg.concurrency)
	srvCPU0, cliCPU0 := cpuTime(srv.cmd.Process.Pid), selfCPU()
	start := time.Now()
	timer := time.AfterFunc(cfg.duration, func() { stopFlag.Store(true) })
	for w := 0; w < cfg.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			lat := make([]time.Duration, 0, limit/cfg.concurrency+16)
			errs := 0
			statuses := map[string]int{}
			for !stopFlag.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= limit {
					stopFlag.Store(true)
					mu.Lock()
					res.exhausted = true
					mu.Unlock()
					break
				}
				var p string
				if kind == "dpop" {
					p = proofs[i]
				}
				req := newReq(p)
				t0 := time.Now()
				code, body, err := do(req)
				d := time.Since(t0)
				lat = append(lat, d)
				switch {
				case err != nil:
					errs++
					statuses["transport: "+err.Error()]++
				case code != http.StatusOK:
					errs++
					statuses[fmt.Sprintf("%d %s", code, strings.TrimSpace(body))]++
				}
			}
			mu.Lock()
			perWorker[w] = lat
			res.errors += errs
			for k, v := range statuses {
				res.byStatus[k] += v
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	timer.Stop()
	srvCPU1, cliCPU1 := cpuTime(srv.cmd.Process.Pid), selfCPU()
	if srvCPU0 >= 0 && srvCPU1 >= 0 {
		res.serverCPU = srvCPU1 - srvCPU0
	}
	res.clientCPU = cliCPU1 - cliCPU0
	for _, l := range perWorker {
		res.lat = append(res.lat, l...)
	}
	res.requests = len(res.lat)
	slices.Sort(res.lat)
	printResult(res)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	i := int(float64(len(lat))*p/100+0.5) - 1
	i = max(0, min(i, len(lat)-1))
	return lat[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func printResult(r *result) {
	rps := float64(r.requests) / r.elapsed.Seconds()
	fmt.Printf("requests %d in %s: %.0f req/s; latency p50 %s, p90 %s, p99 %s, max %s; errors %d\n",
		r.requests, r.elapsed.Round(time.Millisecond), rps, ms(pct(r.lat, 50)), ms(pct(r.lat, 90)), ms(pct(r.lat, 99)), ms(pct(r.lat, 100)), r.errors)
	if r.exhausted {
		fmt.Printf("note: stopped at the request bound (-max-requests, or the pre-signed proof pool) before -duration elapsed\n")
	}
	fmt.Printf("CPU during the window: server %.2f cores, load generator %.2f cores\n",
		r.serverCPU.Seconds()/r.elapsed.Seconds(), r.clientCPU.Seconds()/r.elapsed.Seconds())
	if len(r.byStatus) > 0 {
		keys := make([]string, 0, len(r.byStatus))
		for k := range r.byStatus {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		full := false
		for _, k := range keys {
			fmt.Printf("  %6d x %s\n", r.byStatus[k], k)
			full = full || (strings.HasPrefix(k, "503 ") && strings.Contains(k, "busy"))
		}
		if full && strings.HasSuffix(r.name, "-memory") {
			fmt.Println("note: 503 \"server is busy\" = the in-memory replay store is full and fails closed. examples/server uses the")
			fmt.Println("      default capacity (100 000 proofs), enough for about 1 400 DPoP req/s sustained over the 70 s window;")
			fmt.Println("      keep -duration x req/s under it, or use -replay redis://...")
		}
	}
}

func printTable(rs []*result) {
	fmt.Printf("\n| scenario | requests | req/s | p50 | p90 | p99 | max | errors | server CPU | loadgen CPU | CPU free before |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		if r.skipped != "" {
			fmt.Printf("| %s | skipped: %s | | | | | | | | | |\n", r.name, r.skipped)
			continue
		}
		fmt.Printf("| %s | %d | %.0f | %s | %s | %s | %s | %d | %.2f | %.2f | %.2f |\n", r.name, r.requests,
			float64(r.requests)/r.elapsed.Seconds(), ms(pct(r.lat, 50)), ms(pct(r.lat, 90)), ms(pct(r.lat, 99)), ms(pct(r.lat, 100)),
			r.errors, r.serverCPU.Seconds()/r.elapsed.Seconds(), r.clientCPU.Seconds()/r.elapsed.Seconds(), r.avail)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "\nCPU columns: cores busy during the timed window (server and load generator share %d cores); CPU free before: cores a spinning probe got just before the scenario.\n", runtime.NumCPU())
}
