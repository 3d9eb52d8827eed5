// Package bench compares popguard with a peer library,
// github.com/auth0/go-jwt-middleware/v3, on the same DPoP and Bearer
// requests in one process and one run, and holds the loopback load generator
// for examples/server (cmd/load).
//
// It is a module of its own so that the popguard module never depends on a
// peer. Run the comparison with
//
//	go test -run '^$' -bench Peer -benchmem -count 5 .
//	POPGUARD_BENCH_PEER=1 go test -run TestPeerRatio -v .
//
// See BENCHMARKS.md at the repository root for results and how to read them.
package bench
