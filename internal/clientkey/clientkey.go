// Package clientkey lets the test kit (poptest) sign with a dpopclient.Key
// without dpopclient exporting its signer: dpopclient sets Unwrap when it is
// initialized, and only packages of this module can read it.
package clientkey

import "github.com/popguard/popguard/internal/sign"

// Unwrap returns the signing key inside a *dpopclient.Key (given as any to
// avoid an import cycle), or nil for anything else.
var Unwrap func(key any) *sign.Key
