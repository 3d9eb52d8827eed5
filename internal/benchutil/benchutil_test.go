package benchutil

import "testing"

// TestMedian: the probe runs (n = 1) are left out unless there is nothing
// else, and runs of different sizes all count.
func TestMedian(t *testing.T) {
	type s struct {
		n  int
		ns float64
	}
	of := func(x s) (int, float64) { return x.n, x.ns }
	for _, c := range []struct {
		in   []s
		want float64
	}{
		{nil, 0},
		{[]s{{1, 900}, {9000, 120}, {1, 800}, {10000, 100}, {1, 700}, {8000, 130}}, 120},
		{[]s{{1, 5}, {1, 7}, {1, 6}}, 6},
		{[]s{{1, 900}, {2000, 50}}, 50},
	} {
		if got := median(c.in, of); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
