//go:build !race

package middleware_test

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false
