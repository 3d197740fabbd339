package step

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
)

// Magic opens every step object; its last byte is the format version.
const Magic = "PWS\x01"

// ErrCorrupt reports bytes that are not a step for the given From.
var ErrCorrupt = errors.New("step: corrupt step")

// Kind is how a write gets its bytes.
type Kind uint8

// The kinds of write.
const (
	// Copy takes the bytes of another file of From (Source).
	Copy Kind = iota
	// Patched is rebuilt by the step's bundle patch, from Base when it has
	// one.
	Patched
	// Object is downloaded whole: /o/{Digest}.
	Object
)

// NoBase is Write.Base of a patched file without a base.
const NoBase = -1

// Write is one target file that is not kept as is at its path.
type Write struct {
	Path string
	Kind Kind
	// Source (Copy) and Base (Patched, or NoBase) index From's entries.
	Source int
	Base   int
	// Size is the file's size (Patched, Object; a copy's is its source's).
	Size int64
	// Digest is an object's SHA-256 (Object only).
	Digest manifest.Digest
}

// Step is a decoded step object.
type Step struct {
	// From is the digest of the manifest the step starts from.
	From manifest.Digest
	// Removed indexes the entries of From absent from the target,
	// ascending.
	Removed []int
	// Writes are the target files not kept as is, in path order.
	Writes []Write
	// Codec names the bundle patch's codec; "" when no write is Patched.
	Codec string
	// Patch is the bundle patch.
	Patch []byte
}

// Limits bound what Decode accepts.
type Limits struct {
	// Manifest bounds files, sizes and paths of the target.
	Manifest manifest.Limits
	// MaxListing bounds the decompressed listing, in bytes.
	MaxListing int64
}

// DefaultLimits accept every step of a bundle within manifest's defaults.
func DefaultLimits() Limits {
	lim := manifest.DefaultLimits()
	return Limits{Manifest: lim, MaxListing: int64(lim.MaxFiles) * int64(lim.MaxPathBytes+64)}
}

// pathDictionary is what the listing is compressed against: the paths of
// from joined by '\n'.
func pathDictionary(from *manifest.Manifest) []byte {
	var b bytes.Buffer
	for _, e := range from.Entries() {
		b.WriteString(e.Path)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Encode encodes s, a step starting from from (s.From must be its digest).
func Encode(from *manifest.Manifest, s *Step) ([]byte, error) {
	if s.From != from.Digest() {
		return nil, fmt.Errorf("step: encode: From %s is not the manifest given (%s)", s.From, from.Digest())
	}
	if err := s.check(from, nil); err != nil {
		return nil, err
	}
	var l []byte
	l = binary.AppendUvarint(l, uint64(len(s.Removed)))
	prev := -1
	for _, i := range s.Removed {
		l = binary.AppendUvarint(l, uint64(i-prev-1))
		prev = i
	}
	l = binary.AppendUvarint(l, uint64(len(s.Writes)))
	fes := from.Entries()
	index := make(map[string]int, len(fes))
	for i, e := range fes {
		index[e.Path] = i
	}
	// Columns: paths, kinds, then each kind's numbers, delta-coded.
	for _, w := range s.Writes {
		if i, ok := index[w.Path]; ok {
			// A path of From: its index, after a zero length.
			l = binary.AppendUvarint(l, 0)
			l = binary.AppendUvarint(l, uint64(i))
		} else {
			l = binary.AppendUvarint(l, uint64(len(w.Path)))
			l = append(l, w.Path...)
		}
	}
	for _, w := range s.Writes {
		l = append(l, byte(w.Kind))
	}
	var d deltas
	for _, w := range s.Writes {
		switch w.Kind {
		case Copy:
			l = d.source.append(l, int64(w.Source))
		case Patched:
			l = d.base.append(l, int64(w.Base))
			l = binary.AppendVarint(l, w.Size-baseSize(fes, w.Base))
		case Object:
			l = binary.AppendUvarint(l, uint64(w.Size))
		}
	}
	for _, w := range s.Writes {
		if w.Kind == Object {
			l = append(l, w.Digest[:]...)
		}
	}
	form, listing := byte(listingRaw), l
	z, err := delta.ZstdDict.Encode(pathDictionary(from), l)
	if err != nil {
		return nil, fmt.Errorf("step: encode listing: %w", err)
	}
	if len(z) < len(l) {
		form, listing = listingZstd, z
	}
	out := make([]byte, 0, headerLen+1+len(listing)+len(s.Codec)+len(s.Patch)+16)
	out = append(out, Magic...)
	out = append(out, s.From[:fromPrefix]...)
	out = append(out, form)
	out = binary.AppendUvarint(out, uint64(len(listing)))
	out = append(out, listing...)
	out = binary.AppendUvarint(out, uint64(len(s.Codec)))
	out = append(out, s.Codec...)
	return append(out, s.Patch...), nil
}

// The header: magic and the start's digest prefix; then the listing's form.
const (
	fromPrefix  = 8
	headerLen   = len(Magic) + fromPrefix
	listingRaw  = 0
	listingZstd = 1
)

// StartsFrom reports whether the step in b starts from the manifest whose
// digest is d, reading only its header.
func StartsFrom(b []byte, d manifest.Digest) (bool, error) {
	if len(b) < headerLen || string(b[:len(Magic)]) != Magic {
		return false, fmt.Errorf("%w: no step header", ErrCorrupt)
	}
	return string(b[len(Magic):headerLen]) == string(d[:fromPrefix]), nil
}

// Decode parses a step that starts from from, refusing anything malformed
// or inconsistent with from (ErrCorrupt, or a *manifest.Error for a bad
// path or a limit) before any work proportional to a claimed size.
func Decode(from *manifest.Manifest, b []byte, lim Limits) (*Step, error) {
	fd := from.Digest()
	ok, err := StartsFrom(b, fd)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: it does not start from manifest %s", ErrCorrupt, fd)
	}
	r := reader{b: b[headerLen:]}
	form := r.byte("listing form")
	listing := r.bytes("listing")
	codec := string(r.bytes("codec"))
	if r.err != nil {
		return nil, r.err
	}
	s := &Step{From: fd, Codec: codec, Patch: r.b}
	raw := listing
	switch form {
	case listingRaw:
		if int64(len(raw)) > lim.MaxListing {
			return nil, fmt.Errorf("%w: listing of %d bytes, limit %d", ErrCorrupt, len(raw), lim.MaxListing)
		}
	case listingZstd:
		if raw, err = delta.ZstdDict.Apply(pathDictionary(from), listing, lim.MaxListing); err != nil {
			return nil, fmt.Errorf("%w: listing: %w", ErrCorrupt, err)
		}
	default:
		return nil, fmt.Errorf("%w: listing form %d", ErrCorrupt, form)
	}
	if err := s.parseListing(from, raw, lim); err != nil {
		return nil, err
	}
	if err := s.check(from, &lim.Manifest); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Step) parseListing(from *manifest.Manifest, raw []byte, lim Limits) error {
	r := reader{b: raw}
	n := r.count("removed", from.Len())
	prev := -1
	for k := 0; k < n && r.err == nil; k++ {
		gap := r.uvarint("removed index")
		if gap >= uint64(from.Len()) || prev+1+int(gap) >= from.Len() {
			return fmt.Errorf("%w: removed index beyond the %d files of From", ErrCorrupt, from.Len())
		}
		prev += 1 + int(gap)
		s.Removed = append(s.Removed, prev)
	}
	maxFiles := lim.Manifest.MaxFiles
	if maxFiles <= 0 {
		maxFiles = math.MaxInt32
	}
	n = r.count("writes", maxFiles)
	fes := from.Entries()
	s.Writes = make([]Write, 0, n)
	for k := 0; k < n && r.err == nil; k++ {
		w := Write{Base: NoBase}
		if p := r.bytes("path"); len(p) > 0 {
			w.Path = string(p)
		} else if i := r.index("path index", len(fes)); r.err == nil {
			w.Path = fes[i].Path
		}
		s.Writes = append(s.Writes, w)
	}
	for k := range s.Writes {
		s.Writes[k].Kind = Kind(r.byte("kind"))
	}
	var d deltas
	for k := range s.Writes {
		w := &s.Writes[k]
		switch w.Kind {
		case Copy:
			w.Source = r.index("copy source", len(fes), d.source.read(&r))
		case Patched:
			w.Base = r.index("base", len(fes)+1, d.base.read(&r)+1) - 1
			if r.err == nil {
				w.Size = r.size(r.varint("size") + baseSize(fes, w.Base))
			}
		case Object:
			w.Size = r.size(int64(min(r.uvarint("size"), math.MaxInt64/2)))
		default:
			if r.err == nil {
				return fmt.Errorf("%w: write %q has unknown kind %d", ErrCorrupt, w.Path, w.Kind)
			}
		}
	}
	for k := range s.Writes {
		if w := &s.Writes[k]; w.Kind == Object {
			copy(w.Digest[:], r.take(32, "digest"))
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the listing", ErrCorrupt, len(r.b))
	}
	return nil
}

// check verifies the step against from: indexes in range and ascending,
// writes in strictly ascending path order, none at a removed path, a codec
// exactly when something is patched. With lim it also checks paths and
// sizes (what Decode reads from outside).
func (s *Step) check(from *manifest.Manifest, lim *manifest.Limits) error {
	fes := from.Entries()
	prev := -1
	for _, i := range s.Removed {
		if i <= prev || i >= len(fes) {
			return fmt.Errorf("%w: removed indexes not ascending within From", ErrCorrupt)
		}
		prev = i
	}
	patched := false
	for k, w := range s.Writes {
		if k > 0 && w.Path <= s.Writes[k-1].Path {
			return fmt.Errorf("%w: writes not in ascending path order at %q", ErrCorrupt, w.Path)
		}
		switch w.Kind {
		case Copy:
			if w.Source < 0 || w.Source >= len(fes) {
				return fmt.Errorf("%w: copy source of %q beyond From", ErrCorrupt, w.Path)
			}
		case Patched:
			patched = true
			if w.Base < NoBase || w.Base >= len(fes) {
				return fmt.Errorf("%w: base of %q beyond From", ErrCorrupt, w.Path)
			}
		case Object:
		default:
			return fmt.Errorf("%w: write %q has unknown kind %d", ErrCorrupt, w.Path, w.Kind)
		}
		if w.Size < 0 {
			return fmt.Errorf("%w: negative size of %q", ErrCorrupt, w.Path)
		}
	}
	if patched != (s.Codec != "") {
		return fmt.Errorf("%w: a codec is named exactly when a file is patched", ErrCorrupt)
	}
	if patched {
		if _, ok := delta.Lookup(s.Codec); !ok {
			return fmt.Errorf("%w: unknown codec %q", ErrCorrupt, s.Codec)
		}
	}
	removed := make(map[string]bool, len(s.Removed))
	for _, i := range s.Removed {
		removed[fes[i].Path] = true
	}
	for _, w := range s.Writes {
		if removed[w.Path] {
			return fmt.Errorf("%w: %q is both removed and written", ErrCorrupt, w.Path)
		}
	}
	if lim != nil {
		if _, err := s.target(from, nil, *lim, false); err != nil {
			return err
		}
	}
	return nil
}

// Bases lists the paths of the patched files' bases, in path order of the
// patched files: with From they fix the bundle patch's dictionary.
func (s *Step) Bases(from *manifest.Manifest) []string {
	fes := from.Entries()
	var out []string
	for _, w := range s.Writes {
		if w.Kind == Patched && w.Base != NoBase {
			out = append(out, fes[w.Base].Path)
		}
	}
	return out
}

// Dictionary is the bundle patch's dictionary: the files of From to
// concatenate, in this order.
func (s *Step) Dictionary(from *manifest.Manifest) ([]manifest.Entry, error) {
	return manifest.DictionaryOrder(from, s.Bases(from))
}

// PatchedSizes are the sizes of the patched files, in path order: how the
// bundle patch's output splits.
func (s *Step) PatchedSizes() []int64 {
	var out []int64
	for _, w := range s.Writes {
		if w.Kind == Patched {
			out = append(out, w.Size)
		}
	}
	return out
}

// Target rebuilds the target manifest: From without the removed files,
// with every write in place. patched are the digests of the patched files'
// rebuilt bytes, in path order (as hashed by the device). The caller
// compares the result's digest with the signed one.
func (s *Step) Target(from *manifest.Manifest, patched []manifest.Digest, lim manifest.Limits) (*manifest.Manifest, error) {
	return s.target(from, patched, lim, true)
}

func (s *Step) target(from *manifest.Manifest, patched []manifest.Digest, lim manifest.Limits, withDigests bool) (*manifest.Manifest, error) {
	fes := from.Entries()
	removed := make(map[int]bool, len(s.Removed))
	for _, i := range s.Removed {
		removed[i] = true
	}
	writes := make(map[string]int, len(s.Writes))
	for k, w := range s.Writes {
		writes[w.Path] = k
	}
	es := make([]manifest.Entry, 0, len(fes)+len(s.Writes))
	for i, e := range fes {
		if _, over := writes[e.Path]; !removed[i] && !over {
			es = append(es, e)
		}
	}
	p := 0
	for _, w := range s.Writes {
		e := manifest.Entry{Path: w.Path, Size: w.Size, Digest: w.Digest}
		switch w.Kind {
		case Copy:
			e.Size, e.Digest = fes[w.Source].Size, fes[w.Source].Digest
		case Patched:
			if withDigests {
				if p >= len(patched) {
					return nil, fmt.Errorf("step: %d patched digests given, more patched files", len(patched))
				}
				e.Digest = patched[p]
			} else {
				e.Digest = manifest.Digest{1} // any digest: only the shape is checked
			}
			p++
		}
		es = append(es, e)
	}
	if withDigests && p != len(patched) {
		return nil, fmt.Errorf("step: %d patched digests given for %d patched files", len(patched), p)
	}
	// New sorts and checks paths, sizes and counts.
	m, err := manifest.New(es, lim)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DeliverBytes is what the step makes the device download beyond itself:
// the sizes of the objects it fetches whole (raw sizes; a zstd-accepting
// client may get fewer bytes).
func (s *Step) DeliverBytes() int64 {
	var n int64
	for _, w := range s.Writes {
		if w.Kind == Object {
			n += w.Size
		}
	}
	return n
}

// reader reads the encoding, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or malformed %s", ErrCorrupt, what)
	}
}

func (r *reader) uvarint(what string) uint64 { return readNumber(r, what, binary.Uvarint) }

func (r *reader) varint(what string) int64 { return readNumber(r, what, binary.Varint) }

// readNumber reads one varint with decode (binary.Uvarint or Varint).
func readNumber[T uint64 | int64](r *reader, what string, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) bytes(what string) []byte { return r.take(r.uvarint(what+" length"), what) }

func (r *reader) byte(what string) byte {
	b := r.take(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

// count reads a count of at most max (and at most the bytes left, each
// item taking at least one).
func (r *reader) count(what string, max int) int {
	v := r.uvarint(what + " count")
	if r.err == nil && (v > uint64(max) || v > uint64(len(r.b))) {
		r.err = fmt.Errorf("%w: %d %s, at most %d", ErrCorrupt, v, what, min(max, len(r.b)))
	}
	return int(min(v, uint64(max)))
}

// index checks v, read before, as an index below n.
func (r *reader) index(what string, n int, v ...int64) int {
	var x int64
	if len(v) > 0 {
		x = v[0]
	} else {
		x = int64(min(r.uvarint(what), math.MaxInt64))
	}
	if r.err == nil && (x < 0 || x >= int64(n)) {
		r.err = fmt.Errorf("%w: %s %d beyond %d", ErrCorrupt, what, x, n)
	}
	return int(max(0, min(x, int64(n))))
}

// size checks v as a file size.
func (r *reader) size(v int64) int64 {
	if r.err == nil && (v < 0 || v > math.MaxInt64/2) {
		r.err = fmt.Errorf("%w: size %d", ErrCorrupt, v)
	}
	return max(0, min(v, math.MaxInt64/2))
}

// deltas are the running values numbers in the listing are coded against:
// each is written as the zig-zag difference from the previous one of its
// column, so runs of neighbouring indexes cost a byte each.
type deltas struct{ source, base running }

type running struct{ prev int64 }

func (d *running) append(b []byte, v int64) []byte {
	b = binary.AppendVarint(b, v-d.prev)
	d.prev = v
	return b
}

func (d *running) read(r *reader) int64 {
	v := r.varint("index")
	if v > math.MaxInt32 || v < -math.MaxInt32 {
		r.fail("index")
		return 0
	}
	d.prev += v
	return d.prev
}

// baseSize is the size of From's entry i, 0 for NoBase: what a patched
// file's size is coded against.
func baseSize(fes []manifest.Entry, i int) int64 {
	if i < 0 || i >= len(fes) {
		return 0
	}
	return fes[i].Size
}

// String describes the step in a line, for logs and tests.
func (s *Step) String() string {
	var n [3]int
	for _, w := range s.Writes {
		n[w.Kind]++
	}
	return strings.TrimSpace(fmt.Sprintf("step from %.12s: %d removed, %d copied, %d patched (%s, %d B), %d objects",
		s.From, len(s.Removed), n[Copy], n[Patched], s.Codec, len(s.Patch), n[Object]))
}

// Apply runs the bundle patch over dict, the contents of Dictionary's
// files in its order, and returns the patched files' bytes in path order.
// The caller hashes each (Target takes the digests).
func (s *Step) Apply(dict [][]byte) ([][]byte, error) {
	if s.Codec == "" {
		return nil, nil
	}
	c, ok := delta.Lookup(s.Codec)
	if !ok {
		return nil, fmt.Errorf("%w: unknown codec %q", ErrCorrupt, s.Codec)
	}
	return delta.ApplyBundle(c, dict, s.Patch, s.PatchedSizes())
}

// Rebuild applies s to from in memory: read returns the bytes of a file of
// From (the caller verifies them), the bundle patch rebuilds the patched
// files, and each is hashed. It returns the target manifest (to compare
// with the signed digest) and the patched files' bytes by digest. Objects
// (Kind Object) are the caller's to fetch; the manifest already names them.
func (s *Step) Rebuild(from *manifest.Manifest, read func(manifest.Entry) ([]byte, error), lim manifest.Limits) (*manifest.Manifest, map[manifest.Digest][]byte, error) {
	var dict [][]byte
	if s.Codec != "" {
		es, err := s.Dictionary(from)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range es {
			b, err := read(e)
			if err != nil {
				return nil, nil, err
			}
			dict = append(dict, b)
		}
	}
	files, err := s.Apply(dict)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[manifest.Digest][]byte, len(files))
	ds := make([]manifest.Digest, len(files))
	for i, f := range files {
		ds[i] = manifest.Sum(f)
		out[ds[i]] = f
	}
	m, err := s.Target(from, ds, lim)
	if err != nil {
		return nil, nil, err
	}
	return m, out, nil
}
