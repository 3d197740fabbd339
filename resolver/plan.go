package resolver

import (
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/patchwire/patchwire/manifest"
)

// The changes between two bundles: how a device running one bundle (From)
// gets to another (To). NewChanges compares the two manifests: files kept
// (implied), copied from elsewhere in From, removed, and the rest to
// deliver, each paired with the file of From it most likely evolved from
// (same path, the same name once its content hash is stripped, or similar
// size), and the order in which From's files form a bundle patch's
// dictionary. This depends on the two manifests only, so every device
// taking the step gets the same patches; the server turns it into a step
// object (server/patcher/step.go) with one bundle patch, or whole objects,
// whichever the device downloads less with.
//
// The bundle layout (which files of From form the dictionary, in which
// order, and which files of To the patch carries) is part of the identity
// of every bundle patch ever made, under URLs that CDNs cache forever:
// it is frozen. A different layout must use other codec names.

// PatchKey names a patch by what it connects. Bundle patches connect
// manifest digests; per-file patches connect file digests. The same codec
// and digests never name two different patches of the same kind.
type PatchKey struct {
	Codec  string
	From   manifest.Digest
	To     manifest.Digest
	Bundle bool // a bundle patch (manifest digests), else a per-file patch
}

// PatchRef is a stored patch: its codec, the SHA-256 of its bytes and its
// size.
type PatchRef struct {
	Codec  string
	Digest manifest.Digest
	Size   int64
}

// Copy is a target file whose bytes the device already has at Source, a
// path of From.
type Copy struct {
	Entry  manifest.Entry
	Source string
}

// Delivery is a target file the device lacks. Base, when HasBase, is the
// file of From it most likely evolved from: the base of a per-file patch
// and the file placed last in a bundle patch's dictionary, in line with it.
type Delivery struct {
	Entry   manifest.Entry
	Base    manifest.Entry
	HasBase bool
}

// Changes is what turns From into To, path by path, and the layout of a
// bundle patch between them. Build it with NewChanges; treat it as
// immutable.
type Changes struct {
	From, To manifest.Digest
	// FromKnown is false when the device's bundle is unknown: From is then
	// the empty manifest and everything is delivered whole.
	FromKnown bool
	// Target describes To.
	TargetFiles int
	TargetSize  int64
	// Kept counts target files the device has at the same path.
	Kept int
	// Removed are the paths of From absent from To, in path order.
	Removed []string
	// Copies are target files with bytes found under another path of From.
	Copies []Copy
	// Deliver are the other target files, in target (path) order: the
	// entries of a bundle patch, in this order.
	Deliver []Delivery
	// Bases are the paths in From of the delivered files' bases, in
	// delivery order: with From they fix the dictionary.
	Bases []string
	// Dictionary is a bundle patch's dictionary, manifest.DictionaryOrder
	// of From and Bases: each distinct file of From once, those that are no
	// delivered file's base first (path order), then the bases in the
	// order of the files they line up with.
	Dictionary     []manifest.Entry
	DictionarySize int64
	// DeliverSize is the sum of the delivered files' sizes.
	DeliverSize int64
}

// NewChanges compares from, the device's current bundle, with to, its
// target. A nil from means the device's bundle is unknown: the changes
// then start from the empty manifest, with nothing to pair or copy.
//
// Renamed files are paired by name: a path of To absent from From and a
// removed path of From pair when they are in the same folder and differ
// in exactly one name segment (separated by '-' or '.') of the same
// length, at least 6 characters of [A-Za-z0-9_], and the pair is unique on
// both sides: a content-hashed chunk (Vite's assets/index-3f2a1b.js →
// assets/index-9c8d7e.js, webpack's main.3f2a1b4c.js, Stencil's
// p-3f2a1b4c.entry.js). Files still unpaired take the unused removed file
// of the same extension closest in size, within a factor of 2.
func NewChanges(from, to *manifest.Manifest) *Changes {
	c := &Changes{To: to.Digest(), FromKnown: from != nil, TargetFiles: to.Len(), TargetSize: to.TotalSize()}
	if from == nil {
		from = &manifest.Manifest{}
	}
	c.From = from.Digest()
	fromEs, toEs := from.Entries(), to.Entries()

	byDigest := make(map[manifest.Digest]string, len(fromEs))
	for _, e := range fromEs {
		if _, ok := byDigest[e.Digest]; !ok {
			byDigest[e.Digest] = e.Path
		}
	}
	// Walk both path-sorted lists once.
	var removed []manifest.Entry
	i, j := 0, 0
	for i < len(fromEs) || j < len(toEs) {
		switch {
		case j == len(toEs) || (i < len(fromEs) && fromEs[i].Path < toEs[j].Path):
			removed = append(removed, fromEs[i])
			c.Removed = append(c.Removed, fromEs[i].Path)
			i++
		case i == len(fromEs) || toEs[j].Path < fromEs[i].Path:
			c.place(toEs[j], manifest.Entry{}, false, byDigest)
			j++
		default:
			if fromEs[i].Digest == toEs[j].Digest && fromEs[i].Size == toEs[j].Size {
				c.Kept++
			} else {
				c.place(toEs[j], fromEs[i], true, byDigest)
			}
			i++
			j++
		}
	}
	pairRenames(c.Deliver, removed)
	c.layout(from)
	return c
}

// place records target entry e: a copy when From has its bytes, else a
// delivery (with base when same is set).
func (c *Changes) place(e, same manifest.Entry, hasSame bool, byDigest map[manifest.Digest]string) {
	if src, ok := byDigest[e.Digest]; ok {
		c.Copies = append(c.Copies, Copy{Entry: e, Source: src})
		return
	}
	c.Deliver = append(c.Deliver, Delivery{Entry: e, Base: same, HasBase: hasSame})
	c.DeliverSize += e.Size
}

// layout orders the dictionary with manifest.DictionaryOrder: From's
// distinct files that are nobody's base in path order, then the bases in
// delivery order, so each base sits at the same distance before the file
// it lines up with and the bases are the closest history when the patch
// starts. The device computes the same order from Bases.
func (c *Changes) layout(from *manifest.Manifest) {
	c.Bases = nil
	for _, d := range c.Deliver {
		if d.HasBase {
			c.Bases = append(c.Bases, d.Base.Path)
		}
	}
	dict, err := manifest.DictionaryOrder(from, c.Bases)
	if err != nil {
		panic("resolver: a base outside From: " + err.Error()) // bases come from From
	}
	c.Dictionary, c.DictionarySize = dict, 0
	for _, e := range dict {
		c.DictionarySize += e.Size
	}
}

// minHashToken is the shortest name segment taken for a content hash.
const minHashToken = 6

// renameKeys returns the keys under which p may pair with a renamed file:
// for each name segment that may be a hash (last first), the folder and
// the name with that segment replaced by its length.
func renameKeys(p string) []string {
	dir, name := path.Split(p)
	var keys []string
	end := len(name)
	for k := len(name) - 1; k >= -1; k-- {
		if k >= 0 && name[k] != '-' && name[k] != '.' {
			continue
		}
		if seg := name[k+1 : end]; len(seg) >= minHashToken && hashChars(seg) {
			keys = append(keys, dir+"\x00"+name[:k+1]+"\x01"+strconv.Itoa(len(seg))+"\x01"+name[end:])
		}
		end = k
	}
	return keys
}

// hashChars reports whether s is made of [A-Za-z0-9_] and holds a digit or
// an upper-case letter, as content hashes (hex, base32, base64url) almost
// always do and lower-case words never.
func hashChars(s string) bool {
	marked := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'A' <= c && c <= 'Z':
			marked = true
		case 'a' <= c && c <= 'z', c == '_':
		default:
			return false
		}
	}
	return marked
}

// pairRenames gives a base to the deliveries without one: first by name
// with a hash token stripped, then by size among files of the same
// extension. Each removed file is the base of at most one delivery.
func pairRenames(ds []Delivery, removed []manifest.Entry) {
	if len(removed) == 0 {
		return
	}
	used := make([]bool, len(removed))
	oldByKey := map[string][]int{}
	for i, e := range removed {
		for _, k := range renameKeys(e.Path) {
			oldByKey[k] = append(oldByKey[k], i)
		}
	}
	newByKey := map[string]int{}
	var newKeys [][]string
	for i := range ds {
		var ks []string
		if !ds[i].HasBase {
			ks = renameKeys(ds[i].Entry.Path)
			for _, k := range ks {
				newByKey[k]++
			}
		}
		newKeys = append(newKeys, ks)
	}
	for i := range ds {
		for _, k := range newKeys[i] {
			olds := oldByKey[k]
			if len(olds) == 1 && newByKey[k] == 1 && !used[olds[0]] {
				used[olds[0]] = true
				ds[i].Base, ds[i].HasBase = removed[olds[0]], true
				break
			}
		}
	}

	// Size similarity, largest deliveries first (they matter most).
	byExt := map[string][]int{}
	for i, e := range removed {
		if !used[i] && e.Size > 0 {
			x := ext(e.Path)
			byExt[x] = append(byExt[x], i)
		}
	}
	for _, idx := range byExt {
		sort.SliceStable(idx, func(a, b int) bool { return removed[idx[a]].Size < removed[idx[b]].Size })
	}
	var order []int
	for i := range ds {
		if !ds[i].HasBase && ds[i].Entry.Size > 0 {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return ds[order[a]].Entry.Size > ds[order[b]].Entry.Size })
	for _, i := range order {
		e := ds[i].Entry
		cands := byExt[ext(e.Path)]
		at := sort.Search(len(cands), func(k int) bool { return removed[cands[k]].Size >= e.Size })
		best, bestDist := -1, math.Inf(1)
		// The nearest unused candidate on each side, looking a bounded
		// number of places.
		for _, step := range []int{-1, 1} {
			k := at
			if step < 0 {
				k = at - 1
			}
			for n := 0; k >= 0 && k < len(cands) && n < 64; k, n = k+step, n+1 {
				o := cands[k]
				if used[o] {
					continue
				}
				if dist := math.Abs(math.Log(float64(removed[o].Size) / float64(e.Size))); dist < bestDist {
					best, bestDist = o, dist
				}
				break
			}
		}
		if best >= 0 && bestDist <= math.Ln2 {
			used[best] = true
			ds[i].Base, ds[i].HasBase = removed[best], true
		}
	}
}

// ext is the last extension of p's name ("" when none), lower-cased.
func ext(p string) string {
	return strings.ToLower(path.Ext(p))
}

// PatchKeys lists every patch that could serve these changes for a device
// that applies codecs: a bundle patch per codec (when there is something
// to deliver and From is known) and a per-file patch per codec for each
// delivery with a base. The caller drops those it will never make.
func (c *Changes) PatchKeys(codecs []string) []PatchKey {
	var keys []PatchKey
	if !c.FromKnown || len(c.Deliver) == 0 {
		return nil
	}
	for _, codec := range codecs {
		keys = append(keys, PatchKey{Codec: codec, From: c.From, To: c.To, Bundle: true})
	}
	for _, d := range c.Deliver {
		if !d.HasBase {
			continue
		}
		for _, codec := range codecs {
			keys = append(keys, PatchKey{Codec: codec, From: d.Base.Digest, To: d.Entry.Digest})
		}
	}
	return keys
}
