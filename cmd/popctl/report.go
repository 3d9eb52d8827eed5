package main

// The human form of an inspection report.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

var kindTitles = map[string]string{
	kindProof:   "DPoP proof (RFC 9449)",
	kindSHR:     "PoP signed HTTP request (MSAL SHR)",
	kindToken:   "access token",
	kindUnknown: "not a JWS (checked as an access token)",
}

// colors returns ANSI codes when w is a terminal and NO_COLOR is unset.
func colors(w io.Writer) (green, red, dim, bold, reset string) {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return
	}
	return "\x1b[32m", "\x1b[31m", "\x1b[2m", "\x1b[1m", "\x1b[0m"
}

func printReport(w io.Writer, r *report) {
	green, red, dim, bold, reset := colors(w)
	fmt.Fprintf(w, "%s%s%s\n", bold, kindTitles[r.Kind], reset)
	printJSON := func(label string, raw json.RawMessage) {
		if raw == nil {
			return
		}
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "  ", "  ") != nil {
			return
		}
		fmt.Fprintf(w, "%s:\n  %s\n", label, buf.String())
	}
	printJSON("header", r.Header)
	printJSON("payload", r.Payload)
	if r.AccessToken != nil {
		printJSON("at header", r.AccessToken.Header)
		printJSON("at payload", r.AccessToken.Payload)
	}
	at := time.Unix(r.At, 0).UTC()
	fmt.Fprintf(w, "\nchecks at %s (%d):\n", at.Format(time.RFC3339), r.At)
	width := 0
	for _, c := range r.Checks {
		width = max(width, utf8.RuneCountInString(c.Name))
	}
	var failed, offline []string
	skipped := 0
	for _, c := range r.Checks {
		mark, color := "✔", green
		switch {
		case !c.OK:
			mark, color = "✘", red
			failed = append(failed, c.Name)
		case c.Skipped:
			mark, color = "–", dim
			skipped++
			if c.Offline {
				offline = append(offline, c.Name)
			}
		}
		detail := c.Detail
		if c.Reason != "" {
			detail += " [" + c.Reason + "]"
		}
		fmt.Fprintf(w, "  %s%s%s %-*s  %s\n", color, mark, reset, width, c.Name, detail)
	}
	fmt.Fprintln(w)
	passed := len(r.Checks) - len(failed) - skipped
	switch {
	case len(failed) > 0:
		fmt.Fprintf(w, "%sFAIL%s: %d failed (%s), %d passed, %d not checked\n", red, reset,
			len(failed), strings.Join(failed, ", "), passed, skipped)
	case len(offline) > 0:
		// Never a bare OK: a server may still refuse it for what only it
		// can check.
		fmt.Fprintf(w, "%sOK offline%s: %d passed, %d not checked; not checked offline: %s (a server may still refuse it for these)\n",
			green, reset, passed, skipped, strings.Join(offline, ", "))
	default:
		fmt.Fprintf(w, "%sOK%s: %d passed, %d not checked\n", green, reset, passed, skipped)
	}
}
