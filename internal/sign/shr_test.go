package sign

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
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

// TestCanonicalizationVectors checks QHash, HHash and BodyHash against the
// vectors in testdata/shr/vectors.json
// (draft-ietf-oauth-signed-http-request-03 §3.2, as IdentityModel computes
// them), which validate's TestSHRCanonicalizationVectors checks the
// validator against.
func TestCanonicalizationVectors(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/shr/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vec struct {
		Q []struct {
			RawQuery string   `json:"raw_query"`
			Names    []string `json:"names"`
			Hash     string   `json:"hash"`
		} `json:"q"`
		H []struct {
			Headers [][2]string `json:"headers"`
			Names   []string    `json:"names"`
			Hash    string      `json:"hash"`
		} `json:"h"`
		B []struct {
			Body string `json:"body"`
			Hash string `json:"hash"`
		} `json:"b"`
	}
	if err := json.Unmarshal(raw, &vec); err != nil {
		t.Fatal(err)
	}
	if len(vec.Q) != 3 || len(vec.H) != 3 || len(vec.B) != 2 {
		t.Fatalf("vectors: %d q, %d h, %d b", len(vec.Q), len(vec.H), len(vec.B))
	}
	for _, q := range vec.Q {
		if got := QHash(q.RawQuery, q.Names...); got.Value != q.Hash {
			t.Errorf("QHash %q = %s", q.RawQuery, got.Value)
		}
	}
	for _, h := range vec.H {
		hdr := http.Header{}
		for _, kv := range h.Headers {
			hdr.Add(kv[0], kv[1])
		}
		if got := HHash(hdr, h.Names...); got.Hash != h.Hash {
			t.Errorf("HHash %v = %s", h.Names, got.Hash)
		}
	}
	for _, b := range vec.B {
		if got := BodyHash([]byte(b.Body)); got != b.Hash {
			t.Errorf("BodyHash %q = %s, want %s", b.Body, got, b.Hash)
		}
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
