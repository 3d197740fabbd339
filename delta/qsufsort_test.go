package delta

// Larsson and Sadakane's qsufsort ("Faster suffix sorting", 1999), the
// suffix sort bsdiff 4.3 uses, written from the published description. The
// package uses SA-IS (sais.go); qsufsort stays here as an independent
// oracle for it, and for the benchmark comparing the two.

// qsufsort returns the suffix array of buf, with the empty suffix at index
// 0 (sa[0] == len(buf)), as bsdiff expects.
func qsufsort(buf []byte) []int32 {
	n := int32(len(buf))
	I := make([]int32, n+1)
	V := make([]int32, n+1)

	// Bucket sort by first byte. buckets[c] ends as the last index of the
	// group of suffixes starting with c (index 0 is the empty suffix).
	var buckets [256]int32
	for _, c := range buf {
		buckets[c]++
	}
	for i := 1; i < 256; i++ {
		buckets[i] += buckets[i-1]
	}
	for i := 255; i > 0; i-- {
		buckets[i] = buckets[i-1]
	}
	buckets[0] = 0
	for i, c := range buf {
		buckets[c]++
		I[buckets[c]] = int32(i)
	}
	I[0] = n
	for i, c := range buf {
		V[i] = buckets[c]
	}
	V[n] = 0
	for i := 1; i < 256; i++ {
		if buckets[i] == buckets[i-1]+1 {
			I[buckets[i]] = -1
		}
	}
	I[0] = -1

	// Prefix doubling: I[i] < 0 marks a run of -I[i] sorted suffixes.
	for h := int32(1); I[0] != -(n + 1); h += h {
		var length int32
		i := int32(0)
		for i < n+1 {
			if I[i] < 0 {
				length -= I[i]
				i -= I[i]
				continue
			}
			if length != 0 {
				I[i-length] = -length
			}
			length = V[I[i]] + 1 - i
			split(I, V, i, length, h)
			i += length
			length = 0
		}
		if length != 0 {
			I[i-length] = -length
		}
	}
	for i := int32(0); i < n+1; i++ {
		I[V[i]] = i
	}
	return I
}

// split sorts the group I[start:start+length] by the rank of the suffix h
// positions further on (a ternary quicksort, insertion-style below 16
// elements) and assigns new group ranks in V.
func split(I, V []int32, start, length, h int32) {
	for {
		if length < 16 {
			var j int32
			for k := start; k < start+length; k += j {
				j = 1
				x := V[I[k]+h]
				for i := int32(1); k+i < start+length; i++ {
					if v := V[I[k+i]+h]; v < x {
						x = v
						j = 0
					}
					if V[I[k+i]+h] == x {
						I[k+j], I[k+i] = I[k+i], I[k+j]
						j++
					}
				}
				for i := int32(0); i < j; i++ {
					V[I[k+i]] = k + j - 1
				}
				if j == 1 {
					I[k] = -1
				}
			}
			return
		}

		x := V[I[start+length/2]+h]
		var jj, kk int32
		for i := start; i < start+length; i++ {
			v := V[I[i]+h]
			if v < x {
				jj++
			}
			if v == x {
				kk++
			}
		}
		jj += start
		kk += jj

		i, j, k := start, int32(0), int32(0)
		for i < jj {
			v := V[I[i]+h]
			switch {
			case v < x:
				i++
			case v == x:
				I[i], I[jj+j] = I[jj+j], I[i]
				j++
			default:
				I[i], I[kk+k] = I[kk+k], I[i]
				k++
			}
		}
		for jj+j < kk {
			if V[I[jj+j]+h] == x {
				j++
			} else {
				I[jj+j], I[kk+k] = I[kk+k], I[jj+j]
				k++
			}
		}

		if jj > start {
			split(I, V, start, jj-start, h)
		}
		for i := int32(0); i < kk-jj; i++ {
			V[I[jj+i]] = kk - 1
		}
		if jj == kk-1 {
			I[jj] = -1
		}

		if start+length <= kk {
			return
		}
		// Tail call: split(I, V, kk, start+length-kk, h).
		length = start + length - kk
		start = kk
	}
}
