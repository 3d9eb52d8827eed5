package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Provider is an authorization server configured from its issuer identifier
// alone: Discover reads its metadata (OpenID Connect Discovery 1.0 §4, or
// RFC 8414) and fetches the JWKS the metadata names. A Provider is the
// KeySet of that issuer's JWTVerifier, and its IntrospectionEndpoint feeds
// NewIntrospector. It is safe for concurrent use.
//
// The metadata is fetched again on the key set's refresh schedule (the
// maximum interval of KeySetRefresh, one hour by default). A new jwks_uri
// replaces the key set; a failed fetch, or a document whose issuer is not
// the configured one, keeps the last good metadata and is logged. Close
// stops both refreshes.
type Provider struct {
	issuer    string
	docURL    string // the URL the metadata was found at
	cfg       remoteConfig
	opts      []Option
	meta      atomic.Pointer[providerMetadata]
	keys      atomic.Pointer[RemoteKeySet]
	mu        sync.Mutex // serializes key-set swaps with Close
	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// providerMetadata holds the members of an authorization server's metadata
// that popguard uses.
type providerMetadata struct {
	Issuer                string   `json:"issuer"`
	JWKSURI               string   `json:"jwks_uri"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	DPoPAlgs              []string `json:"dpop_signing_alg_values_supported"`
}

// maxMetadataSize bounds a metadata document.
const maxMetadataSize = 256 << 10

// Discover configures a Provider for issuer. It fetches, in this order,
// issuer + "/.well-known/openid-configuration" (OpenID Connect Discovery)
// and the RFC 8414 §3.1 URL, with "/.well-known/oauth-authorization-server"
// inserted between the host and the issuer's path. The first document
// found (200) is used, and its issuer member must equal issuer exactly
// (RFC 8414 §3.3, OpenID Connect Discovery §4.3): a mismatch fails, and the
// other URL is not tried. It then starts a RemoteKeySet for the document's
// jwks_uri, with opts (HTTPClient, KeySetRefresh, KeySetLogger,
// WaitForKeys, KeySetStartupTimeout).
//
// A multi-tenant issuer holding {tenantid} (Entra ID's
// "https://login.microsoftonline.com/{tenantid}/v2.0") is discovered at its
// "common" endpoint, whose metadata names the issuer with the placeholder.
//
// The issuer, the metadata URL and jwks_uri must use https (http only for
// a loopback host). ctx and the startup timeout bound construction, as for
// NewRemoteKeySet; the metadata is fetched before the keys, within the same
// bound, whatever WaitForKeys says.
func Discover(ctx context.Context, issuer string, opts ...Option) (*Provider, error) {
	cfg := remoteConfig{min: time.Minute, max: time.Hour, wait: true, log: slog.Default()}
	if err := applyRemote(opts, &cfg); err != nil {
		return nil, err
	}
	if err := checkServerURL("issuer", issuer); err != nil {
		return nil, err
	}
	if cfg.httpc == nil {
		cfg.httpc = http.DefaultClient
	}
	startCtx, cancel := ctx, context.CancelFunc(func() {})
	if cfg.startupSet {
		startCtx, cancel = context.WithTimeout(ctx, cfg.startup)
	} else if _, ok := ctx.Deadline(); !ok {
		startCtx, cancel = context.WithTimeout(ctx, defaultStartupTimeout)
	}
	defer cancel()

	p := &Provider{issuer: issuer, cfg: cfg, opts: opts, done: make(chan struct{})}
	var meta *providerMetadata
	var errs []error
	for _, u := range discoveryURLs(issuer) {
		m, found, err := fetchMetadata(startCtx, cfg.httpc, u, issuer)
		if err != nil {
			return nil, err
		}
		if found {
			meta, p.docURL = m, u
			break
		}
		errs = append(errs, fmt.Errorf("%s: not found", u))
	}
	if meta == nil {
		return nil, fmt.Errorf("validate: no authorization server metadata for %s: %w", issuer, errors.Join(errs...))
	}
	keys, err := NewRemoteKeySet(startCtx, meta.JWKSURI, opts...)
	if err != nil {
		return nil, err
	}
	p.meta.Store(meta)
	p.keys.Store(keys)
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = stop
	go p.refreshLoop(life)
	return p, nil
}

// discoveryURLs returns the metadata URLs of issuer, in the order tried.
func discoveryURLs(issuer string) []string {
	base := strings.Replace(issuer, tenantTemplate, "common", 1)
	u, err := url.Parse(base)
	if err != nil {
		return nil
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	oidc := u.Scheme + "://" + u.Host + path + "/.well-known/openid-configuration"
	rfc8414 := u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path
	return []string{oidc, rfc8414}
}

// checkServerURL checks that raw is an absolute https URL (http for a
// loopback host) without user information, query or fragment.
func checkServerURL(what, raw string) error {
	u, err := url.Parse(strings.Replace(raw, tenantTemplate, "common", 1))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("validate: the %s %q is not an absolute URL", what, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return fmt.Errorf("validate: the %s %q must have no user information, query or fragment", what, raw)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return nil
	}
	return fmt.Errorf("validate: the %s %q must use https (http only for loopback hosts)", what, raw)
}

// fetchMetadata fetches and checks one metadata document. found is false
// when the server answers 404 or 405 (try the next URL); any other failure
// is an error.
func fetchMetadata(ctx context.Context, c *http.Client, docURL, issuer string) (*providerMetadata, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return nil, false, fmt.Errorf("validate: metadata %s: %w", docURL, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("validate: fetch metadata %s: %w", docURL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		drain(resp.Body)
		return nil, false, nil
	case resp.StatusCode != http.StatusOK:
		drain(resp.Body)
		return nil, false, fmt.Errorf("validate: metadata %s: HTTP %d", docURL, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, false, fmt.Errorf("validate: metadata %s: content type %q is not application/json", docURL, ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("validate: read metadata %s: %w", docURL, err)
	}
	if len(body) > maxMetadataSize {
		return nil, false, fmt.Errorf("validate: metadata %s is larger than %d bytes", docURL, maxMetadataSize)
	}
	var m providerMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false, fmt.Errorf("validate: metadata %s is not a JSON object: %w", docURL, err)
	}
	if m.Issuer != issuer {
		return nil, false, fmt.Errorf("validate: metadata %s names the issuer %q, not %q (RFC 8414 §3.3)", docURL, m.Issuer, issuer)
	}
	if m.JWKSURI == "" {
		return nil, false, fmt.Errorf("validate: metadata %s has no jwks_uri", docURL)
	}
	if err := checkServerURL("jwks_uri", m.JWKSURI); err != nil {
		return nil, false, err
	}
	if m.IntrospectionEndpoint != "" {
		if err := checkServerURL("introspection_endpoint", m.IntrospectionEndpoint); err != nil {
			return nil, false, err
		}
	}
	return &m, true, nil
}

// refreshLoop fetches the metadata again every maximum refresh interval
// until Close.
func (p *Provider) refreshLoop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.cfg.max)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.refresh(ctx)
		}
	}
}

// refresh fetches the metadata once and swaps the key set when jwks_uri
// changed.
func (p *Provider) refresh(ctx context.Context) {
	fctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	m, found, err := fetchMetadata(fctx, p.cfg.httpc, p.docURL, p.issuer)
	if err == nil && !found {
		err = errors.New("the metadata document is gone (404)")
	}
	if err != nil {
		p.cfg.log.WarnContext(ctx, "popguard: metadata refresh failed; keeping the last good metadata", "issuer", p.issuer, "error", err)
		return
	}
	old := p.meta.Load()
	p.meta.Store(m)
	if m.JWKSURI == old.JWKSURI {
		return
	}
	keys, err := NewRemoteKeySet(fctx, m.JWKSURI, p.opts...)
	if err != nil {
		p.meta.Store(old)
		p.cfg.log.WarnContext(ctx, "popguard: the new jwks_uri failed; keeping the last good key set", "issuer", p.issuer, "jwks", m.JWKSURI, "error", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Err() != nil {
		_ = keys.Close()
		return
	}
	prev := p.keys.Swap(keys)
	_ = prev.Close()
	p.cfg.log.InfoContext(ctx, "popguard: jwks_uri changed", "issuer", p.issuer, "jwks", m.JWKSURI)
}

// Issuer returns the issuer identifier the Provider was discovered for.
func (p *Provider) Issuer() string { return p.issuer }

// IntrospectionEndpoint returns the metadata's introspection_endpoint, or
// "" when it names none.
func (p *Provider) IntrospectionEndpoint() string { return p.meta.Load().IntrospectionEndpoint }

// Keys implements KeySet with the keys of the current jwks_uri.
func (p *Provider) Keys(ctx context.Context, kid string) ([]PublicKey, error) {
	return p.keys.Load().Keys(ctx, kid)
}

// Has reports whether a key with kid is in the current key set.
func (p *Provider) Has(kid string) bool { return p.keys.Load().Has(kid) }

// Close stops the metadata and key refreshes. It is idempotent.
func (p *Provider) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.stop()
		<-p.done
		p.mu.Lock()
		defer p.mu.Unlock()
		err = p.keys.Load().Close()
	})
	return err
}
