package popguard

import (
	"errors"
	"strings"
)

// ErrorCode is an OAuth error code as sent in the error parameter of a
// WWW-Authenticate challenge.
type ErrorCode string

// Error codes from RFC 6750 §3.1 and RFC 9449 §7.1, §12.2.
const (
	// CodeNone marks a request that carried no credentials: its challenge
	// carries no error parameter (RFC 6750 §3.1).
	CodeNone ErrorCode = ""
	// CodeInvalidRequest: malformed request, several credentials (400).
	CodeInvalidRequest ErrorCode = "invalid_request"
	// CodeInvalidToken: the access token is invalid, expired, or not bound to
	// the proof key (401).
	CodeInvalidToken ErrorCode = "invalid_token"
	// CodeInvalidDPoPProof: the DPoP proof failed a check of RFC 9449 §4.3 (401).
	CodeInvalidDPoPProof ErrorCode = "invalid_dpop_proof"
	// CodeUseDPoPNonce: the server requires a (fresh) nonce in the proof (401).
	CodeUseDPoPNonce ErrorCode = "use_dpop_nonce"
	// CodeInsufficientScope: the token lacks a required scope (403).
	CodeInsufficientScope ErrorCode = "insufficient_scope"
	// CodeTemporarilyUnavailable: a dependency (replay store, key set) could
	// not answer; the client may retry (503). Not sent as a challenge error.
	CodeTemporarilyUnavailable ErrorCode = "temporarily_unavailable"
)

// Error is the error every popguard check returns. It carries the RFC error
// code for the challenge, a stable machine-readable Reason (for logs and
// metrics), a Description that is safe to send to the client, and the
// underlying cause, which may hold details and is never sent.
//
// Errors match with errors.Is against an ErrorCode, a Reason, or an *Error
// (by code and, when the target names one, reason):
//
//	errors.Is(err, popguard.CodeInvalidDPoPProof)
//	errors.Is(err, popguard.ReasonProofHTU)
//	errors.As(err, &pe) // pe *popguard.Error
type Error struct {
	Code        ErrorCode
	Reason      Reason
	Description string
	Err         error
}

// Error returns the code itself, so that an ErrorCode is an errors.Is
// target: errors.Is(err, popguard.CodeInvalidToken).
func (c ErrorCode) Error() string { return string(c) }

// Error returns the reason itself, so that a Reason is an errors.Is target:
// errors.Is(err, popguard.ReasonProofHTU).
func (r Reason) Error() string { return string(r) }

// Error returns "code (reason): description: cause".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Code == CodeNone {
		b.WriteString("no credentials")
	} else {
		b.WriteString(string(e.Code))
	}
	if e.Reason != "" {
		b.WriteString(" (")
		b.WriteString(string(e.Reason))
		b.WriteString(")")
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches target when it is e's ErrorCode, e's Reason, or an *Error with
// the same code and, if the target names a reason, the same reason.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case ErrorCode:
		return t == e.Code
	case Reason:
		return t == e.Reason
	case *Error:
		return t.Code == e.Code && (t.Reason == "" || t.Reason == e.Reason)
	}
	return false
}

// NewError returns an *Error. description must be safe to send to a client:
// never put attacker-controlled bytes in it (they belong in cause).
func NewError(code ErrorCode, reason Reason, description string, cause error) *Error {
	return &Error{Code: code, Reason: reason, Description: description, Err: cause}
}

// AsError returns err as an *Error. Errors that are not popguard errors
// become invalid_token with reason "internal" and a generic description.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Code: CodeInvalidToken, Reason: ReasonInternal, Description: "The access token could not be validated", Err: err}
}

// ReasonOf returns the stable reason of err, or "" when err is nil.
func ReasonOf(err error) Reason {
	if pe := AsError(err); pe != nil {
		return pe.Reason
	}
	return ""
}
