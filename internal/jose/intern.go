package jose

// Strings that parsing returns without allocating: the member names of JOSE
// headers (RFC 7515 §4.1), JWKs (RFC 7517 §4, RFC 7518 §6), JWTs (RFC 7519
// §4.1, RFC 9068, RFC 8693), DPoP proofs (RFC 9449 §4.2) and signed HTTP
// requests (draft-ietf-oauth-signed-http-request §3), and the common values
// of alg, typ, kty, crv and htm. A lookup with string(b) as the key does not
// convert b, so a known string costs no allocation; any other is copied.
var (
	knownNames = internSet(
		"alg", "typ", "kid", "jwk", "crit", "b64", "cty", "jku", "x5u", "x5c", "x5t", "x5t#S256",
		"kty", "crv", "x", "y", "n", "e", "d", "use", "key_ops",
		"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf", "jkt", "client_id", "scope", "scp",
		"roles", "azp", "auth_time", "acr", "amr", "sid", "tid", "ver",
		"htm", "htu", "ath", "nonce",
		"at", "ts", "m", "u", "p", "q", "h", "b")
	knownValues = internSet(
		"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "EdDSA",
		"dpop+jwt", "at+jwt", "application/at+jwt", "JWT", "pop",
		"EC", "RSA", "OKP", "P-256", "P-384", "P-521", "Ed25519",
		"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
)

func internSet(s ...string) map[string]string {
	m := make(map[string]string, len(s))
	for _, v := range s {
		m[v] = v
	}
	return m
}

// intern returns b as a string, from set when it holds it.
func intern(set map[string]string, b []byte) string {
	if s, ok := set[string(b)]; ok {
		return s
	}
	return string(b)
}
