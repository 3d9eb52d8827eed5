package dpopclient

import (
	"net/http"
	"strings"
)

// challengeParams returns the auth-params of the first challenge for scheme
// (ASCII case-insensitive) in the WWW-Authenticate fields of h, and whether
// there was one. Parameter names are lower-cased. Malformed input ends the
// parse; what was read so far is kept.
func challengeParams(h http.Header, scheme string) (map[string]string, bool) {
	for _, line := range h.Values("WWW-Authenticate") {
		for _, c := range parseChallenges(line) {
			if strings.EqualFold(c.scheme, scheme) {
				return c.params, true
			}
		}
	}
	return nil, false
}

type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges reads RFC 9110 §11.6.1 challenges:
// scheme [ 1*SP ( token68 / #auth-param ) ] separated by commas.
func parseChallenges(s string) []challenge {
	var out []challenge
	p := &lexer{s: s}
	for {
		p.skip(" \t,")
		if p.done() {
			return out
		}
		scheme := p.token()
		if scheme == "" {
			return out
		}
		c := challenge{scheme: scheme, params: map[string]string{}}
		for {
			p.skip(" \t")
			save := p.i
			name := p.token()
			p.skip(" \t")
			if name == "" || !p.eat('=') {
				// No auth-param here: the next challenge (or a token68,
				// which the outer loop then skips as a scheme of its own).
				p.i = save
				break
			}
			p.skip(" \t")
			var val string
			if p.peek() == '"' {
				val = p.quoted()
			} else {
				val = p.token()
			}
			c.params[strings.ToLower(name)] = val
			p.skip(" \t")
			if !p.eat(',') {
				break
			}
			// After a comma: another param of this challenge, or a new
			// challenge (a token not followed by '=').
			p.skip(" \t,")
			look := p.i
			t := p.token()
			p.skip(" \t")
			isParam := t != "" && p.peek() == '='
			p.i = look
			if !isParam {
				break
			}
		}
		out = append(out, c)
	}
}

type lexer struct {
	s string
	i int
}

func (l *lexer) done() bool { return l.i >= len(l.s) }

func (l *lexer) peek() byte {
	if l.done() {
		return 0
	}
	return l.s[l.i]
}

func (l *lexer) eat(c byte) bool {
	if l.peek() == c && !l.done() {
		l.i++
		return true
	}
	return false
}

func (l *lexer) skip(set string) {
	for !l.done() && strings.IndexByte(set, l.s[l.i]) >= 0 {
		l.i++
	}
}

// token reads a tchar run (RFC 9110 §5.6.2), plus the token68 characters
// '/', '+' and '.', which cannot be confused with separators here.
func (l *lexer) token() string {
	start := l.i
	for !l.done() && isTchar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

func (l *lexer) quoted() string {
	l.i++ // opening quote
	var b strings.Builder
	for !l.done() {
		c := l.s[l.i]
		l.i++
		switch c {
		case '\\':
			if !l.done() {
				b.WriteByte(l.s[l.i])
				l.i++
			}
		case '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/", c) >= 0
}
