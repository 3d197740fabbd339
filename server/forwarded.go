package server

import "strings"

// forwardedElement is one element of an RFC 7239 Forwarded header: the
// for=, proto= and host= parameters (others are ignored). A malformed
// element has all three empty, so a walk over the chain stops at it.
type forwardedElement struct {
	forNode, proto, host string
}

// parseForwarded parses the Forwarded header lines (RFC 7239 §4): elements
// separated by commas, parameters by semicolons, each token=token or
// token="quoted string" with backslash escapes. Each element is parsed on
// its own, so garbage a client put at the left of the header cannot change
// the elements trusted proxies appended after it. At most maxForwardedHops
// elements are returned (the rightmost).
func parseForwarded(lines []string) []forwardedElement {
	var out []forwardedElement
	for _, line := range lines {
		for _, el := range splitQuoted(line, ',') {
			out = append(out, parseForwardedElement(el))
		}
	}
	if len(out) > maxForwardedHops {
		out = out[len(out)-maxForwardedHops:]
	}
	return out
}

// parseForwardedElement parses "name=value;name=value".
func parseForwardedElement(s string) forwardedElement {
	var el forwardedElement
	for _, pair := range splitQuoted(s, ';') {
		name, value, ok := strings.Cut(strings.Trim(pair, " \t"), "=")
		if !ok || !isToken(name) {
			return forwardedElement{}
		}
		v, ok := unquote(value)
		if !ok {
			return forwardedElement{}
		}
		switch strings.ToLower(name) {
		case "for":
			el.forNode = v
		case "proto":
			el.proto = v
		case "host":
			el.host = v
		}
	}
	return el
}

// splitQuoted splits s at every sep outside a quoted string.
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote returns a token as is and a quoted string without its quotes and
// escapes; anything else is not ok.
func unquote(v string) (string, bool) {
	if isToken(v) {
		return v, true
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		if c == '\\' {
			if i+1 == len(v)-1 {
				return "", false // the closing quote is escaped
			}
			i++
			c = v[i]
		} else if c == '"' {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c is an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
