package validate

import (
	"errors"
	"strings"
	"testing"
)

// htuSeeds returns the table inputs of htu_test.go as fuzz seeds.
func htuSeeds() []string {
	seeds := []string{htuTestTarget, htuTestCanonical}
	seeds = append(seeds, htuAccept...)
	seeds = append(seeds, htuNotEqual...)
	for _, tc := range htuReject {
		seeds = append(seeds, tc.in)
	}
	for _, tc := range htuForms {
		seeds = append(seeds, tc.in)
	}
	return seeds
}

func FuzzCanonicalHTU(f *testing.F) {
	for _, s := range htuSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CanonicalHTU(in)
		if err != nil {
			if out != "" {
				t.Fatalf("CanonicalHTU(%q) = %q with error %v", in, out, err)
			}
			checkHTUError(t, in, err)
			if !strings.ContainsAny(in, "?#") && len(in) <= maxURILen {
				// Without query and fragment both functions agree.
				if got, terr := CanonicalTarget(in); terr == nil {
					t.Fatalf("CanonicalTarget(%q) = %q, but CanonicalHTU refused it: %v", in, got, err)
				}
			}
			return
		}
		if strings.ContainsAny(in, "?#") {
			t.Fatalf("CanonicalHTU(%q) accepted a query or fragment", in)
		}
		checkHTUInvariants(t, in, out)
		if got, err := CanonicalTarget(in + "?q=1#f"); err != nil || got != out {
			t.Fatalf("CanonicalTarget(%q) = %q, %v; want %q", in+"?q=1#f", got, err, out)
		}
	})
}

func FuzzCanonicalTarget(f *testing.F) {
	for _, s := range htuSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CanonicalTarget(in)
		base := in
		if i := strings.IndexAny(base, "?#"); i >= 0 {
			base = base[:i]
		}
		if err != nil {
			if out != "" {
				t.Fatalf("CanonicalTarget(%q) = %q with error %v", in, out, err)
			}
			checkHTUError(t, in, err)
			if _, herr := CanonicalHTU(base); herr == nil || !errors.Is(herr, ErrHTU) {
				t.Fatalf("CanonicalHTU(%q) accepted what CanonicalTarget refused: %v", base, err)
			}
			return
		}
		checkHTUInvariants(t, in, out)
		if got, err := CanonicalHTU(base); err != nil || got != out {
			t.Fatalf("CanonicalHTU(%q) = %q, %v; want %q", base, got, err, out)
		}
	})
}
