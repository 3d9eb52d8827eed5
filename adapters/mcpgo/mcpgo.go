// Package mcpgo protects Model Context Protocol servers built with
// github.com/mark3labs/mcp-go with popguard: tools reached only with
// DPoP-bound tokens (or Bearer on a Mixed route during a migration), MCP
// sessions bound to the caller who started them, and the RFC 9728 metadata
// the MCP authorization specification requires, derived from the Guard.
//
//	guard, err := middleware.New(middleware.WithTokens(tokens),
//		middleware.WithPublicURL("https://mcp.example.com"),
//		middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: "https://mcp.example.com/mcp"}))
//	if err != nil { ... }
//	binding, err := mcpgo.SessionBinding()
//	if err != nil { ... }
//	mcpHandler := server.NewStreamableHTTPServer(mcpServer, server.WithSessionIdManagerResolver(binding))
//	mux.Handle("/mcp", guard.Require(popguard.DPoPOnly)(mcpHandler))
//	mux.Handle(guard.MetadataPath(), mcpgo.MetadataHandler(guard))
//
// mcp-go runs tool handlers with the HTTP request's context, so they find
// the caller with popguard.FromContext (or [Result]). A rejection is
// popguard's: RFC 6750 / RFC 9449 challenges with scope and
// resource_metadata, which MCP clients follow.
//
// It lives in its own module so that the core popguard module never pulls
// mcp-go into programs that do not use it.
package mcpgo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// Result returns the caller popguard accepted for the request whose context
// a tool handler runs with, or nil.
func Result(ctx context.Context) *popguard.Result { return popguard.FromContext(ctx) }

// Metadata returns the Guard's RFC 9728 document (see
// middleware.WithResourceMetadata) as mcp-go's type. That type has no
// signed_metadata: serve Guard.MetadataHandler to publish signed metadata.
func Metadata(g *middleware.Guard) (server.ProtectedResourceMetadataConfig, error) {
	var m server.ProtectedResourceMetadataConfig
	if g.MetadataPath() == "" {
		return m, errors.New("mcpgo: the Guard has no resource metadata (middleware.WithResourceMetadata)")
	}
	rr := httptest.NewRecorder()
	g.MetadataHandler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, g.MetadataPath(), nil))
	if rr.Code != http.StatusOK {
		return m, fmt.Errorf("mcpgo: the Guard's metadata handler answered %d", rr.Code)
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &m); err != nil {
		return m, fmt.Errorf("mcpgo: decoding the Guard's metadata: %w", err)
	}
	return m, nil
}

// MetadataHandler serves the Guard's RFC 9728 document through mcp-go's
// server.NewProtectedResourceMetadataHandler, built at each request so that
// routes added after it are counted. Mount it at Guard.MetadataPath.
func MetadataHandler(g *middleware.Guard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := Metadata(g)
		if err != nil {
			http.Error(w, "no resource metadata", http.StatusNotFound)
			return
		}
		server.NewProtectedResourceMetadataHandler(m).ServeHTTP(w, r)
	})
}

// SessionBinding returns a session ID manager for
// server.WithSessionIdManagerResolver that binds each MCP session to the
// caller who started it (issuer and subject, or client id for a token
// without subject): a session ID used with another caller's token is
// unknown to mcp-go (404), so a leaked session ID is worth nothing without
// its owner's token and, with DPoP, key. It keeps no state: an ID is a
// random part and an HMAC of it with the owner.
//
// Without keys, the HMAC key is made here: IDs do not survive a restart,
// and other instances do not know them (a client sent to another instance
// gets 404 and starts a new session). A fleet behind a load balancer
// passes the keys its instances share, each at least 32 random bytes: IDs
// are made with the first and accepted with any. To rotate without ending
// sessions, in three rollouts: add the new key after the current one on
// every instance (all accept it, none makes IDs with it yet); then put it
// first everywhere; then, once the sessions made with the old key may end,
// drop the old one. Keep the keys secret: with a key, anyone can make IDs,
// though still only for a caller whose token and key they hold. A non-nil
// empty list of keys is an error, not a request for a random key.
func SessionBinding(keys ...[]byte) (server.SessionIdManagerResolver, error) {
	if keys != nil && len(keys) == 0 {
		return nil, errors.New("mcpgo: SessionBinding given an empty list of keys")
	}
	if len(keys) == 0 {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		return binding{keys: [][]byte{key}}, nil
	}
	b := binding{keys: make([][]byte, len(keys))}
	for i, k := range keys {
		if len(k) < 32 {
			return nil, fmt.Errorf("mcpgo: session binding key %d has %d bytes; at least 32 are needed", i, len(k))
		}
		b.keys[i] = bytes.Clone(k)
	}
	return b, nil
}

// binding holds the HMAC keys: IDs are made with the first.
type binding struct{ keys [][]byte }

// ResolveSessionIdManager implements server.SessionIdManagerResolver.
func (b binding) ResolveSessionIdManager(r *http.Request) server.SessionIdManager {
	owner := ""
	if r != nil {
		if res := popguard.FromContext(r.Context()); res != nil {
			owner = ownerOf(res)
		}
	}
	return boundIDs{keys: b.keys, owner: owner}
}

// ownerOf names the caller: the issuer and the subject, or the client id
// of a token without subject, each field length-prefixed so that no
// subject can spell another caller's name (a subject "client:x" is not the
// client x).
func ownerOf(res *popguard.Result) string {
	kind, id := "sub", res.Subject
	if id == "" {
		kind, id = "client", res.ClientID
	}
	return kind + ":" + strconv.Itoa(len(res.Issuer)) + ":" + res.Issuer + strconv.Itoa(len(id)) + ":" + id
}

// boundIDs makes and checks the session IDs of one caller.
type boundIDs struct {
	keys  [][]byte
	owner string // "" for a request without a caller (cleanup)
}

var b64 = base64.RawURLEncoding

// randomLen is the length of an ID's random part: 16 bytes in base64url.
var randomLen = b64.EncodedLen(16)

func (m boundIDs) mac(key []byte, random string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(random))
	h.Write([]byte{0})
	h.Write([]byte(m.owner))
	return b64.EncodeToString(h.Sum(nil)[:16])
}

// Generate implements server.SessionIdManager.
func (m boundIDs) Generate() string {
	var r [16]byte
	_, _ = rand.Read(r[:])
	random := b64.EncodeToString(r[:])
	return "pg-" + random + "." + m.mac(m.keys[0], random)
}

// errForeignSession is the Validate error of a session ID that is not the
// caller's (or not one of ours).
var errForeignSession = errors.New("mcpgo: the session belongs to another caller")

// Validate implements server.SessionIdManager.
func (m boundIDs) Validate(id string) (bool, error) {
	random, mac, ok := strings.Cut(strings.TrimPrefix(id, "pg-"), ".")
	if m.owner == "" || !ok || !strings.HasPrefix(id, "pg-") || len(random) != randomLen {
		return false, errForeignSession
	}
	for _, k := range m.keys {
		if hmac.Equal([]byte(mac), []byte(m.mac(k, random))) {
			return false, nil
		}
	}
	return false, errForeignSession
}

// Terminate implements server.SessionIdManager: mcp-go forgets the
// session's state; the ID itself stays valid for its owner, who can only
// start over.
func (m boundIDs) Terminate(string) (bool, error) { return false, nil }
