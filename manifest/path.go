package manifest

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// ValidatePath checks that p is a safe relative file path inside a bundle:
// valid UTF-8, no control characters, forward slashes only, no leading or
// trailing slash, no empty, "." or ".." components, no drive letter, no
// backslash, within lim's length and depth. It returns an *Error with code
// CodeUnsafePath naming p.
func ValidatePath(p string, lim Limits) error {
	bad := func(format string, args ...any) error { return errorf(CodeUnsafePath, p, format, args...) }
	if p == "" {
		return bad("empty path")
	}
	if !utf8.ValidString(p) {
		return bad("path is not valid UTF-8")
	}
	if lim.MaxPathBytes > 0 && len(p) > lim.MaxPathBytes {
		return bad("path is %d bytes, more than the limit of %d", len(p), lim.MaxPathBytes)
	}
	for _, r := range p {
		switch {
		case r == 0:
			return bad("path contains a NUL byte")
		case r == '\\':
			return bad("path contains a backslash")
		case unicode.IsControl(r):
			return bad("path contains control character %U", r)
		case isInvisibleControl(r):
			return bad("path contains invisible formatting character %U", r)
		}
	}
	if p[0] == '/' {
		return bad("path is absolute")
	}
	if len(p) >= 2 && p[1] == ':' {
		return bad("path starts with a drive letter")
	}
	parts := strings.Split(p, "/")
	if lim.MaxPathDepth > 0 && len(parts) > lim.MaxPathDepth {
		return bad("path is %d components deep, more than the limit of %d", len(parts), lim.MaxPathDepth)
	}
	for _, c := range parts {
		switch {
		case c == "":
			return bad("path has an empty component")
		case c == "." || c == "..":
			return bad("path has a %q component", c)
		case len(c) > MaxComponentBytes:
			return bad("path component is %d bytes, more than %d", len(c), MaxComponentBytes)
		}
	}
	return nil
}

// isInvisibleControl reports the characters that are not Unicode controls
// but still change how a path reads or breaks lines: bidirectional overrides
// and isolates (a "Trojan Source" name can show "gpj.js" as "sj.jpg"), the
// line and paragraph separators, and the byte-order mark.
func isInvisibleControl(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, // LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069, // LRI, RLI, FSI, PDI
		r == 0x200E || r == 0x200F, // LRM, RLM
		r == 0x2028 || r == 0x2029, // line and paragraph separators
		r == 0xFEFF:                // byte-order mark
		return true
	}
	return false
}

var folder = cases.Fold() // stateless, safe for concurrent use

// FoldPath is the key two paths collide on when a device's file system is
// case-insensitive or normalises Unicode. It is Unicode's canonical caseless
// match (NFD, case folding, then normalisation again), returned in NFC:
// folding can break a normal form, and folding an NFC string misses pairs
// such as "Ś" and "ſ́" that NFD first catches.
func FoldPath(p string) string {
	return norm.NFC.String(folder.String(norm.NFD.String(p)))
}
