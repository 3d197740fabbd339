package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/store"
)

// handleDelta serves GET and HEAD /d/{codec}/{from}/{to}: the patch with
// codec between two manifests (a bundle patch) or two files (a per-file
// patch), under a URL that never changes meaning, like /o/{sha256}: strong
// ETag (the patch's SHA-256), immutable caching, one Range. The bytes are
// the patch's, streamed like an object's (serveObject); no
// Content-Encoding (patches are compressed already). A patch not made yet
// is 404: the check answer that names a patch URL only does so once it
// exists.
//
// Were a bundle patch and a per-file patch ever to connect the same two
// digests (a file whose bytes are a manifest encoding), the URL serves the
// bundle patch; a device expecting the other one sees the digest differ
// and falls back to the whole file.
func (s *Server) handleDelta(w http.ResponseWriter, r *http.Request) {
	codec := r.PathValue("codec")
	if _, ok := delta.Lookup(codec); !ok {
		writeError(w, r, s.log, errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no codec %q", codec)))
		return
	}
	from, ok := s.pathDigest(w, r, "from")
	if !ok {
		return
	}
	to, ok := s.pathDigest(w, r, "to")
	if !ok {
		return
	}
	var p store.Patch
	var err error
	for _, bundle := range []bool{true, false} {
		p, err = s.store.GetPatch(r.Context(), store.PatchKey{Codec: codec, From: from, To: to, Bundle: bundle})
		if err == nil && !p.Useless() {
			break
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			writeError(w, r, s.log, err)
			return
		}
	}
	if err != nil || p.Useless() {
		writeError(w, r, s.log, errorf(http.StatusNotFound, api.CodeNotFound, "no such patch"))
		return
	}
	s.serveObject(w, r, p.Digest, false)
}
