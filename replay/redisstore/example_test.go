package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/replay/redisstore"
	"github.com/popguard/popguard/validate"
)

// Every instance of a fleet gives its Guard a store on the same Redis and
// prefix: a proof accepted by one instance is then a replay for all the
// others. (Fleets with server nonces also share the nonce secret.)
func Example() {
	ctx := context.Background()
	client, err := redisstore.ParseURL(os.Getenv("REDIS_URL")) // redis://, rediss:// or unix://
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() // the caller owns the client

	store := redisstore.New(client, redisstore.Prefix("popguard:replay:payments:"))
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := store.Ping(pctx); err != nil {
		log.Fatalf("replay store not ready: %v", err)
	}

	keys, err := validate.NewRemoteKeySet(ctx, "https://login.example.com/.well-known/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	tokens, err := validate.NewJWTVerifier("https://login.example.com/", keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com"),
		middleware.WithReplay(store)) // one SET NX PX round trip per proof
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	log.Fatal(http.ListenAndServe(":8080", guard.Require(popguard.DPoPOnly)(ok)))
}

func ExampleNew() {
	client, err := redisstore.ParseURL("redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() // the caller owns the client

	store := redisstore.New(client, redisstore.Prefix("my-api:dpop-jti:"), redisstore.Timeout(100*time.Millisecond))

	// key is the proof's replay key; ttl covers its acceptance window.
	key := "c3yZ0KyuS6M5bb0V6U5hLgXyYbJxY7cz8wqS0Q1m3oE"
	switch err := store.InsertIfAbsent(context.Background(), key, 71*time.Second); {
	case err == nil:
		// first use: accept the proof
	case errors.Is(err, replay.ErrReplayed):
		log.Print("rejected: replayed proof")
	default: // wraps replay.ErrUnavailable and the cause
		log.Printf("rejected: cannot check replay: %v", err) // fail closed
	}
}

// A fleet on a Redis Cluster or behind Sentinel takes its client from one
// URL (a flag, an environment variable); the form picks the topology.
func ExampleParseUniversalURL() {
	for _, u := range []string{
		"redis://127.0.0.1:6379/0",                                        // one server
		"redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000",     // a Redis Cluster: seed nodes
		"redis://10.0.0.1:26379/0?master_name=replay&addr=10.0.0.2:26379", // Sentinels and the master's name
	} {
		client, err := redisstore.ParseUniversalURL(u)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%T\n", client)
		_ = client.Close()
	}
	// Output:
	// *redis.Client
	// *redis.ClusterClient
	// *redis.Client
}

// A program that builds its go-redis client itself (TLS, credentials,
// hooks, pool sizes) hands it to New; ContextTimeoutEnabled lets the
// store's timeout abort socket I/O without a helper goroutine.
func ExampleNew_cluster() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"},
		ContextTimeoutEnabled: true,
	})
	defer client.Close() // the caller owns the client

	store := redisstore.New(client, redisstore.Prefix("my-api:dpop-jti:"))
	_ = middleware.WithReplay(store) // on every instance's Guard
}
