// Package step is the format of a step object: all a device needs to turn
// the bundle it runs (From) into a target bundle, as one immutable object
// shared by every device taking the same step. It earns its own package
// because both sides speak it and neither may import the other: the server
// encodes steps, the reference device (client/device) decodes and applies
// them, and api holds wire types only.
//
// A step names the files of From to remove and every target file that is
// not kept as is: a copy of another file of From, a file rebuilt by the
// step's one bundle patch, or an object fetched whole by digest. It carries
// no digest for the files it rebuilds or copies: the device hashes what it
// builds and must arrive at the target manifest digest its signed check
// answer names, else it falls back to that manifest and whole objects.
//
// Encoding (version 1):
//
//	magic   "PWS\x01"
//	from    the first 8 bytes of the digest of the manifest the step
//	        starts from (enough to tell the device's bundle from the empty
//	        one; the result is checked against the signed target anyway)
//	listing a byte, 0 (raw) or 1 (compressed by the zstd-dict codec against
//	        the paths of From joined by '\n', so that paths compress against
//	        what the device already has), then uvarint n and n bytes: the
//	        listing (below), in whichever form is smaller
//	codec   uvarint n, then the codec's wire name ("" when no file is
//	        patched)
//	patch   the rest: the bundle patch
//
// The listing, before compression, is
//
//	uvarint count of removed files, then for each, ascending, the gap
//	        from the previous index (the first from -1), as a uvarint: the
//	        indexes are those of From's entries in path order
//	uvarint count of writes, then the writes (in strictly ascending path
//	        order) as columns:
//	        paths:  each a uvarint length and the bytes, or, for a path of
//	                From, a zero length and the uvarint index of its entry
//	        kinds:  a byte each: 0 copy, 1 patched, 2 object
//	        fields: per write, by kind:
//	                copy:    its source's index in From
//	                patched: the index of its base in From (-1: none), then
//	                         its size minus the base's size (varint)
//	                object:  its size (uvarint)
//	                Indexes are varints coded as the difference from the
//	                previous index of the same column (copy sources, bases).
//	        digests: the 32 bytes of each object, in order
//
// The bundle patch rebuilds the patched files, in path order, as one
// stream: its dictionary is manifest.DictionaryOrder(From, bases), the
// bases being those of the patched files that have one, in path order;
// the output is split by the files' sizes (delta.ApplyBundle).
package step
