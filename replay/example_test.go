package replay_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/popguard/popguard/replay"
)

func ExampleMemory() {
	store, err := replay.NewMemory(replay.Capacity(50_000))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	// key is a hash of the proof's jti; ttl covers the proof's acceptance window.
	key := "c3yZ0KyuS6M5bb0V6U5hLgXyYbJxY7cz8wqS0Q1m3oE"
	fmt.Println(store.InsertIfAbsent(ctx, key, 5*time.Minute))

	err = store.InsertIfAbsent(ctx, key, 5*time.Minute)
	switch {
	case errors.Is(err, replay.ErrReplayed):
		fmt.Println("rejected: replayed proof")
	case err != nil:
		fmt.Println("rejected: cannot check replay:", err) // fail closed
	}
	// Output:
	// <nil>
	// rejected: replayed proof
}

func ExampleMemory_InsertOwned() {
	// Room for 100 000 live proofs, at most 2 000 of them from any one key.
	store, err := replay.NewMemory(replay.Capacity(100_000), replay.OwnerQuota(2_000))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	// owner is the proof key's thumbprint (jkt), known once the access token,
	// the proof and their binding are verified; key is the proof's replay key.
	owner := "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	for i := range 2_001 {
		key := fmt.Sprintf("proof-%d", i)
		switch err := store.InsertOwned(ctx, owner, key, 71*time.Second); {
		case err == nil:
			// accept the proof
		case errors.Is(err, replay.ErrReplayed):
			fmt.Println("rejected: replayed proof")
		case errors.Is(err, replay.ErrQuota):
			fmt.Printf("proof %d rejected: this key holds too many live proofs\n", i)
		default:
			fmt.Println("rejected: cannot check replay:", err) // fail closed
		}
	}
	// A replay is reported as such, even from an owner at its quota.
	fmt.Println(errors.Is(store.InsertOwned(ctx, owner, "proof-0", 71*time.Second), replay.ErrReplayed))
	// Other owners are unaffected.
	fmt.Println(store.InsertOwned(ctx, "another-thumbprint", "proof-x", 71*time.Second))
	// Output:
	// proof 2000 rejected: this key holds too many live proofs
	// true
	// <nil>
}
