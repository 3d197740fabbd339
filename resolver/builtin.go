package resolver

import "github.com/patchwire/patchwire/manifest"

// BuiltinBundle returns the live bundle registered as the one shipped
// inside the app-store builds of nativeVersion (`bundle upload --builtin
// --native-version V`). Native versions match as ParseNativeVersion reads
// them ("1.4" is "1.4.0"), else exactly. When several bundles are
// registered for one native version, the highest version wins.
func (s Snapshot) BuiltinBundle(nativeVersion string) (Bundle, bool) {
	want, werr := ParseNativeVersion(nativeVersion)
	var best Bundle
	var bestV Version
	found := false
	for _, b := range s.builtinCandidates() {
		if !b.Builtin || b.Deleted || b.Manifest.IsZero() {
			continue
		}
		if got, err := ParseNativeVersion(b.NativeVersion); werr == nil && err == nil {
			if got.Compare(want) != 0 {
				continue
			}
		} else if b.NativeVersion != nativeVersion {
			continue
		}
		v, err := ParseVersion(b.Version)
		if err != nil {
			continue
		}
		if !found || bestV.Less(v) {
			best, bestV, found = b, v, true
		}
	}
	return best, found
}

// RunningBundle is the bundle a device runs as far as the server knows:
// version_name, except that a device on "builtin" whose native version has
// a registered builtin bundle runs that bundle's version.
func (s Snapshot) RunningBundle(versionName, nativeVersion string) string {
	if versionName == Builtin {
		if b, ok := s.BuiltinBundle(nativeVersion); ok {
			return b.Version
		}
	}
	return versionName
}

// RunningManifest is the manifest a device runs as far as the server
// knows: the one it reports, when one of the app's live bundles has it;
// else, for a device on "builtin", the registered builtin bundle of its
// native version (so a device that cannot report a digest still gets a
// patch for its first update); else false (unknown: everything is sent).
func (s Snapshot) RunningManifest(versionName, nativeVersion string, reported manifest.Digest) (manifest.Digest, bool) {
	if !reported.IsZero() && s.hasLive(reported) {
		return reported, true
	}
	if versionName == Builtin {
		if b, ok := s.BuiltinBundle(nativeVersion); ok {
			return b.Manifest, true
		}
	}
	return manifest.Digest{}, false
}

// builtinCandidates are the bundles BuiltinBundle looks at: the indexed
// builtins, else every bundle.
func (s Snapshot) builtinCandidates() []Bundle {
	if s.idx != nil {
		return s.idx.builtins
	}
	out := make([]Bundle, 0, len(s.Bundles))
	for _, b := range s.Bundles {
		out = append(out, b)
	}
	return out
}

// hasLive reports whether one of the live bundles has manifest d.
func (s Snapshot) hasLive(d manifest.Digest) bool {
	if s.idx != nil {
		_, ok := s.idx.live[d]
		return ok
	}
	for _, b := range s.Bundles {
		if b.Manifest == d && !b.Deleted {
			return true
		}
	}
	return false
}
