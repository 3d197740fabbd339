package manifest

import "fmt"

// Error codes carried by *Error. The server sends them as the JSON "error"
// field, so they are part of the API: never rename one.
const (
	CodeUnsafePath     = "unsafe_path"      // absolute, "..", backslash, NUL, control characters, not UTF-8, too long or deep
	CodeDuplicatePath  = "duplicate_path"   // the same path twice
	CodeCaseCollision  = "case_collision"   // two paths equal after Unicode case folding and NFC
	CodeNotRegular     = "not_regular_file" // symlink, device, FIFO, socket, setuid entry
	CodeTooManyFiles   = "too_many_files"   // more entries than Limits.MaxFiles
	CodeTooLarge       = "bundle_too_large" // more bytes than Limits.MaxBundleBytes (counted on bytes read)
	CodeCorruptZip     = "corrupt_zip"      // truncated, CRC mismatch, junk, overlapping entries, bad headers
	CodeCompression    = "zip_bomb"         // an entry whose inflation ratio passes Limits.MaxRatio
	CodeNoIndex        = "no_index_html"    // index.html missing at the bundle root
	CodeEmptyBundle    = "empty_bundle"     // no files at all
	CodeBadManifest    = "bad_manifest"     // a manifest encoding that does not parse
	CodeDigestMismatch = "digest_mismatch"  // bytes that do not hash to the digest claimed for them
)

// Error is a refusal of outside input: which rule, which entry, why.
type Error struct {
	Code   string // one of the Code constants
	Path   string // the offending entry, when there is one
	Reason string // a sentence for a person
}

// Error formats e as `code: "path": reason`, or `code: reason` with no path.
func (e *Error) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s: %q: %s", e.Code, e.Path, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Reason)
}

func errorf(code, path, format string, args ...any) *Error {
	return &Error{Code: code, Path: path, Reason: fmt.Sprintf(format, args...)}
}
