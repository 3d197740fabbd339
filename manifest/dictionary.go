package manifest

// DictionaryOrder lays out the files of m as the dictionary of a bundle
// patch: each distinct file (by digest) once, first those that are no
// base, in path order, then the bases in the order given (a base named
// twice, or sharing its bytes with an earlier one, is placed once). The
// bases are the old files the patch's new files line up with, so they end
// up closest to the data they predict.
//
// The server and the device both compute it, so a plan names only the
// bases and its size grows with the change, not with the bundle. A base
// that is not a path of m is an *Error with CodeBadManifest.
func DictionaryOrder(m *Manifest, bases []string) ([]Entry, error) {
	isBase := make(map[Digest]bool, len(bases))
	baseEntries := make([]Entry, 0, len(bases))
	for _, p := range bases {
		e, ok := m.Lookup(p)
		if !ok {
			return nil, errorf(CodeBadManifest, p, "dictionary base is not a file of the bundle")
		}
		isBase[e.Digest] = true
		baseEntries = append(baseEntries, e)
	}
	placed := make(map[Digest]bool, m.Len())
	out := make([]Entry, 0, m.Len())
	add := func(e Entry) {
		if !placed[e.Digest] {
			placed[e.Digest] = true
			out = append(out, e)
		}
	}
	for _, e := range m.Entries() {
		if !isBase[e.Digest] {
			add(e)
		}
	}
	for _, e := range baseEntries {
		add(e)
	}
	return out, nil
}
