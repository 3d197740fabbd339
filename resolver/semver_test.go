package resolver

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" = refused
	}{
		{"1.2.3", "1.2.3"},
		{"0.0.0", "0.0.0"},
		{"1.2.3-beta.1", "1.2.3-beta.1"},
		{"1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"},
		{"1.2.3+20260101", "1.2.3+20260101"},
		{"18446744073709551615.0.0", "18446744073709551615.0.0"}, // max uint64
		{"", ""},
		{"1", ""},
		{"1.2", ""},
		{"v1.2.3", ""},
		{"V1.2.3", ""},
		{"01.2.3", ""},
		{"1.02.3", ""},
		{"1.2.3-", ""},
		{"1.2.3+", ""},
		{"1.2.3-01", ""},
		{"1.2.3-a..b", ""},
		{"1.2.3.4", ""},
		{" 1.2.3", ""},
		{"1.2.3 ", ""},
		{"1..3", ""},
		{"-1.2.3", ""},
		{"1.2.3-ß", ""},
		{"١.٢.٣", ""},                      // Arabic-Indic digits
		{"18446744073709551616.0.0", ""},   // uint64 overflow
		{"9999999999999999999999.0.0", ""}, // the security bar's example
		{"builtin", ""},
		{"1.2.3-" + strings.Repeat("a", 58), "1.2.3-" + strings.Repeat("a", 58)}, // 64 bytes
		{"1.2.3-" + strings.Repeat("a", 59), ""},                                 // 65 bytes
	} {
		v, err := ParseVersion(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseVersion(%q) = %s, want error", tc.in, v)
			} else if !errors.Is(err, ErrVersion) {
				t.Errorf("ParseVersion(%q) error %v does not wrap ErrVersion", tc.in, err)
			}
			continue
		}
		if err != nil || v.String() != tc.want {
			t.Errorf("ParseVersion(%q) = %s, %v; want %s", tc.in, v, err, tc.want)
		}
	}
}

func TestParseNativeVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" = refused
	}{
		{"1.2.3", "1.2.3"},
		{"1", "1.0.0"},
		{"1.2", "1.2.0"},
		{"v1", "1.0.0"},
		{"v1.2", "1.2.0"},
		{"v1.2.3-rc.1", "1.2.3-rc.1"},
		{"1.2.3+42", "1.2.3+42"},
		{"0", "0.0.0"},
		{"", ""},
		{"v", ""},
		{"vv1", ""},
		{"V1.2", ""},
		{"1.", ""},
		{".1", ""},
		{"1.2-beta", ""}, // shorthand only without suffix, as Capgo
		{"1-beta", ""},   //
		{"1.2+b", ""},    //
		{"01.2", ""},     // leading zero
		{"1.2.3.4", ""},  //
		{"1.2 ", ""},     //
		{"unknown", ""},  //
		{"builtin", ""},  //
		{"2024.10", "2024.10.0"},
		{strings.Repeat("1", 65), ""},
		{"v" + strings.Repeat("1", 63), ""}, // cap counts the prefix: 64 bytes in, 63 digits = overflow
	} {
		v, err := ParseNativeVersion(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseNativeVersion(%q) = %s, want error", tc.in, v)
			}
			continue
		}
		if err != nil || v.String() != tc.want {
			t.Errorf("ParseNativeVersion(%q) = %s, %v; want %s", tc.in, v, err, tc.want)
		}
	}
}

func TestVersionCompare(t *testing.T) {
	ordered := []string{"0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0"}
	for i := range ordered {
		for j := range ordered {
			a, b := MustParseVersion(ordered[i]), MustParseVersion(ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	if MustParseVersion("1.0.0+a").Compare(MustParseVersion("1.0.0+b")) != 0 {
		t.Error("build metadata changed the order")
	}
	v := MustParseVersion("3.4.5-x+y")
	if v.Major() != 3 || v.Minor() != 4 || v.Patch() != 5 || v.Prerelease() != "x" || v.Build() != "y" {
		t.Errorf("accessors of %s wrong", v)
	}
	if (Version{}).String() != "0.0.0" {
		t.Error("zero Version is not 0.0.0")
	}
}

// TestParseVersionLinear: hostile input is refused quickly.
func TestParseVersionLinear(t *testing.T) {
	inputs := []string{
		strings.Repeat("1", 10_000),
		"1.2.3-" + strings.Repeat("a.", 5000),
		strings.Repeat(".", 10_000),
		strings.Repeat("1.", 30) + "1",
	}
	for _, in := range inputs {
		start := time.Now()
		_, err1 := ParseVersion(in)
		_, err2 := ParseNativeVersion(in)
		if err1 == nil || err2 == nil {
			t.Errorf("accepted %d-byte hostile input", len(in))
		}
		if d := time.Since(start); d > 10*time.Millisecond {
			t.Errorf("%d-byte input took %v", len(in), d)
		}
	}
}

func FuzzSemver(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.2", "v1", "1.2.3-rc.1+b", "", "01.2.3", "1.2.3-", "9999999999999999999999.0.0", "v1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err == nil {
			if len(s) > MaxVersionLen {
				t.Fatalf("accepted %d bytes", len(s))
			}
			// Strict versions are already canonical.
			if v.String() != s {
				t.Fatalf("ParseVersion(%q).String() = %q", s, v.String())
			}
		}
		n, err := ParseNativeVersion(s)
		if err == nil {
			if len(s) > MaxVersionLen {
				t.Fatalf("native accepted %d bytes", len(s))
			}
			// The canonical form parses strictly to the same version.
			again, err := ParseVersion(n.String())
			if err != nil || again.Compare(n) != 0 {
				t.Fatalf("canonical %q of %q does not round-trip: %v", n.String(), s, err)
			}
		}
	})
}
