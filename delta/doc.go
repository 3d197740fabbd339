// Package delta holds patchwire's binary diff codecs: given the bytes of a
// file a device already has (old) and of the file it should get (new), a
// codec encodes a patch, and rebuilds new from old and that patch.
//
// The package is pure: it does no I/O, keeps no state beyond a pool of
// reusable zstd encoders, and imports nothing of patchwire's.
//
// # Codecs
//
// A codec is named on the wire by a stable name that includes its format
// version. A change of format gets a new name, never a reuse.
//
// "zstd-dict" (v1, [ZstdDict]) is one standard zstd frame of new,
// compressed with old as a raw dictionary under dictionary ID 0 — what
// `zstd --patch-from=OLD` writes. The encoder is klauspost/compress's at
// SpeedBestCompression, with the window set to the next power of two
// ≥ len(old)+len(new) so that every byte of old stays in reach. Patches
// decode with `zstd -d --patch-from=OLD` (add --long=N, see [ZstdCLILong],
// when the window is over 128 MiB), and patches made by
// `zstd -19 --patch-from=OLD NEW` apply with Apply. The patches are
// 1.1–1.3× the size of the CLI's at -19 on real bundles, and up to 2–2.5×
// on pairs with many scattered edits or near-duplicate files, but are made
// 5–60× faster. Encoding a small file costs about 15–20 ms, almost all of
// it setting up SpeedBestCompression's tables (about 70 MB); encoders are
// pooled to spare the allocation.
//
// "bsdiff" ([Bsdiff]) is the classic BSDIFF40 format of Colin Percival's
// bsdiff 4.3: a 32-byte header ("BSDIFF40", the lengths of the compressed
// control and diff blocks, and the length of new, as sign-magnitude
// little-endian int64s), then three bzip2 streams: control triples, diff
// bytes (added to old byte-wise) and extra bytes. The encoder follows
// bsdiff 4.3's algorithm (suffix array of old, approximate-match scan with
// forward and backward extension) and produces exactly Debian bsdiff's
// control, diff and extra data; it sorts suffixes with SA-IS instead of
// qsufsort (same array, linear time). Its patches apply with bspatch, and
// bsdiff's apply with Apply, which follows bspatch on valid patches.
//
// The bzip2 streams are written by github.com/dsnet/compress/bzip2, which
// assigns its Huffman tables round-robin rather than by fit: the same data
// compresses to about 1.1–1.7× libbz2's size, the most on small diffs.
//
// # Limits
//
//   - zstd-dict encodes pairs with len(old)+len(new) ≤ [ZstdMaxPair]
//     (512 MiB, zstd.MaxWindowSize) and returns [ErrTooLarge] above, so
//     that callers can fall back. Encoding holds old, new and the encoder's
//     tables and history: about 70 MB plus 2× old+new. Apply accepts frame
//     windows up to [ZstdMaxApplyWindow] and decodes in memory.
//   - bsdiff encodes any new and an old up to [BsdiffMaxOld] bytes, but
//     needs about 9×len(old) + 2×len(new) of memory and time that grows
//     faster than linearly: [Choose] skips it above [BsdiffChooseLimit]
//     (len(old)+len(new) > 16 MiB).
//   - Apply never returns more than its maxOut argument ([ErrOutputLimit]
//     instead), never panics on hostile input, and grows its output only
//     as data decodes, so memory stays within about 2× maxOut beyond old
//     and patch. Malformed patches give [ErrCorrupt].
//
// # Choosing
//
// [Choose] encodes with each codec, verifies that each patch rebuilds new,
// and keeps the smallest. Callers should still compare the patch size with
// the cost of sending new whole, and hash what Apply produces.
package delta
