package popguard_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/popguard/popguard"
)

// An *Error matches its code, its reason, and an *Error target by code and
// (when named) reason, also when wrapped; nothing else.
func TestErrorIs(t *testing.T) {
	cause := errors.New("cause")
	err := fmt.Errorf("wrapped: %w", popguard.NewError(popguard.CodeInvalidDPoPProof, popguard.ReasonProofHTU, "desc", cause))
	for _, c := range []struct {
		target error
		want   bool
	}{
		{popguard.CodeInvalidDPoPProof, true},
		{popguard.ReasonProofHTU, true},
		{&popguard.Error{Code: popguard.CodeInvalidDPoPProof}, true},
		{&popguard.Error{Code: popguard.CodeInvalidDPoPProof, Reason: popguard.ReasonProofHTU}, true},
		{cause, true},
		{popguard.CodeInvalidToken, false},
		{popguard.CodeNone, false},
		{popguard.ReasonProofHTM, false},
		{&popguard.Error{Code: popguard.CodeInvalidDPoPProof, Reason: popguard.ReasonProofHTM}, false},
		{errors.New("invalid_dpop_proof"), false},
	} {
		if got := errors.Is(err, c.target); got != c.want {
			t.Errorf("errors.Is(err, %#v) = %v, want %v", c.target, got, c.want)
		}
	}
	none := popguard.NewError(popguard.CodeNone, popguard.ReasonNoCredentials, "", nil)
	if !errors.Is(none, popguard.CodeNone) || !errors.Is(none, popguard.ReasonNoCredentials) || none.Error() != "no credentials (no_credentials)" {
		t.Errorf("no-credentials error: %v", none)
	}
}
