package delta

import (
	"fmt"
	"math"
)

// Bundle patches. A bundle patch rebuilds several files at once: its "old"
// is the concatenation of a list of files the device has (the dictionary),
// its "new" the concatenation of the files it lacks, and the output is
// split back into files by their sizes. Any Codec encodes one; both sides
// must agree on the two lists and their order (the plan states them).

// EncodeBundle encodes entries, concatenated, against dict, concatenated,
// with c. The result is an ordinary patch of c: Apply on the concatenated
// dictionary gives the concatenated entries. Errors are c's (ErrTooLarge
// beyond its limits).
func EncodeBundle(c Codec, dict, entries [][]byte) ([]byte, error) {
	old, err := concat(dict)
	if err != nil {
		return nil, err
	}
	new, err := concat(entries)
	if err != nil {
		return nil, err
	}
	return c.Encode(old, new)
}

// ApplyBundle applies a bundle patch made by EncodeBundle: it concatenates
// dict, applies patch with c, and splits the output into files of the given
// sizes, which must account for every byte (ErrCorrupt otherwise). Output
// beyond the sum of sizes is ErrOutputLimit. The files share one buffer;
// callers must still hash each against its manifest entry.
func ApplyBundle(c Codec, dict [][]byte, patch []byte, sizes []int64) ([][]byte, error) {
	var total int64
	for _, n := range sizes {
		if n < 0 || n > math.MaxInt64-total {
			return nil, fmt.Errorf("delta: bundle: bad entry size %d", n)
		}
		total += n
	}
	old, err := concat(dict)
	if err != nil {
		return nil, err
	}
	out, err := c.Apply(old, patch, total)
	if err != nil {
		return nil, err
	}
	if int64(len(out)) != total {
		return nil, fmt.Errorf("%w: bundle: patch gives %d bytes, the entries hold %d", ErrCorrupt, len(out), total)
	}
	files := make([][]byte, len(sizes))
	var at int64
	for i, n := range sizes {
		files[i] = out[at : at+n : at+n]
		at += n
	}
	return files, nil
}

// BundleSize is the length of the concatenation of parts.
func BundleSize(parts [][]byte) int64 {
	var n int64
	for _, p := range parts {
		n += int64(len(p))
	}
	return n
}

// concat joins parts into one new buffer; when there is one part or none it
// returns it as is.
func concat(parts [][]byte) ([]byte, error) {
	switch len(parts) {
	case 0:
		return nil, nil
	case 1:
		return parts[0], nil
	}
	n := BundleSize(parts)
	if n > math.MaxInt32*2 { // beyond any codec's window; refuse before allocating
		return nil, fmt.Errorf("delta: bundle: %d bytes: %w", n, ErrTooLarge)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b, nil
}
