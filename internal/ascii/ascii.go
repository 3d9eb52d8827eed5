// Package ascii holds the ASCII-only string helpers the protocol code needs.
// HTTP scheme names, header names, hosts and percent-encodings are ASCII;
// Unicode-aware functions such as strings.EqualFold also fold non-ASCII
// runes (U+017F onto 's', U+212A onto 'k'), which would let look-alike
// input match.
package ascii

// EqualFold reports whether a and b are equal under ASCII case folding.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// HasPrefixFold reports whether s begins with prefix under ASCII case
// folding.
func HasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && EqualFold(s[:len(prefix)], prefix)
}

// Lower lower-cases the ASCII letters of s, leaving every other byte alone.
// It does not allocate when s has no upper-case letter.
func Lower(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		b[i] = lower(b[i])
	}
	return string(b)
}

// IsHex reports whether c is a hexadecimal digit.
func IsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Set is a set of bytes, for scanning long ASCII inputs (tokens, compact
// JWSs of several KB) with one table lookup per byte.
type Set [256]bool

// NewSet returns the set of the bytes of chars and, when alnum is set, of
// the ASCII letters and digits.
func NewSet(alnum bool, chars string) *Set {
	var s Set
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = true
	}
	if alnum {
		for c := '0'; c <= 'z'; c++ {
			if '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' {
				s[c] = true
			}
		}
	}
	return &s
}

// Span returns the length of the longest prefix of str made of bytes in s.
func (s *Set) Span(str string) int {
	for i := 0; i < len(str); i++ {
		if !s[str[i]] {
			return i
		}
	}
	return len(str)
}
