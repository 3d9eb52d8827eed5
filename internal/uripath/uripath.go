// Package uripath holds the one rule popguard applies to request paths
// before any proof is compared with them: a path with a dot-segment, in any
// spelling, is refused.
//
// Routers disagree on dot-segments. Go's ServeMux cleans only the escaped
// path, so "/a/%2E%2E/b" reaches the "/a/" handler with r.URL.Path
// "/a/../b"; chi and echo route on the raw path and never remove
// dot-segments; gin routes on the decoded path, where "%2F" is a separator.
// A check that removed dot-segments before comparing the path with a proof
// would accept a proof made for "/b" on a request that runs the handler of
// "/a/". Refusing such paths makes the compared path and the routed path the
// same.
package uripath

// HasDotSegment reports whether path (escaped, as on the wire, or decoded)
// holds a "." or ".." segment. A dot may be spelled "." or "%2E" (either
// case), and segments are separated by '/' and by "%2F" (either case), since
// a router that routes on the decoded path splits there. Only the path is
// examined: strip any query first.
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
