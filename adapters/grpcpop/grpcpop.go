// Package grpcpop protects google.golang.org/grpc servers with popguard:
// start from [New], which prepares one route of a middleware.Guard, and
// install its [Interceptor.Unary] and [Interceptor.Stream] on the server.
//
// Each call is checked as the Guard checks an HTTP request: the
// authorization metadata (Bearer, DPoP or PoP), the dpop metadata for DPoP,
// the route's mode, scopes and nonces, and replay detection. The accepted
// caller reaches the handler through its context (popguard.FromContext).
//
// # The DPoP htu of a gRPC call
//
// No RFC fixes what a DPoP proof for a gRPC call names in htm and htu. This
// package uses the URL the call travels to over HTTP/2, which is also the
// URL of the same procedure over Connect and gRPC-Web:
//
//	htm = POST
//	htu = <the Guard's public URL, its path prefix included> + /<package.Service>/<Method>
//
// for example https://api.example.com/grpc.health.v1.Health/Check. A gRPC
// server has no reliable URL of its own (the :authority is the client's
// word), so the origin comes from the Guard's configuration: build the
// Guard with middleware.WithPublicURL. [Path] maps a full method name to
// another path, for a server published behind a gateway that rewrites
// paths.
//
// # Errors
//
// A rejection ends the call with a status whose message is the error code
// and its safe description (never a token, proof or cause), and with the
// challenge in the trailers: www-authenticate (one value per challenge, as
// in HTTP) and, when the route uses nonces, dpop-nonce. The HTTP statuses
// of popguard map to gRPC codes as gRPC's own HTTP mapping does:
//
//	400, 431 -> InvalidArgument    (malformed credentials)
//	401      -> Unauthenticated    (bad or missing token or proof)
//	403      -> PermissionDenied   (insufficient scope)
//	429, 503 -> Unavailable        (replay store or key set unavailable; retry)
//
// On success, a rotated nonce travels in the dpop-nonce response header.
// PoP signed requests (Microsoft SHR) are checked with the method, host and
// path only: a gRPC call has no query, and its body is not hashed.
package grpcpop

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// Interceptor checks gRPC calls against one route policy. It is safe for
// concurrent use.
type Interceptor struct {
	route     *middleware.Route
	path      func(fullMethod string) string
	routeOpts []middleware.RouteOption
}

// Option configures [New].
type Option func(*Interceptor) error

// Path maps a call's full method name ("/package.Service/Method") to the
// request path its proofs are checked against, appended to the Guard's
// public URL (default: the full method name itself). The result must start
// with "/".
func Path(f func(fullMethod string) string) Option {
	return func(i *Interceptor) error {
		if f == nil {
			return errors.New("grpcpop: Path(nil)")
		}
		i.path = f
		return nil
	}
}

// RouteOptions refines the route every call must pass
// (middleware.RequireNonce, middleware.RequireScopes, middleware.Name ...).
func RouteOptions(opts ...middleware.RouteOption) Option {
	return func(i *Interceptor) error {
		i.routeOpts = append(i.routeOpts, opts...)
		return nil
	}
}

// New prepares the route of guard that every call through the interceptor
// must pass: mode, refined by [RouteOptions]. It fails on invalid options,
// so a mistake surfaces at startup, never as a client error.
func New(guard *middleware.Guard, mode popguard.Mode, opts ...Option) (*Interceptor, error) {
	if guard == nil {
		return nil, errors.New("grpcpop: New(nil Guard)")
	}
	i := &Interceptor{path: func(m string) string { return m }}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(i); err != nil {
			return nil, err
		}
	}
	rt, err := guard.Route(mode, i.routeOpts...)
	if err != nil {
		return nil, err
	}
	i.route = rt
	return i, nil
}

// Unary returns the unary server interceptor.
func (i *Interceptor) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, hdr, err := i.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		if hdr != nil {
			_ = grpc.SetHeader(ctx, hdr)
		}
		return handler(ctx, req)
	}
}

// Stream returns the stream server interceptor. The call is checked once,
// when the stream opens.
func (i *Interceptor) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, hdr, err := i.check(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		if hdr != nil {
			_ = ss.SetHeader(hdr)
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// check authenticates the call in ctx. On success it returns the context
// holding the result and the response header metadata; on failure a status
// error, with the challenge set in the trailers.
func (i *Interceptor) check(ctx context.Context, fullMethod string) (context.Context, metadata.MD, error) {
	r, err := i.request(ctx, fullMethod)
	if err != nil {
		return nil, nil, err
	}
	res, hdr, err := i.route.Check(r)
	if err != nil {
		var rej *middleware.Rejection
		if !errors.As(err, &rej) {
			return nil, nil, status.Error(codes.Internal, "authentication failed")
		}
		if tr := trailer(rej.Header); len(tr) > 0 {
			_ = grpc.SetTrailer(ctx, tr)
		}
		msg := string(rej.Err.Code)
		if msg == "" {
			msg = "unauthenticated"
		}
		if rej.Err.Description != "" {
			msg += ": " + rej.Err.Description
		}
		return nil, nil, status.Error(Code(rej.Status), msg)
	}
	var md metadata.MD
	if n := hdr.Get("DPoP-Nonce"); n != "" {
		md = metadata.Pairs("dpop-nonce", n)
	}
	return popguard.NewContext(ctx, res), md, nil
}

// request builds the HTTP view of the call the Guard checks: POST to the
// procedure's path, with the call's authorization and dpop metadata.
func (i *Interceptor) request(ctx context.Context, fullMethod string) (*http.Request, error) {
	path := i.path(fullMethod)
	if !strings.HasPrefix(path, "/") {
		return nil, status.Error(codes.Internal, "grpcpop: the procedure path must start with /")
	}
	u := &url.URL{Path: path}
	r := &http.Request{
		Method: http.MethodPost, URL: u, RequestURI: u.EscapedPath(), Proto: "HTTP/2.0", ProtoMajor: 2,
		Header: http.Header{}, Body: http.NoBody,
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		r.Header.Add("Authorization", v)
	}
	for _, v := range md.Get("dpop") {
		r.Header.Add("DPoP", v)
	}
	if a := md.Get(":authority"); len(a) == 1 {
		r.Host = a[0]
	}
	if p, ok := peer.FromContext(ctx); ok {
		if p.Addr != nil {
			r.RemoteAddr = p.Addr.String()
		}
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			r.TLS = &ti.State
		}
	}
	return r.WithContext(ctx), nil
}

// trailer carries the challenge headers of a rejection as gRPC metadata.
func trailer(h http.Header) metadata.MD {
	md := metadata.MD{}
	for _, name := range []string{"WWW-Authenticate", "DPoP-Nonce", "Retry-After"} {
		if vs := h.Values(name); len(vs) > 0 {
			md.Append(strings.ToLower(name), vs...)
		}
	}
	return md
}

// Code maps the HTTP status of a popguard rejection to a gRPC code: 400 and
// 431 InvalidArgument, 401 Unauthenticated, 403 PermissionDenied, 429 and
// 503 Unavailable, anything else Unknown.
func Code(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusRequestHeaderFieldsTooLarge:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.Unknown
}
