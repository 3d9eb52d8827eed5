package popguard

// Reason is a stable, machine-readable name for why a request was rejected.
// Reasons are meant for logs, metrics and tests; they never change meaning
// once released.
type Reason string

// Rejection reasons. The prefix says which part failed: request framing,
// token, DPoP proof, PoP signed request, nonce, replay or policy.
const (
	ReasonNoCredentials       Reason = "no_credentials"
	ReasonInternal            Reason = "internal"
	ReasonMultipleAuthHeaders Reason = "request_multiple_authorization"
	ReasonMultipleMethods     Reason = "request_multiple_methods"
	ReasonQueryToken          Reason = "request_query_token_not_accepted"
	ReasonMalformedAuthHeader Reason = "request_malformed_authorization"
	ReasonHeaderTooLarge      Reason = "request_header_too_large"
	ReasonSchemeNotAllowed    Reason = "request_scheme_not_allowed"
	ReasonBadTarget           Reason = "request_bad_target"
	// ReasonDotSegment: the request path holds a "." or ".." segment in
	// some spelling ("%2E", ".%2e", between "%2F" separators). Routers
	// disagree on such paths, so they are refused on every route.
	ReasonDotSegment Reason = "request_dot_segment"
	// ReasonHostNotAllowed: the host the request addressed is not one of
	// the Guard's public hosts.
	ReasonHostNotAllowed Reason = "request_host_not_allowed"

	ReasonTokenMalformed   Reason = "token_malformed"
	ReasonTokenType        Reason = "token_type"
	ReasonTokenAlg         Reason = "token_alg"
	ReasonTokenKey         Reason = "token_unknown_key"
	ReasonTokenSignature   Reason = "token_signature"
	ReasonTokenIssuer      Reason = "token_issuer"
	ReasonTokenAudience    Reason = "token_audience"
	ReasonTokenExpired     Reason = "token_expired"
	ReasonTokenNotYetValid Reason = "token_not_yet_valid"
	ReasonTokenIssuedAt    Reason = "token_issued_at"
	ReasonTokenClaims      Reason = "token_claims"
	ReasonTokenInactive    Reason = "token_inactive"
	ReasonTokenCnf         Reason = "token_cnf"
	ReasonBoundAsBearer    Reason = "token_bound_used_as_bearer"
	ReasonTokenNotBound    Reason = "token_not_bound"
	ReasonKeyBinding       Reason = "token_key_binding"
	ReasonKeySet           Reason = "token_keyset_unavailable"

	ReasonProofMissing   Reason = "proof_missing"
	ReasonProofMultiple  Reason = "proof_multiple"
	ReasonProofMalformed Reason = "proof_malformed"
	ReasonProofTooLarge  Reason = "proof_too_large"
	ReasonProofType      Reason = "proof_typ"
	ReasonProofAlg       Reason = "proof_alg"
	ReasonProofKey       Reason = "proof_jwk"
	ReasonProofCrit      Reason = "proof_crit"
	ReasonProofSignature Reason = "proof_signature"
	ReasonProofClaims    Reason = "proof_claims"
	ReasonProofHTM       Reason = "proof_htm"
	ReasonProofHTU       Reason = "proof_htu"
	ReasonProofIAT       Reason = "proof_iat"
	ReasonProofJTI       Reason = "proof_jti"
	ReasonProofATH       Reason = "proof_ath"

	ReasonSHRMalformed Reason = "shr_malformed"
	ReasonSHRType      Reason = "shr_typ"
	ReasonSHRAlg       Reason = "shr_alg"
	ReasonSHRKey       Reason = "shr_key"
	ReasonSHRSignature Reason = "shr_signature"
	ReasonSHRTimestamp Reason = "shr_ts"
	ReasonSHRMethod    Reason = "shr_m"
	ReasonSHRHost      Reason = "shr_u"
	ReasonSHRPath      Reason = "shr_p"
	ReasonSHRQuery     Reason = "shr_q"
	ReasonSHRHeaders   Reason = "shr_h"
	ReasonSHRBody      Reason = "shr_b"

	ReasonNonceMissing Reason = "nonce_missing"
	ReasonNonceInvalid Reason = "nonce_invalid"

	ReasonReplay            Reason = "replay_detected"
	ReasonReplayStoreFull   Reason = "replay_store_full"
	ReasonReplayUnavailable Reason = "replay_store_unavailable"
	// ReasonReplayKeyQuota: the proof key already holds its quota of live
	// entries in the replay store (replay.OwnerQuota); 429 with Retry-After.
	ReasonReplayKeyQuota Reason = "replay_key_quota"

	ReasonInsufficientScope Reason = "insufficient_scope"
)
