package validate

import "testing"

// The default allow-lists are functions returning copies: changing what one
// call returned changes nothing for the next caller or for verifiers.
func TestDefaultAlgsAreCopies(t *testing.T) {
	for name, f := range map[string]func() []string{"DefaultProofAlgs": DefaultProofAlgs, "DefaultSHRAlgs": DefaultSHRAlgs, "DefaultTokenAlgs": DefaultTokenAlgs} {
		a := f()
		want := a[0]
		a[0] = "none"
		if got := f()[0]; got != want {
			t.Errorf("%s()[0] = %q after a caller changed its copy, want %q", name, got, want)
		}
	}
	v, err := NewProofVerifier()
	if err != nil {
		t.Fatal(err)
	}
	algs := v.Algs()
	algs[0] = "none"
	if v.Algs()[0] == "none" {
		t.Error("ProofVerifier.Algs returns its own slice")
	}
}
