package resolver

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// MaxVersionLen is the longest version string, in bytes, any parser here
// accepts. Longer input is refused before it is looked at.
const MaxVersionLen = 64

// ErrVersion is wrapped by every error ParseVersion and ParseNativeVersion
// return, so callers can branch with errors.Is.
var ErrVersion = errors.New("invalid version")

// Version is a parsed semantic version (semver 2.0.0). The zero value is
// 0.0.0. Compare it with Compare; build metadata never affects order.
type Version struct {
	sv semver.Version
}

// ParseVersion accepts exactly one form: a semver 2.0.0 string
// MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] of at most MaxVersionLen bytes,
// numeric parts without leading zeros and within uint64, ASCII only. It
// refuses a "v" prefix, shorthands such as "1.2", spaces and empty
// identifiers ("1.2.3-"). Use it for bundle versions, min_update_version and
// plugin_version: things a person or tool chose and that must have one
// spelling. The parser is linear and does not use regular expressions.
func ParseVersion(s string) (Version, error) {
	if len(s) > MaxVersionLen {
		return Version{}, fmt.Errorf("%w: %d bytes, more than %d", ErrVersion, len(s), MaxVersionLen)
	}
	if s == "" {
		return Version{}, fmt.Errorf("%w: empty", ErrVersion)
	}
	sv, err := semver.StrictNewVersion(s)
	if err != nil {
		return Version{}, fmt.Errorf("%w: %q: %v", ErrVersion, s, err)
	}
	return Version{sv: *sv}, nil
}

// ParseNativeVersion parses a device's native app version (version_build)
// the way the Capgo backend coerces it (protocol §1, [BE] fixSemver + std
// semver parse), and nothing looser:
//
//   - at most MaxVersionLen bytes, checked before anything else;
//   - one optional lower-case "v" prefix is dropped ("v1.2.3" = "1.2.3";
//     "V1.2.3" and "vv1" are refused);
//   - a core of one or two numeric parts without a prerelease or build
//     suffix is padded with ".0": "1" = "1.0.0", "1.2" = "1.2.0";
//   - everything else must then be strict semver as ParseVersion says
//     ("1.2-beta", "1.2.3.4", "01.2.3", " 1.2.3" are refused).
//
// The result's String is the canonical form the rest of the decision uses
// (and which replaces version_name "builtin").
func ParseNativeVersion(s string) (Version, error) {
	if len(s) > MaxVersionLen {
		return Version{}, fmt.Errorf("%w: %d bytes, more than %d", ErrVersion, len(s), MaxVersionLen)
	}
	raw := s
	s = strings.TrimPrefix(s, "v")
	if !strings.ContainsAny(s, "-+") {
		switch strings.Count(s, ".") {
		case 0:
			s += ".0.0"
		case 1:
			s += ".0"
		}
	}
	v, err := ParseVersion(s)
	if err != nil {
		return Version{}, fmt.Errorf("%w: native version %q is not semver", ErrVersion, raw)
	}
	return v, nil
}

// MustParseVersion is ParseVersion for constants; it panics on error.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Major returns the major number.
func (v Version) Major() uint64 { return v.sv.Major() }

// Minor returns the minor number.
func (v Version) Minor() uint64 { return v.sv.Minor() }

// Patch returns the patch number.
func (v Version) Patch() uint64 { return v.sv.Patch() }

// Prerelease returns the prerelease identifiers without the leading "-".
func (v Version) Prerelease() string { return v.sv.Prerelease() }

// Build returns the build metadata without the leading "+".
func (v Version) Build() string { return v.sv.Metadata() }

// String returns the canonical form: no "v", all three numbers.
func (v Version) String() string { return v.sv.String() }

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o in
// semver precedence (prereleases before their release, build metadata
// ignored).
func (v Version) Compare(o Version) int { return v.sv.Compare(&o.sv) }

// Less reports whether v sorts before o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// sameCore reports whether v and o have the same major.minor.patch.
func (v Version) sameCore(o Version) bool {
	return v.Major() == o.Major() && v.Minor() == o.Minor() && v.Patch() == o.Patch()
}
