package dpopclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ErrDiscovery is matched (errors.Is) by every error of Discover.
var ErrDiscovery = errors.New("dpopclient: discovery failed")

// Metadata is what Discover reads of an authorization server's metadata.
type Metadata struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
	// DPoPSigningAlgs is dpop_signing_alg_values_supported (RFC 9449 §5.1);
	// empty when the server does not say.
	DPoPSigningAlgs []string `json:"dpop_signing_alg_values_supported"`
	// TokenAuthMethods is token_endpoint_auth_methods_supported.
	TokenAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
}

// SupportsAlg reports whether the server accepts DPoP proofs signed with alg
// (true when it does not list its algorithms).
func (m *Metadata) SupportsAlg(alg string) bool {
	return len(m.DPoPSigningAlgs) == 0 || slices.Contains(m.DPoPSigningAlgs, alg)
}

// Discover fetches the metadata of issuer: OpenID Connect Discovery
// (issuer + /.well-known/openid-configuration) first, then RFC 8414
// (/.well-known/oauth-authorization-server inserted before the issuer's
// path). The document's issuer must equal issuer exactly and it must name a
// token endpoint. issuer is https, or http on a loopback address. client nil
// means http.DefaultClient.
func Discover(ctx context.Context, client *http.Client, issuer string) (*Metadata, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: issuer %q is not an absolute URL without query", ErrDiscovery, issuer)
	}
	if err := checkSecure(u); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
	}
	if client == nil {
		client = http.DefaultClient
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	origin := u.Scheme + "://" + u.Host
	candidates := []string{
		origin + path + "/.well-known/openid-configuration",
		origin + "/.well-known/oauth-authorization-server" + path,
	}
	var errs []error
	for _, c := range candidates {
		m, err := fetchMetadata(ctx, client, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if m.Issuer != issuer {
			errs = append(errs, fmt.Errorf("%s names issuer %q, not %q", c, m.Issuer, issuer))
			continue
		}
		if m.TokenEndpoint == "" {
			errs = append(errs, fmt.Errorf("%s names no token_endpoint", c))
			continue
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrDiscovery, errors.Join(errs...))
}

func fetchMetadata(ctx context.Context, client *http.Client, u string) (*Metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", u, res.StatusCode)
	}
	var m Metadata
	if err := json.NewDecoder(io.LimitReader(res.Body, maxTokenResponse)).Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %v", u, err)
	}
	return &m, nil
}
