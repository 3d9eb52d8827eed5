package jose

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/popguard/popguard/internal/ascii"
	"math"
	"strconv"
	"unicode/utf8"
)

// Member is one member of a JSON object: its name (unescaped) and its raw
// JSON value.
type Member struct {
	Name  string
	Value []byte
}

// Limits of the strict JSON parser.
const (
	maxDepth = 16
	// MaxMembers is the default cap on the members of any one object:
	// proofs, SHRs and JOSE headers never come near it. Access tokens may
	// carry many more claims; their cap is set with ParseObjectLimit.
	MaxMembers = 64
	// stackNames is how many member names of one object are checked for
	// duplicates in a stack array; past it a map keeps the check linear.
	stackNames = 64
)

var (
	errJSONSyntax    = errors.New("invalid JSON")
	errJSONNotObject = errors.New("JSON value is not an object")
	errJSONDuplicate = errors.New("duplicate JSON member name")
	errJSONDepth     = errors.New("JSON nested too deeply")
	errJSONMembers   = errors.New("too many JSON members")
)

// ParseObject parses b, which must be exactly one JSON object, and returns
// its top-level members in order. It validates the whole document and
// rejects duplicate member names in every object at any depth (RFC 7515 §4,
// RFC 7519 §4: a parser differential between first-wins and last-wins
// parsers must not be possible), nesting deeper than 16 and objects with
// more than MaxMembers members.
func ParseObject(b []byte) ([]Member, error) { return ParseObjectLimit(b, MaxMembers) }

// ParseObjectLimit is ParseObject with a cap of maxMembers members per
// object (at least 1).
func ParseObjectLimit(b []byte, maxMembers int) ([]Member, error) {
	return appendObject(nil, b, maxMembers)
}

// appendObject is ParseObjectLimit appending the members to dst, so that a
// caller with room for them (ParseCompact) allocates no slice.
func appendObject(dst []Member, b []byte, maxMembers int) ([]Member, error) {
	p := parser{b: b, maxMembers: max(maxMembers, 1)}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return nil, errJSONNotObject
	}
	members, err := p.object(0, true, dst)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, errJSONSyntax
	}
	if len(members) == 0 {
		return nil, nil // {} is nil members, with or without room in dst
	}
	return members, nil
}

type parser struct {
	b          []byte
	i          int
	maxMembers int
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object parses an object starting at '{'. When keep is set it appends the
// members to dst and returns them; nested objects are only validated.
//
// Member names are compared for duplicates as bytes of the input (or, for
// the rare escaped name, of its unescaped form), and only a kept member's
// name becomes a string, interned when it is a well-known JOSE or JWT name.
// A DPoP proof is thus parsed without one allocation per member name.
func (p *parser) object(depth int, keep bool, dst []Member) ([]Member, error) {
	if depth >= maxDepth {
		return nil, errJSONDepth
	}
	p.i++ // '{'
	members := dst
	var names [stackNames][]byte
	var seen map[string]struct{} // past stackNames members
	n := 0
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return members, nil
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, errJSONSyntax
		}
		start := p.i
		escaped, err := p.str()
		if err != nil {
			return nil, err
		}
		name := p.b[start+1 : p.i-1]
		if escaped {
			if name, err = unescape(p.b[start:p.i]); err != nil {
				return nil, errJSONSyntax
			}
		}
		if n == p.maxMembers {
			return nil, errJSONMembers
		}
		switch {
		case n < stackNames:
			for _, prev := range names[:n] {
				if string(prev) == string(name) {
					return nil, errJSONDuplicate
				}
			}
			names[n] = name
		default:
			if seen == nil {
				seen = make(map[string]struct{}, 2*stackNames)
				for _, prev := range names {
					seen[string(prev)] = struct{}{}
				}
			}
			if _, dup := seen[string(name)]; dup {
				return nil, errJSONDuplicate
			}
			seen[string(name)] = struct{}{}
		}
		n++
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, errJSONSyntax
		}
		p.i++
		p.ws()
		vstart := p.i
		if err := p.value(depth + 1); err != nil {
			return nil, err
		}
		if keep {
			if cap(members) == len(members) && len(members) < 8 {
				members = append(make([]Member, 0, 8), members...)
			}
			members = append(members, Member{Name: intern(knownNames, name), Value: p.b[vstart:p.i]})
		}
		p.ws()
		if p.i >= len(p.b) {
			return nil, errJSONSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return members, nil
		default:
			return nil, errJSONSyntax
		}
	}
}

func (p *parser) array(depth int) error {
	if depth >= maxDepth {
		return errJSONDepth
	}
	p.i++ // '['
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return nil
	}
	for {
		p.ws()
		if err := p.value(depth + 1); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return errJSONSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return errJSONSyntax
		}
	}
}

func (p *parser) value(depth int) error {
	if p.i >= len(p.b) {
		return errJSONSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{':
		_, err := p.object(depth, false, nil)
		return err
	case c == '[':
		return p.array(depth)
	case c == '"':
		_, err := p.str()
		return err
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return p.num()
	}
	return errJSONSyntax
}

func (p *parser) lit(s string) error {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return errJSONSyntax
	}
	p.i += len(s)
	return nil
}

// num checks the RFC 8259 number grammar.
func (p *parser) num() error {
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		s := p.i
		for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
			p.i++
		}
		return p.i - s
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return errJSONSyntax
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return errJSONSyntax
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return errJSONSyntax
		}
	}
	return nil
}

// str scans a string starting at '"' and reports whether it had escapes.
func (p *parser) str() (escaped bool, err error) {
	p.i++ // opening quote
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return escaped, nil
		case c == '\\':
			escaped = true
			p.i++
			if p.i >= len(p.b) {
				return false, errJSONSyntax
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if len(p.b)-p.i < 5 {
					return false, errJSONSyntax
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !ascii.IsHex(h) {
						return false, errJSONSyntax
					}
				}
				p.i += 5
			default:
				return false, errJSONSyntax
			}
		case c < 0x20:
			return false, errJSONSyntax
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				return false, errJSONSyntax
			}
			p.i += size
		}
	}
	return false, errJSONSyntax
}

// String decodes a raw JSON value that must be a string.
func String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", false
			}
			return s, true
		}
	}
	return intern(knownValues, inner), true
}

// StringBytes is String without the copy: when the string has no escapes,
// the bytes returned alias raw.
func StringBytes(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	s, ok := String(raw)
	return []byte(s), ok
}

// Number decodes a raw JSON value that must be a number (not a string) and
// finite.
func Number(raw []byte) (float64, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || ('0' <= raw[0] && raw[0] <= '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// StringArray decodes a raw JSON value that must be an array of strings.
func StringArray(raw []byte) ([]string, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	// Through []any: unmarshalling into []string would turn null elements
	// into "" silently.
	var elems []any
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, false
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// Lookup returns the value of the member named name.
func Lookup(members []Member, name string) ([]byte, bool) {
	for _, m := range members {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

// unescape decodes a JSON string with escapes. It is kept out of line so the
// common, unescaped path stays free of its allocations.
//
//go:noinline
func unescape(raw []byte) ([]byte, error) {
	var s string
	err := json.Unmarshal(raw, &s)
	return []byte(s), err
}
