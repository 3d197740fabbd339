package manifest

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Entry is one file of a bundle.
type Entry struct {
	Path   string `json:"path"`
	Digest Digest `json:"sha256"`
	Size   int64  `json:"size"`
}

// Manifest is a bundle version: its entries sorted by path (byte order), each
// path unique, also after case folding. Build one with New or Decode; the
// zero value is the empty manifest. Treat a Manifest as immutable.
type Manifest struct {
	entries []Entry
}

// New validates entries against lim and returns them as a Manifest sorted by
// path. It refuses unsafe paths, duplicates, case-fold collisions, negative
// sizes and more files or bytes than lim allows. entries is not modified.
func New(entries []Entry, lim Limits) (*Manifest, error) {
	if lim.MaxFiles > 0 && len(entries) > lim.MaxFiles {
		return nil, errorf(CodeTooManyFiles, "", "%d files, more than the limit of %d", len(entries), lim.MaxFiles)
	}
	es := append([]Entry(nil), entries...)
	sort.Slice(es, func(i, j int) bool { return es[i].Path < es[j].Path })
	if err := check(es, lim); err != nil {
		return nil, err
	}
	return &Manifest{entries: es}, nil
}

// check validates sorted entries: each path safe, unique, also after case
// folding, never both a file and the folder of another file; sizes within
// lim.
func check(es []Entry, lim Limits) error {
	folded := make(map[string]string, len(es))
	keys := make([]string, len(es))
	var total int64
	for i, e := range es {
		if err := ValidatePath(e.Path, lim); err != nil {
			return err
		}
		if i > 0 && es[i-1].Path == e.Path {
			return errorf(CodeDuplicatePath, e.Path, "path appears more than once")
		}
		f := FoldPath(e.Path)
		if other, ok := folded[f]; ok {
			return errorf(CodeCaseCollision, e.Path, "path collides with %q on case-insensitive or normalising file systems", other)
		}
		folded[f] = e.Path
		keys[i] = f
		if e.Size < 0 {
			return errorf(CodeBadManifest, e.Path, "negative size %d", e.Size)
		}
		if lim.MaxFileBytes > 0 && e.Size > lim.MaxFileBytes {
			return errorf(CodeTooLarge, e.Path, "file is %d bytes, more than the limit of %d", e.Size, lim.MaxFileBytes)
		}
		// Compare before adding: a huge size must not wrap the total.
		if lim.MaxBundleBytes > 0 && e.Size > lim.MaxBundleBytes-total {
			return errorf(CodeTooLarge, "", "bundle is more than the limit of %d bytes", lim.MaxBundleBytes)
		}
		total += e.Size
	}
	// No file may also be a folder: "a" and "a/b.js" (or "A/b.js") cannot
	// both be written to a device's disk. Folding never adds, removes or
	// moves a '/', so the folded key's prefixes are the folded prefixes.
	for i, e := range es {
		f := keys[i]
		for k, n := 0, 0; k < len(f); k++ {
			if f[k] != '/' {
				continue
			}
			n++
			file, ok := folded[f[:k]]
			if !ok {
				continue
			}
			dir := nthPrefix(e.Path, n)
			if file == dir {
				return errorf(CodeDuplicatePath, e.Path, "path needs %q to be a folder, but %q is also a file", dir, file)
			}
			return errorf(CodeCaseCollision, e.Path, "path needs %q to be a folder, which collides with the file %q on case-insensitive or normalising file systems", dir, file)
		}
	}
	return nil
}

// nthPrefix returns p up to (not including) its n-th '/'.
func nthPrefix(p string, n int) string {
	for k := 0; k < len(p); k++ {
		if p[k] == '/' {
			if n--; n == 0 {
				return p[:k]
			}
		}
	}
	return p
}

// Entries returns the entries sorted by path. The slice is shared: do not modify it.
func (m *Manifest) Entries() []Entry {
	if m == nil {
		return nil
	}
	return m.entries
}

// Len is the number of files.
func (m *Manifest) Len() int { return len(m.Entries()) }

// TotalSize is the sum of the file sizes.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, e := range m.Entries() {
		n += e.Size
	}
	return n
}

// Lookup finds the entry for path.
func (m *Manifest) Lookup(path string) (Entry, bool) {
	es := m.Entries()
	i := sort.Search(len(es), func(i int) bool { return es[i].Path >= path })
	if i < len(es) && es[i].Path == path {
		return es[i], true
	}
	return Entry{}, false
}

// Digests returns each distinct digest once, in first-seen (path) order.
func (m *Manifest) Digests() []Digest {
	seen := make(map[Digest]bool, m.Len())
	var out []Digest
	for _, e := range m.Entries() {
		if !seen[e.Digest] {
			seen[e.Digest] = true
			out = append(out, e.Digest)
		}
	}
	return out
}

// encodingHeader opens every canonical encoding; the version is in it.
const encodingHeader = "patchwire-manifest/1\n"

// Encode returns the canonical encoding: the header line, then one line per
// entry "<sha256 hex> <size> <path>\n" in path order. Equal manifests encode
// to equal bytes, so the encoding's digest names the manifest.
func (m *Manifest) Encode() []byte {
	var b bytes.Buffer
	b.Grow(len(encodingHeader) + m.Len()*100)
	b.WriteString(encodingHeader)
	for _, e := range m.Entries() {
		b.WriteString(e.Digest.String())
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(e.Size, 10))
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Digest is the SHA-256 of the canonical encoding.
func (m *Manifest) Digest() Digest { return Sum(m.Encode()) }

// Decode parses a canonical encoding strictly: the exact header, entries in
// strictly ascending path order, sizes in shortest decimal form, a final
// newline, and everything New checks. Any other bytes are an *Error with
// CodeBadManifest (or the code of the rule broken).
func Decode(b []byte, lim Limits) (*Manifest, error) {
	bad := func(line int, format string, args ...any) error {
		return errorf(CodeBadManifest, "", "line %d: %s", line, fmt.Sprintf(format, args...))
	}
	if !bytes.HasPrefix(b, []byte(encodingHeader)) {
		return nil, bad(1, "missing header %q", strings.TrimSpace(encodingHeader))
	}
	rest := b[len(encodingHeader):]
	if n := bytes.Count(rest, []byte{'\n'}); lim.MaxFiles > 0 && n > lim.MaxFiles {
		return nil, errorf(CodeTooManyFiles, "", "%d files, more than the limit of %d", n, lim.MaxFiles)
	}
	var es []Entry
	for line := 2; len(rest) > 0; line++ {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return nil, bad(line, "no final newline")
		}
		text := string(rest[:nl])
		rest = rest[nl+1:]
		hexDigest, after, ok := strings.Cut(text, " ")
		if !ok {
			return nil, bad(line, "want \"<sha256> <size> <path>\"")
		}
		sizeText, path, ok := strings.Cut(after, " ")
		if !ok {
			return nil, bad(line, "want \"<sha256> <size> <path>\"")
		}
		d, err := ParseDigest(hexDigest)
		if err != nil {
			return nil, bad(line, "%v", err)
		}
		size, err := strconv.ParseInt(sizeText, 10, 64)
		if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeText {
			return nil, bad(line, "size %q is not a non-negative decimal in shortest form", sizeText)
		}
		if len(es) > 0 && es[len(es)-1].Path >= path {
			return nil, bad(line, "path %q is not after %q", path, es[len(es)-1].Path)
		}
		es = append(es, Entry{Path: path, Digest: d, Size: size})
	}
	if err := check(es, lim); err != nil {
		return nil, err
	}
	return &Manifest{entries: es}, nil
}
