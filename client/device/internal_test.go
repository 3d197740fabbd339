package device

import (
	"testing"

	"github.com/patchwire/patchwire/api"
)

func TestEmptyManifestDigest(t *testing.T) {
	if got := emptyManifest.Digest().String(); got != api.EmptyManifest {
		t.Fatalf("empty manifest digest %s, api says %s", got, api.EmptyManifest)
	}
}

func TestParseContentRange(t *testing.T) {
	cases := []struct {
		in                string
		start, end, total int64
		ok                bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 5-9/*", 5, 9, -1, true},
		{"bytes 5-9/9", 0, 0, 0, false},
		{"bytes 9-5/10", 0, 0, 0, false},
		{"bytes -1-5/10", 0, 0, 0, false},
		{"bits 0-9/10", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"bytes */10", 0, 0, 0, false},
		{"bytes 0-99999999999999999999/1", 0, 0, 0, false},
	}
	for _, c := range cases {
		s, e, tot, ok := parseContentRange(c.in)
		if ok != c.ok || (ok && (s != c.start || e != c.end || tot != c.total)) {
			t.Errorf("%q: %d %d %d %v", c.in, s, e, tot, ok)
		}
	}
}
