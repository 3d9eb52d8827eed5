package main

import "encoding/base64"

func decodeSeg(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
