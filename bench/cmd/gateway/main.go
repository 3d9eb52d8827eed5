// Command gateway measures cmd/popguard behind nginx on loopback: requests
// per second and latency percentiles through nginx alone, and through nginx
// with the shipped auth_request configuration (examples/gateway/nginx.conf,
// only its ports replaced) asking popguard, for Bearer and DPoP requests;
// and the CPU popguard spends per decision.
//
//	cd bench && go run ./cmd/gateway [-duration 10s] [-concurrency 8]
//
// It builds cmd/popguard (GOWORK=off), writes a JWKS and a popguard config
// (memory replay store sized for the run) to a temporary directory, starts an
// upstream that answers 200 with a short body (in this process), popguard,
// and nginx (unprivileged: -p prefix, daemon off), pre-signs the DPoP proofs,
// then runs closed-loop workers with keep-alive connections to nginx. The
// nginx binary comes from PATH (Debian's package). Everything listens on
// 127.0.0.1.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/popguard/popguard/bench/internal/client"
)

const publicURL = "https://api.load.test"

func main() {
	duration := flag.Duration("duration", 10*time.Second, "timed window per scenario (< 50 s: proofs are pre-signed)")
	concurrency := flag.Int("concurrency", 8, "closed-loop workers, one keep-alive connection each")
	maxReq := flag.Int("max-requests", 400_000, "bound on requests (and pre-signed proofs) per scenario")
	flag.Parse()
	if err := run(*duration, *concurrency, *maxReq); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, concurrency, maxReq int) error {
	if duration > 50*time.Second {
		return fmt.Errorf("-duration %s: proofs are pre-signed and live 60 s", duration)
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/nginx"); e != nil {
			return fmt.Errorf("nginx not found (apt-get install nginx)")
		}
		nginx = "/usr/sbin/nginx"
	}
	dir, err := os.MkdirTemp("", "popguard-gateway-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "popguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/popguard")
	build.Dir, build.Env = root, append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/popguard: %v\n%s", err, out)
	}

	iss, err := client.NewIssuer("https://issuer.load.test/")
	if err != nil {
		return err
	}
	key, err := client.NewKey()
	if err != nil {
		return err
	}
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
		return err
	}
	bearer, err := iss.Token(client.TokenOptions{Subject: "load", ClientID: "load", Audience: "https://api.load.test"})
	if err != nil {
		return err
	}
	bound, err := iss.Token(client.TokenOptions{Subject: "load", ClientID: "load", Audience: "https://api.load.test", JKT: key.Thumbprint})
	if err != nil {
		return err
	}

	// The upstream API.
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	api := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	})}
	go func() { _ = api.Serve(apiLn) }()
	defer api.Close()

	// popguard.
	pgAddr := freePort()
	cfg := map[string]any{
		"listen": pgAddr, "public_url": publicURL,
		"issuers":          []map[string]any{{"issuer": iss.URL, "audience": "https://api.load.test", "jwks": jwks}},
		"routes":           []map[string]any{{"prefix": "/bearer/", "mode": "bearer"}, {"prefix": "/dpop/", "mode": "dpop"}},
		"trusted_gateways": []string{"127.0.0.1"},
		"replay":           map[string]any{"store": "memory", "capacity": 2 * maxReq},
	}
	cfgFile := filepath.Join(dir, "popguard.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		return err
	}
	pg := exec.Command(bin, "serve", "-config", cfgFile, "-log-level", "error")
	pg.Stderr = os.Stderr
	pg.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := pg.Start(); err != nil {
		return err
	}
	defer func() { _ = pg.Process.Signal(syscall.SIGTERM); _ = pg.Wait() }()
	if err := waitReady("http://" + pgAddr + "/readyz"); err != nil {
		return err
	}

	// nginx with the shipped configuration, and nginx alone.
	shipped, err := os.ReadFile(filepath.Join(root, "examples", "gateway", "nginx.conf"))
	if err != nil {
		return err
	}
	withPG := freePort()
	conf := strings.Replace(string(shipped), "server 127.0.0.1:9180;", "server "+pgAddr+";", 1)
	conf = strings.Replace(conf, "server 127.0.0.1:3000;", "server "+apiLn.Addr().String()+";", 1)
	conf = strings.Replace(conf, "listen 127.0.0.1:8080;", "listen "+withPG+";", 1)
	alone := freePort()
	conf += fmt.Sprintf("\nserver {\n    listen %s;\n    location / {\n        proxy_pass http://api;\n    }\n}\n", alone)
	ngx, err := startNginx(nginx, dir, conf)
	if err != nil {
		return err
	}
	defer func() { _ = ngx.Process.Signal(syscall.SIGQUIT); _ = ngx.Wait() }()
	for _, a := range []string{withPG, alone} {
		if err := waitListen(a); err != nil {
			return err
		}
	}

	fmt.Printf("popguard behind nginx, %d workers, %s per scenario, GOMAXPROCS %d, %d CPUs\n",
		concurrency, duration, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Printf("%-22s %9s %9s %9s %9s %9s %7s %12s %14s\n", "scenario", "requests", "req/s", "p50", "p99", "max", "errors", "popguard CPU", "CPU/decision")
	type scenario struct {
		name, addr, path string
		auth             string
		dpop             bool
	}
	for _, sc := range []scenario{
		{"nginx alone, Bearer", alone, "/bearer/x", "Bearer " + bearer, false},
		{"nginx+popguard Bearer", withPG, "/bearer/x", "Bearer " + bearer, false},
		{"nginx alone, DPoP", alone, "/dpop/x", "DPoP " + bound, true},
		{"nginx+popguard DPoP", withPG, "/dpop/x", "DPoP " + bound, true},
	} {
		var proofs []string
		if sc.dpop {
			proofs = make([]string, maxReq)
			if err := client.NewProver(key, "GET", publicURL+sc.path, bound).Fill(proofs); err != nil {
				return err
			}
		}
		cpu0 := cpuTime(pg.Process.Pid)
		res := load("http://"+sc.addr+sc.path, sc.auth, proofs, concurrency, duration, maxReq)
		cpu := cpuTime(pg.Process.Pid) - cpu0
		perDecision := "-"
		if strings.Contains(sc.name, "popguard") && res.n > 0 {
			perDecision = fmt.Sprintf("%.1f µs", float64(cpu.Microseconds())/float64(res.n))
		}
		fmt.Printf("%-22s %9d %9.0f %9s %9s %9s %7d %11.2fc %14s\n", sc.name, res.n, float64(res.n)/res.elapsed.Seconds(),
			ms(res.pct(0.50)), ms(res.pct(0.99)), ms(res.pct(1)), res.errors, cpu.Seconds()/res.elapsed.Seconds(), perDecision)
		if res.errors > 0 {
			fmt.Printf("  statuses: %v\n", res.statuses)
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

type result struct {
	n, errors int
	elapsed   time.Duration
	lat       []time.Duration
	statuses  map[int]int
}

func (r *result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p*float64(len(r.lat))) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

// load runs closed-loop workers against url; with proofs, each request
// takes the next unused proof.
func load(url, auth string, proofs []string, workers int, d time.Duration, maxReq int) *result {
	var next atomic.Int64
	var mu sync.Mutex
	res := &result{statuses: map[int]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
			var lat []time.Duration
			errs, statuses := 0, map[int]int{}
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= maxReq {
					break
				}
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", auth)
				if proofs != nil {
					req.Header.Set("DPoP", proofs[i])
				}
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					errs++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != 200 {
					errs++
					statuses[resp.StatusCode]++
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			for k, v := range statuses {
				res.statuses[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.n = len(res.lat)
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	return res
}

func startNginx(bin, dir, conf string) (*exec.Cmd, error) {
	if err := os.WriteFile(filepath.Join(dir, "popguard.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/popguard.conf;
}
`, dir)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(main), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, cmd.Start()
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListen(addr string) error {
	for range 500 {
		if c, err := net.Dial("tcp", addr); err == nil {
			return c.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s", addr)
}

func waitReady(url string) error {
	for range 500 {
		if resp, err := http.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("%s never answered 200", url)
}

// cpuTime returns the user+system CPU time of pid from /proc (Linux).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}
