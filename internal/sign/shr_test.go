package sign

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReqCnf(t *testing.T) {
	const tp = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	got, err := base64.RawURLEncoding.DecodeString(ReqCnf(tp))
	if err != nil || string(got) != `{"kid":"`+tp+`"}` {
		t.Fatalf("ReqCnf = %s, %v", got, err)
	}
}

func TestQHashSanitizes(t *testing.T) {
	q := QHash("api-version=2024-01-01&filter=a%20b&tag=x&tag=y&empty=&flag&a=b=c")
	if !slices.Equal(q.Names, []string{"api-version", "filter"}) || q.Value != "Hyq3efpKZC79nFRjMPF34Wqgnx1ULx20beBcz8AH9Yw" {
		t.Fatalf("QHash = %+v", q)
	}
	if q := QHash("b=bar&a=foo&c=duck", "b", "a", "c"); q.Value != "u4LgkGUWhP9MsKrEjA4dizIllDXluDku6ZqCeyuR-JY" {
		t.Fatalf("draft q = %s", q.Value)
	}
	if q := QHash(""); len(q.Names) != 0 || q.Value != "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU" {
		t.Fatalf("empty q = %+v", q)
	}
}

func TestHHash(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Etag", "742-3u8f34-3r2nvv3")
	h.Set("Authorization", "PoP x")
	h.Add("X-Twice", "1")
	h.Add("X-Twice", "2")
	got := HHash(h)
	if !slices.Equal(got.Names, []string{"content-type", "etag"}) || got.Hash != "P6z5XN4tTzHkfwe3XO1YvVUIurSuhvh_UG10N_j-aGs" {
		t.Fatalf("HHash = %+v", got)
	}
}

func TestSHRFormats(t *testing.T) {
	k := MustKey("RS256")
	ts := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		f      SHRFormat
		header string
		prefix string
		nonce  *regexp.Regexp
	}{
		{MSALNet, `{"alg":"RS256","kid":"` + k.Thumbprint() + `","typ":"pop"}`, `{"cnf":{"jwk":{"e":"AQAB","kty":"RSA","n":"`, regexp.MustCompile(`"nonce":"[0-9a-f]{32}"`)},
		{MSALBrowser, `{"typ":"pop","alg":"RS256","kid":"` + ReqCnf(k.Thumbprint()) + `"}`, `{"at":"AT","ts":1700000000,"m":"GET","u":"api.example.com","nonce":"`, regexp.MustCompile(`"nonce":"[0-9a-f-]{36}"`)},
		{IdentityModel, `{"alg":"RS256","kid":"` + k.Thumbprint() + `","typ":"pop"}`, `{"at":"AT","ts":1700000000,"m":"GET","u":"API.example.com","p":"/A"`, regexp.MustCompile(`"nonce":"[0-9a-f]{32}"`)},
	} {
		h, p, err := k.SHRParts("AT", SHROptions{Method: "GET", Host: "API.example.com", Path: "/A", TS: ts, Format: tc.f})
		if err != nil {
			t.Fatal(err)
		}
		if string(h) != tc.header || !strings.HasPrefix(string(p), tc.prefix) || !tc.nonce.Match(p) {
			t.Errorf("format %d: header %s payload %s", tc.f, h, p)
		}
	}
	// JSON is written as JavaScript writes it: no HTML escaping.
	_, p, _ := k.SHRParts("AT", SHROptions{Method: "GET", Host: "h", Path: "/", RawQuery: "a=1&b=<2>", Format: MSALBrowser})
	if !strings.Contains(string(p), `"q":[[],"a=1&b=<2>"]`) {
		t.Fatalf("payload %s", p)
	}
}
