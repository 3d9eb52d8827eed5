package main

import (
	"strings"
	"testing"
)

// Without -public-url the public URL is the listen address, never the
// request's Host; a listen address clients cannot address needs the flag.
func TestListenURL(t *testing.T) {
	for _, c := range []struct{ listen, want, err string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"localhost:9000", "http://localhost:9000", ""},
		{"[::1]:8443", "http://[::1]:8443", ""},
		{":8080", "", "set -public-url"},
		{"0.0.0.0:8080", "", "set -public-url"},
		{"[::]:8080", "", "set -public-url"},
		{"no-port", "", "-listen"},
	} {
		got, err := listenURL(c.listen)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("listenURL(%q) = %q, %v; want an error mentioning %q", c.listen, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("listenURL(%q) = %q, %v; want %q", c.listen, got, err, c.want)
		}
	}
}
