package validate

import (
	"crypto/sha256"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/popguard/popguard/internal/jose"
)

// defaultKeyCache is how many client keys a ProofVerifier or an
// SHRVerifier remembers by default (ProofKeyCache).
const defaultKeyCache = 4096

// keyCache imports client-chosen JWKs (DPoP proof keys, PoP cnf keys) under
// one key policy, remembering each key that passed every check by a hash of
// its exact JSON. A client signs every request with the same key, so a hit
// skips decoding and validating the jwk and computing its thumbprint. The
// zero keyCache (size 0) imports every time.
type keyCache struct {
	policy jose.KeyPolicy
	keys   *lru.Cache[[sha256.Size]byte, *jose.PublicKey]
}

func newKeyCache(size int, policy jose.KeyPolicy) (keyCache, error) {
	kc := keyCache{policy: policy}
	if size > 0 {
		c, err := lru.New[[sha256.Size]byte, *jose.PublicKey](size)
		if err != nil {
			return keyCache{}, err
		}
		kc.keys = c
	}
	return kc, nil
}

// parse imports raw, through the cache when there is one.
func (kc keyCache) parse(raw []byte) (*jose.PublicKey, error) {
	if kc.keys == nil {
		return jose.ParseJWK(raw, kc.policy)
	}
	id := sha256.Sum256(raw)
	if k, ok := kc.keys.Get(id); ok {
		return k, nil
	}
	k, err := jose.ParseJWK(raw, kc.policy)
	if err != nil {
		return nil, err
	}
	kc.keys.Add(id, k)
	return k, nil
}
