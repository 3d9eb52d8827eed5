package main

// The setup the adapters share (internal/adaptertest): issuer, audience
// and alice's token.

import "github.com/popguard/popguard/internal/adaptertest"

const (
	testIssuer   = adaptertest.Issuer
	testAudience = adaptertest.Audience
)

// accessToken is alice's token, bound to client's key when not nil.
var accessToken = adaptertest.AccessToken
