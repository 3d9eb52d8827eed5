package popguard_test

import (
	"testing"

	"github.com/popguard/popguard"
)

// The predefined modes are constants: `popguard.DPoPOnly = popguard.Mixed`
// does not compile, and this declaration would not either if they were
// variables.
const _, _, _, _, _ = popguard.BearerOnly, popguard.Mixed, popguard.DPoPOnly, popguard.PoPOnly, popguard.ProofOnly

func TestModes(t *testing.T) {
	all := []popguard.Scheme{popguard.Bearer, popguard.DPoP, popguard.PoP}
	for _, c := range []struct {
		mode    popguard.Mode
		accepts []popguard.Scheme
		report  bool
		target  popguard.Mode
		str     string
	}{
		{popguard.BearerOnly, []popguard.Scheme{popguard.Bearer}, false, popguard.BearerOnly, "Bearer"},
		{popguard.Mixed, all, false, popguard.Mixed, "Bearer|DPoP|PoP"},
		{popguard.DPoPOnly, []popguard.Scheme{popguard.DPoP}, false, popguard.DPoPOnly, "DPoP"},
		{popguard.PoPOnly, []popguard.Scheme{popguard.PoP}, false, popguard.PoPOnly, "PoP"},
		{popguard.ProofOnly, []popguard.Scheme{popguard.DPoP, popguard.PoP}, false, popguard.ProofOnly, "DPoP|PoP"},
		{popguard.ReportOnly(popguard.DPoPOnly), all, true, popguard.DPoPOnly, "report-only(DPoP)"},
		{popguard.ReportOnly(popguard.Mode(0)), all, true, popguard.Mode(0), "report-only(none)"},
		{popguard.ReportOnly(popguard.ReportOnly(popguard.PoPOnly)), all, true, popguard.PoPOnly, "report-only(PoP)"},
		{popguard.Accepting(popguard.Bearer, popguard.PoP), []popguard.Scheme{popguard.Bearer, popguard.PoP}, false, popguard.Accepting(popguard.Bearer, popguard.PoP), "Bearer|PoP"},
		{popguard.Accepting(popguard.Scheme(0xff)), all, false, popguard.Mixed, "Bearer|DPoP|PoP"},
		{popguard.Mode(0), nil, false, popguard.Mode(0), "none"},
	} {
		for _, s := range all {
			want := false
			for _, a := range c.accepts {
				want = want || a == s
			}
			if got := c.mode.Accepts(s); got != want {
				t.Errorf("%s.Accepts(%s) = %v", c.str, s, got)
			}
		}
		if c.mode.Accepts(0) {
			t.Errorf("%s accepts the zero scheme", c.str)
		}
		if c.mode.IsReportOnly() != c.report || c.mode.Target() != c.target || c.mode.String() != c.str {
			t.Errorf("mode %q: report %v target %v string %q", c.str, c.mode.IsReportOnly(), c.mode.Target(), c.mode.String())
		}
	}
}

// mtls_pop is the Bearer scheme under Microsoft's name: accepted wherever
// Bearer is, and never stored in a Mode.
func TestMTLSPoPScheme(t *testing.T) {
	for _, name := range []string{"mtls_pop", "MTLS_POP", "Mtls_Pop"} {
		if s, ok := popguard.ParseScheme(name); !ok || s != popguard.MTLSPoP || s.String() != "mtls_pop" {
			t.Errorf("ParseScheme(%q) = %v, %v", name, s, ok)
		}
	}
	for _, name := range []string{"mtls-pop", "mtlspop", "mtls_pop "} {
		if s, ok := popguard.ParseScheme(name); ok {
			t.Errorf("ParseScheme(%q) = %v, want unknown", name, s)
		}
	}
	for _, m := range []popguard.Mode{popguard.BearerOnly, popguard.Mixed, popguard.ReportOnly(popguard.DPoPOnly)} {
		if !m.Accepts(popguard.MTLSPoP) {
			t.Errorf("%v does not accept mtls_pop", m)
		}
	}
	for _, m := range []popguard.Mode{popguard.DPoPOnly, popguard.PoPOnly, popguard.ProofOnly, 0} {
		if m.Accepts(popguard.MTLSPoP) {
			t.Errorf("%v accepts mtls_pop", m)
		}
	}
	if m := popguard.Accepting(popguard.MTLSPoP); m != popguard.BearerOnly {
		t.Errorf("Accepting(MTLSPoP) = %v, want BearerOnly", m)
	}
	if popguard.ReportOnly(popguard.DPoPOnly).Target().Accepts(popguard.MTLSPoP) {
		t.Error("a report-only route's DPoP target accepts mtls_pop")
	}
}
