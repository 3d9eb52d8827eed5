package uri

import (
	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/ascii"
)

// Reasons to refuse a path.
const (
	errPathNotAbsolute Error = "path does not start with a slash"
	errPathPercent     Error = "path has an invalid percent-encoding"
	errPathNonASCII    Error = "path has a non-ASCII byte"
	errPathByte        Error = "path has an invalid byte"

	// ErrDotSegment is the CheckPath error of a path with a dot-segment,
	// which callers report under a reason of its own.
	ErrDotSegment Error = "path has a dot-segment"
)

// CheckPath checks an absolute path (it starts with '/'), escaped as on the
// wire: RFC 3986 pchars and '/' only, every '%' starting a triplet with two
// hex digits, and no dot-segment in any spelling (see HasDotSegment). It
// reports whether the path is in normal form: no lower-case hex digit in a
// percent-encoding (UpperPercentHex returns it unchanged).
//
// Percent-encodings are never decoded: "%61" is not "a" and "%2F" is not
// "/", since routers that route on the raw path (chi, echo) tell them apart.
func CheckPath(path string) (normal bool, err error) {
	if path == "" || path[0] != '/' {
		return false, errPathNotAbsolute
	}
	normal = true
	for i := 1; i < len(path); i++ {
		c := path[i]
		switch pathClass[c] {
		case classOK:
		case classPercent:
			if i+2 >= len(path) || !ascii.IsHex(path[i+1]) || !ascii.IsHex(path[i+2]) {
				return false, errPathPercent
			}
			normal = normal && !isLowerHex(path[i+1]) && !isLowerHex(path[i+2])
			i += 2
		default:
			if c >= 0x80 {
				return false, errPathNonASCII
			}
			return false, errPathByte
		}
	}
	if HasDotSegment(path) {
		return false, ErrDotSegment
	}
	return normal, nil
}

// Byte classes of a path.
const (
	classInvalid = iota
	classOK      // unreserved, sub-delims, ':', '@' and '/'
	classPercent // '%'
)

var pathClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || isDigit(b) {
			t[c] = classOK
		}
	}
	for _, c := range []byte("-._~!$&'()*+,;=:@/") {
		t[c] = classOK
	}
	t['%'] = classPercent
	return t
}()

// HasDotSegment reports whether path (escaped, as on the wire, or decoded)
// holds a "." or ".." segment. A dot may be spelled "." or "%2E" (either
// case), and segments are separated by '/' and by "%2F" (either case), since
// a router that routes on the decoded path splits there. Only the path is
// examined: strip any query first.
//
// Such paths are refused, never resolved, because routers disagree on them.
// Go's ServeMux cleans only the escaped path, so "/a/%2E%2E/b" reaches the
// "/a/" handler with r.URL.Path "/a/../b"; chi and echo route on the raw
// path and never remove dot-segments; gin routes on the decoded path, where
// "%2F" is a separator. A check that removed dot-segments before comparing
// the path with a proof would accept a proof made for "/b" on a request that
// runs the handler of "/a/".
func HasDotSegment(path string) bool {
	dots, plain := 0, true // dots in the current segment; plain: nothing else in it
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '/' {
			if plain && (dots == 1 || dots == 2) {
				return true
			}
			dots, plain = 0, true
			continue
		}
		switch c := path[i]; {
		case c == '.':
			dots++
		case c == '%' && i+2 < len(path) && path[i+1] == '2' && (path[i+2] == 'E' || path[i+2] == 'e'):
			dots++
			i += 2
		case c == '%' && i+2 < len(path) && path[i+1] == '2' && (path[i+2] == 'F' || path[i+2] == 'f'):
			if plain && (dots == 1 || dots == 2) {
				return true
			}
			dots, plain = 0, true
			i += 2
		default:
			plain = false
		}
	}
	return false
}

// UpperPercentHex returns s with the hex digits of its well-formed
// percent-encodings upper-cased (RFC 3986 §6.2.2.1); nothing else changes.
// It returns s itself when there is nothing to change.
func UpperPercentHex(s string) string {
	i := indexLowerPercent(s)
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	return string(AppendUpperPercentHex(b, s[i:]))
}

// AppendUpperPercentHex appends UpperPercentHex(s) to dst.
func AppendUpperPercentHex(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if isPercentTriplet(s, i) {
			dst = append(dst, '%', upperHex(s[i+1]), upperHex(s[i+2]))
			i += 2
			continue
		}
		dst = append(dst, s[i])
	}
	return dst
}

// indexLowerPercent returns the index of the first well-formed
// percent-encoding of s with a lower-case hex digit, or -1.
func indexLowerPercent(s string) int {
	for i := 0; i+2 < len(s); i++ {
		if isPercentTriplet(s, i) && (isLowerHex(s[i+1]) || isLowerHex(s[i+2])) {
			return i
		}
	}
	return -1
}

// isPercentTriplet reports whether s[i:] starts with '%' and two hex digits.
// A '%' is never a hex digit, so a triplet never overlaps another.
func isPercentTriplet(s string, i int) bool {
	return s[i] == '%' && i+2 < len(s) && ascii.IsHex(s[i+1]) && ascii.IsHex(s[i+2])
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

func upperHex(c byte) byte {
	if isLowerHex(c) {
		return c - ('a' - 'A')
	}
	return c
}

// DotSegmentRejection is the one rejection of a request whose path holds a
// dot-segment, whichever layer finds it: 400 invalid_request, reason
// request_dot_segment, with cause (may be nil) for the log.
func DotSegmentRejection(cause error) *popguard.Error {
	return popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestDotSegment, "The request path must not contain dot-segments", cause)
}
