package delta

// Suffix sorting for bsdiff by induced sorting (SA-IS: Nong, Zhang and
// Chan, "Two efficient algorithms for linear time suffix array
// construction", 2011), written from the paper's description.
//
// bsdiff 4.3 uses Larsson and Sadakane's qsufsort, which is O(n log n) and
// slow on repetitive text such as JavaScript bundles (minutes for 16 MB).
// A suffix array is unique, so any correct construction yields bsdiff's
// exact output; SA-IS is linear. Positions are int32, so old must be
// shorter than 1<<31-1 bytes. Memory: 8 bytes per byte of old (the text as
// int32 with a sentinel, and the array), plus a bit per byte.

// suffixArray returns the suffix array of buf including the empty suffix,
// which sorts first: sa[0] == len(buf), as bsdiff's search expects.
func suffixArray(buf []byte) []int32 {
	n := len(buf)
	s := make([]int32, n+1)
	for i, c := range buf {
		s[i] = int32(c) + 1
	}
	// s[n] = 0 is the sentinel.
	sa := make([]int32, n+1)
	sais(s, sa, 256)
	return sa
}

// bitset is a fixed-size set of bits: the S/L type of each position.
type bitset []uint64

func newBitset(n int32) bitset        { return make(bitset, (n+63)/64) }
func (b bitset) get(i int32) bool     { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) set(i int32)          { b[i>>6] |= 1 << (i & 63) }
func (b bitset) isLMS(i int32) bool   { return i > 0 && b.get(i) && !b.get(i-1) }
func (b bitset) sType(i int32) bool   { return b.get(i) }
func (b bitset) lType(i int32) bool   { return !b.get(i) }
func (b bitset) same(i, j int32) bool { return b.get(i) == b.get(j) }

// sais writes the suffix array of s into sa (len(sa) == len(s)). s must end
// with a unique sentinel 0, and every other value must be in [1, k].
func sais(s, sa []int32, k int32) {
	n := int32(len(s))
	if n == 1 {
		sa[0] = 0
		return
	}

	// Types: S if s[i:] < s[i+1:], else L. The sentinel is S; the
	// character before it is L.
	t := newBitset(n)
	t.set(n - 1)
	for i := n - 3; i >= 0; i-- {
		if s[i] < s[i+1] || s[i] == s[i+1] && t.sType(i+1) {
			t.set(i)
		}
	}

	// Stage 1: sort the LMS substrings by induction from their buckets.
	bkt := make([]int32, k+1)
	bucketEnds(s, bkt)
	for i := range sa {
		sa[i] = -1
	}
	for i := int32(1); i < n; i++ {
		if t.isLMS(i) {
			bkt[s[i]]--
			sa[bkt[s[i]]] = i
		}
	}
	induce(s, sa, t, bkt)

	// Compact the sorted LMS substrings into sa[:n1] (n1 ≤ n/2) and name
	// them: equal substrings get equal names. Names go to sa[n1+pos/2]
	// (LMS positions are at least 2 apart), then are packed to the end.
	n1 := int32(0)
	for i := int32(0); i < n; i++ {
		if t.isLMS(sa[i]) {
			sa[n1] = sa[i]
			n1++
		}
	}
	for i := n1; i < n; i++ {
		sa[i] = -1
	}
	name, prev := int32(0), int32(-1)
	for i := int32(0); i < n1; i++ {
		pos := sa[i]
		diff := prev == -1
		for d := int32(0); !diff; d++ {
			if s[pos+d] != s[prev+d] || !t.same(pos+d, prev+d) {
				diff = true
			} else if d > 0 && (t.isLMS(pos+d) || t.isLMS(prev+d)) {
				break
			}
		}
		if diff {
			name++
			prev = pos
		}
		sa[n1+pos/2] = name - 1
	}
	for i, j := n-1, n-1; i >= n1; i-- {
		if sa[i] >= 0 {
			sa[j] = sa[i]
			j--
		}
	}

	// Stage 2: sort the reduced string s1 (the names in text order) into
	// sa1, recursing only if names are not unique.
	s1, sa1 := sa[n-n1:], sa[:n1]
	if name < n1 {
		sais(s1, sa1, name-1)
	} else {
		for i := int32(0); i < n1; i++ {
			sa1[s1[i]] = i
		}
	}

	// Stage 3: place the LMS suffixes in sorted order at their bucket
	// ends, and induce every other suffix from them.
	j := int32(0)
	for i := int32(1); i < n; i++ {
		if t.isLMS(i) {
			s1[j] = i
			j++
		}
	}
	for i := int32(0); i < n1; i++ {
		sa1[i] = s1[sa1[i]]
	}
	for i := n1; i < n; i++ {
		sa[i] = -1
	}
	bucketEnds(s, bkt)
	for i := n1 - 1; i >= 0; i-- {
		p := sa[i]
		sa[i] = -1
		bkt[s[p]]--
		sa[bkt[s[p]]] = p
	}
	induce(s, sa, t, bkt)
}

// induce fills in the L-type suffixes left to right from bucket starts,
// then the S-type ones right to left from bucket ends.
func induce(s, sa []int32, t bitset, bkt []int32) {
	bucketStarts(s, bkt)
	for i := range sa {
		if j := sa[i] - 1; j >= 0 && t.lType(j) {
			sa[bkt[s[j]]] = j
			bkt[s[j]]++
		}
	}
	bucketEnds(s, bkt)
	for i := len(sa) - 1; i >= 0; i-- {
		if j := sa[i] - 1; j >= 0 && t.sType(j) {
			bkt[s[j]]--
			sa[bkt[s[j]]] = j
		}
	}
}

func bucketCounts(s, bkt []int32) {
	clear(bkt)
	for _, c := range s {
		bkt[c]++
	}
}

// bucketStarts sets bkt[c] to the first index of c's bucket.
func bucketStarts(s, bkt []int32) {
	bucketCounts(s, bkt)
	sum := int32(0)
	for c, n := range bkt {
		bkt[c] = sum
		sum += n
	}
}

// bucketEnds sets bkt[c] to one past the last index of c's bucket.
func bucketEnds(s, bkt []int32) {
	bucketCounts(s, bkt)
	sum := int32(0)
	for c, n := range bkt {
		sum += n
		bkt[c] = sum
	}
}
