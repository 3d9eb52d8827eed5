package popguard

// Reason is a stable, machine-readable name for why a request was rejected.
// Reasons are meant for logs, metrics and tests; they never change meaning
// once released.
type Reason string

// Rejection reasons. The prefix says which part failed: request framing,
// token, DPoP proof, PoP signed request, nonce, replay or policy.
const (
	ReasonNoCredentials Reason = "no_credentials"
	// ReasonCORSPreflight: a CORS preflight (OPTIONS with Origin and
	// Access-Control-Request-Method), which carries no credentials. The
	// guard answers it 204 itself and never passes it to the handler.
	ReasonCORSPreflight                 Reason = "cors_preflight"
	ReasonInternal                      Reason = "internal"
	ReasonRequestMultipleAuthorization  Reason = "request_multiple_authorization"
	ReasonRequestMultipleMethods        Reason = "request_multiple_methods"
	ReasonRequestQueryToken             Reason = "request_query_token"
	ReasonRequestMalformedAuthorization Reason = "request_malformed_authorization"
	ReasonRequestHeaderTooLarge         Reason = "request_header_too_large"
	ReasonRequestSchemeNotAllowed       Reason = "request_scheme_not_allowed"
	ReasonRequestBadTarget              Reason = "request_bad_target"
	// ReasonRequestDotSegment: the request path holds a "." or ".." segment in
	// some spelling ("%2E", ".%2e", between "%2F" separators). Routers
	// disagree on such paths, so they are refused on every route.
	ReasonRequestDotSegment Reason = "request_dot_segment"
	// ReasonRequestHostNotAllowed: the host the request addressed is not one of
	// the Guard's public hosts.
	ReasonRequestHostNotAllowed Reason = "request_host_not_allowed"
	// ReasonRequestClientCert: a trusted proxy forwarded a client
	// certificate header that is not of the configured form (400).
	ReasonRequestClientCert Reason = "request_client_cert"

	ReasonTokenMalformed  Reason = "token_malformed"
	ReasonTokenType       Reason = "token_type"
	ReasonTokenAlg        Reason = "token_alg"
	ReasonTokenUnknownKey Reason = "token_unknown_key"
	ReasonTokenSignature  Reason = "token_signature"
	ReasonTokenIssuer     Reason = "token_issuer"
	// ReasonTokenTenant: the tenant claim of a token from a multi-tenant
	// issuer is missing, malformed, not allowed, or disagrees with iss.
	ReasonTokenTenant Reason = "token_tenant"
	// ReasonTokenKeyIssuer: the key that signed the token is published for
	// another issuer (Entra ID's per-key issuer member).
	ReasonTokenKeyIssuer         Reason = "token_key_issuer"
	ReasonTokenAudience          Reason = "token_audience"
	ReasonTokenExpired           Reason = "token_expired"
	ReasonTokenNotYetValid       Reason = "token_not_yet_valid"
	ReasonTokenIssuedAt          Reason = "token_issued_at"
	ReasonTokenClaims            Reason = "token_claims"
	ReasonTokenInactive          Reason = "token_inactive"
	ReasonTokenCnf               Reason = "token_cnf"
	ReasonTokenBoundUsedAsBearer Reason = "token_bound_used_as_bearer"
	ReasonTokenNotBound          Reason = "token_not_bound"
	ReasonTokenKeyBinding        Reason = "token_key_binding"
	ReasonTokenKeySetUnavailable Reason = "token_keyset_unavailable"
	// ReasonTokenCertMissing: the token is certificate-bound (RFC 8705,
	// cnf.x5t#S256) but the request came without a client certificate.
	ReasonTokenCertMissing Reason = "token_cert_missing"
	// ReasonTokenCertBinding: the token is certificate-bound, but to another
	// certificate than the one the request came with.
	ReasonTokenCertBinding Reason = "token_cert_binding"

	ReasonProofMissing   Reason = "proof_missing"
	ReasonProofMultiple  Reason = "proof_multiple"
	ReasonProofMalformed Reason = "proof_malformed"
	ReasonProofTooLarge  Reason = "proof_too_large"
	ReasonProofTyp       Reason = "proof_typ"
	ReasonProofAlg       Reason = "proof_alg"
	ReasonProofJWK       Reason = "proof_jwk"
	ReasonProofCrit      Reason = "proof_crit"
	ReasonProofSignature Reason = "proof_signature"
	ReasonProofClaims    Reason = "proof_claims"
	ReasonProofHTM       Reason = "proof_htm"
	ReasonProofHTU       Reason = "proof_htu"
	ReasonProofIAT       Reason = "proof_iat"
	ReasonProofJTI       Reason = "proof_jti"
	ReasonProofATH       Reason = "proof_ath"

	ReasonSHRMalformed Reason = "shr_malformed"
	ReasonSHRTyp       Reason = "shr_typ"
	ReasonSHRAlg       Reason = "shr_alg"
	ReasonSHRKey       Reason = "shr_key"
	ReasonSHRSignature Reason = "shr_signature"
	ReasonSHRTs        Reason = "shr_ts"
	ReasonSHRM         Reason = "shr_m"
	ReasonSHRU         Reason = "shr_u"
	ReasonSHRP         Reason = "shr_p"
	ReasonSHRQ         Reason = "shr_q"
	ReasonSHRH         Reason = "shr_h"
	ReasonSHRB         Reason = "shr_b"
	// ReasonSHRClientClaims: the signed request's client_claims (msal-browser's
	// shrClaims) is not a string holding one JSON object of at most 4 KiB.
	ReasonSHRClientClaims Reason = "shr_client_claims"

	ReasonNonceMissing Reason = "nonce_missing"
	ReasonNonceInvalid Reason = "nonce_invalid"

	ReasonReplayDetected         Reason = "replay_detected"
	ReasonReplayStoreFull        Reason = "replay_store_full"
	ReasonReplayStoreUnavailable Reason = "replay_store_unavailable"
	// ReasonReplayKeyQuota: the proof key already holds its quota of live
	// entries in the replay store (replay.OwnerQuota); 429 with Retry-After.
	ReasonReplayKeyQuota Reason = "replay_key_quota"

	ReasonInsufficientScope Reason = "insufficient_scope"
	// ReasonInsufficientRole: the token lacks an application role the
	// route requires (RequireRoles); the error code is insufficient_scope.
	ReasonInsufficientRole Reason = "insufficient_role"
)
