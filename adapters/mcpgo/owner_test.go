package mcpgo

import (
	"testing"

	"github.com/popguard/popguard"
)

// TestOwnerUnambiguous: no two callers share an owner name, however their
// issuer, subject and client id are spelled, so no caller can use
// another's session ID.
func TestOwnerUnambiguous(t *testing.T) {
	pairs := [][2]popguard.Result{
		{{Issuer: "https://i", Subject: "client:agent"}, {Issuer: "https://i", ClientID: "agent"}},
		{{Issuer: "https://i a", Subject: "b"}, {Issuer: "https://i", Subject: "a b"}},
		{{Issuer: "https://i", Subject: "1:x"}, {Issuer: "https://i1:", Subject: "x"}},
	}
	for _, p := range pairs {
		if a, b := ownerOf(&p[0]), ownerOf(&p[1]); a == b {
			t.Errorf("%+v and %+v are both %q", p[0], p[1], a)
		}
	}
}

// TestValidateShape: an ID whose random part is not 16 bytes of base64url
// is refused before any HMAC, so the MAC input is never ambiguous.
func TestValidateShape(t *testing.T) {
	m := boundIDs{keys: [][]byte{make([]byte, 32)}, owner: ownerOf(&popguard.Result{Issuer: "https://i", Subject: "s"})}
	id := m.Generate()
	if ok, err := m.Validate(id); ok || err != nil {
		t.Fatalf("own ID: %v %v", ok, err)
	}
	random := id[len("pg-") : len("pg-")+randomLen]
	short := "pg-" + random[1:] + "." + m.mac(m.keys[0], random[1:])
	if _, err := m.Validate(short); err == nil {
		t.Error("an ID with a 21-character random part, correctly MACed, accepted")
	}
	if _, err := (boundIDs{keys: m.keys}).Validate(id); err == nil {
		t.Error("an ID accepted for a request without a caller")
	}
}
