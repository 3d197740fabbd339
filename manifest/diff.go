package manifest

// Changed is a path present in both manifests with other bytes.
type Changed struct {
	Old Entry
	New Entry
}

// Diff is what turns one manifest into another, path by path.
type Diff struct {
	Added     []Entry   // paths only in the new manifest
	Removed   []Entry   // paths only in the old manifest
	Changed   []Changed // paths in both, with another digest or size
	Unchanged int       // paths in both with the same digest and size
}

// Compare returns the diff from old to new. Both lists are walked once in
// path order; the result lists are in path order too.
func Compare(old, new *Manifest) Diff {
	var d Diff
	a, b := old.Entries(), new.Entries()
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Path < b[j].Path):
			d.Removed = append(d.Removed, a[i])
			i++
		case i == len(a) || b[j].Path < a[i].Path:
			d.Added = append(d.Added, b[j])
			j++
		default:
			if a[i].Digest == b[j].Digest && a[i].Size == b[j].Size {
				d.Unchanged++
			} else {
				d.Changed = append(d.Changed, Changed{Old: a[i], New: b[j]})
			}
			i++
			j++
		}
	}
	return d
}

// Apply rebuilds the new manifest from the old one and d. The diff must fit
// old exactly: every removed or changed entry as old has it, every added path
// absent from old. Otherwise Apply refuses with an *Error (CodeBadManifest)
// rather than build a manifest nobody described.
func (d Diff) Apply(old *Manifest, lim Limits) (*Manifest, error) {
	byPath := make(map[string]Entry, old.Len())
	for _, e := range old.Entries() {
		byPath[e.Path] = e
	}
	mismatch := func(path, format string, args ...any) error {
		return errorf(CodeBadManifest, path, "diff does not apply: "+format, args...)
	}
	for _, e := range d.Removed {
		if cur, ok := byPath[e.Path]; !ok || cur != e {
			return nil, mismatch(e.Path, "the removed entry is not in the old manifest")
		}
		delete(byPath, e.Path)
	}
	for _, c := range d.Changed {
		if c.Old.Path != c.New.Path {
			return nil, mismatch(c.New.Path, "a changed entry renames %q", c.Old.Path)
		}
		if cur, ok := byPath[c.Old.Path]; !ok || cur != c.Old {
			return nil, mismatch(c.Old.Path, "the changed entry is not in the old manifest as described")
		}
		byPath[c.New.Path] = c.New
	}
	for _, e := range d.Added {
		if _, ok := byPath[e.Path]; ok {
			return nil, mismatch(e.Path, "the added path is already in the manifest")
		}
		byPath[e.Path] = e
	}
	es := make([]Entry, 0, len(byPath))
	for _, e := range byPath {
		es = append(es, e)
	}
	return New(es, lim)
}
