package capgo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

// outBufs holds response buffers.
var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// readRequest reads and validates a body of schema s: the steps shared by
// every POST/PUT endpoint. It returns the raw body too (valid until
// putBody), or, when it answered an error itself, its code.
func (h *Handler) readRequest(w http.ResponseWriter, r *http.Request, limit int64, s schema) (*request, *object, *[]byte, string) {
	bp, err := readBody(r, limit)
	if err != nil {
		return nil, nil, nil, h.bodyError(w, r, err)
	}
	o := &object{}
	req, aerr := decodeRequest(*bp, o, s)
	if aerr != nil {
		putBody(bp)
		writeAPIError(w, aerr)
		return nil, nil, nil, aerr.code
	}
	if !h.admitDevice(w, req.DeviceID) {
		putBody(bp)
		return nil, nil, nil, string(resolver.CodeTooManyRequests)
	}
	return req, o, bp, ""
}

// decodeRequest parses and validates one body of schema s (protocol §1 and
// the package comment): an empty body or a JSON value that is not an object
// is invalid_json_body, bad JSON invalid_json_parse_body.
func decodeRequest(body []byte, o *object, s schema) (*request, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, newAPIError(resolver.CodeInvalidJSONBody, map[string]any{"reason": "empty body"})
	}
	isObject, err := decodeObject(body, o)
	if err != nil {
		return nil, parseError(err)
	}
	if !isObject {
		return nil, newAPIError(resolver.CodeInvalidJSONBody, map[string]any{"reason": "the body must be a JSON object"})
	}
	return validate(o, s, resolver.CodeInvalidJSONBody)
}

// handleUpdates answers POST /updates, the update check.
func (h *Handler) handleUpdates(w http.ResponseWriter, r *http.Request) {
	req, _, bp, failed := h.readRequest(w, r, h.lim.UpdateBody, schemaUpdate)
	if failed != "" {
		h.obs.UpdateCheck("rejected", failed)
		return
	}
	defer putBody(bp)
	snap, err := h.snapshot(r.Context(), req.AppID, req.DeviceID)
	if err != nil {
		h.obs.UpdateCheck("error", "store")
		h.writeInternal(w, r, err)
		return
	}
	dec := resolver.Decide(snap, req.device())
	if snap.App.Exists {
		rep := h.report(req)
		// A device on "builtin" runs the registered builtin bundle of its
		// native version, if any: counted under it, it is a patch base.
		rep.Bundle = keyName(snap.RunningBundle(req.VersionName, req.VersionBuild))
		switch {
		case dec.Update != nil:
			rep.Channel, rep.SetChannel = dec.Update.Channel, true
		case dec.NoUpdate.Channel != "" || dec.NoUpdate.Code == resolver.CodeNoChannel:
			rep.Channel, rep.SetChannel = dec.NoUpdate.Channel, true
		}
		h.rec.sight(rep)
	}
	if n := dec.NoUpdate; n != nil {
		h.writeNoUpdate(w, n, *bp)
		return
	}
	h.writeUpdate(w, r, req.AppID, dec.Update)
}

// report is the device sighting of a request.
func (h *Handler) report(req *request) store.DeviceReport {
	return store.DeviceReport{
		App: req.AppID, DeviceID: req.DeviceID, At: h.now(),
		Platform: clip(req.Platform), VersionOS: clip(req.VersionOS), VersionBuild: clip(req.VersionBuild),
		PluginVersion: clip(req.PluginVersion), CustomID: clip(req.CustomID), DefaultChannel: clip(req.DefaultCh),
		IsEmulator: req.IsEmulator, IsProd: req.IsProd, Bundle: keyName(req.VersionName),
	}
}

// clip bounds a device-supplied string stored in a device record.
func clip(s string) string { return truncateUTF8(s, 128) }

// truncateUTF8 cuts s to at most max bytes without splitting a character.
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// keyName returns s if it can name a bundle in the store's keys (no NUL,
// at most 128 bytes), else "" (unknown).
func keyName(s string) string {
	if len(s) > 128 || strings.IndexByte(s, 0) >= 0 {
		return ""
	}
	return s
}

// writeNoUpdate answers a refusal: resolver.NoUpdate's status and body,
// plus the request as received for unknown_version_build (protocol §8).
func (h *Handler) writeNoUpdate(w http.ResponseWriter, n *resolver.NoUpdate, body []byte) {
	reason := string(n.Code)
	if n.Kind == resolver.KindNone {
		h.obs.UpdateCheck("rejected", reason)
	} else {
		h.obs.UpdateCheck(string(n.Kind), reason)
	}
	// Refusals without extras and with the code's fixed message are the
	// same bytes every time (no_new_version_available above all).
	constant := n.Version == "" && n.Old == "" && !n.Major && n.DeviceKeyID == "" && n.BundleKeyID == "" &&
		n.Provider == "" && n.Message == resolver.Message(n.Code) && n.Code != resolver.CodeUnknownVersionBuild
	if constant {
		if b, ok := h.refusals.Load(n.Code); ok {
			writeBody(w, n.Status, b.([]byte))
			return
		}
	}
	m := n.Body()
	if n.Code == resolver.CodeUnknownVersionBuild {
		m["body"] = jsontext.Value(bytes.TrimSpace(body))
	}
	b, err := json.Marshal(m)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal_error", "message": err.Error()})
		return
	}
	if constant {
		h.refusals.Store(n.Code, b)
	}
	writeBody(w, n.Status, b)
}

// noZipURL is Capgo's placeholder url of manifest-only bundles.
const noZipURL = "https://404.capgo.app/no.zip"

// writeNoBundleURL answers no_bundle_url: the bundle's files cannot be
// delivered (protocol §8 step 12).
func (h *Handler) writeNoBundleURL(w http.ResponseWriter) {
	h.writeNoUpdate(w, codeOnly(resolver.CodeNoBundleURL), nil)
}

// codeOnly is the refusal of code c with its fixed message and no extras.
func codeOnly(c resolver.Code) *resolver.NoUpdate {
	return &resolver.NoUpdate{Code: c, Message: resolver.Message(c), Kind: resolver.KindOf(c), Status: resolver.StatusOf(c)}
}

// bodyBuiltin is the plain success that sends a device back to its native
// bundle (protocol §2.3).
var bodyBuiltin = []byte(`{"version":"builtin"}`)

// writeUpdate answers an update of app: {version, url, session_key,
// checksum[, manifest][, link, comment]}, never with error or kind. A
// bundle without a zip (encrypted and uploaded without --capgo-zip, or too
// large) goes only to plugins that take the manifest; the others get
// manifest_only_bundle or no_bundle_url.
func (h *Handler) writeUpdate(w http.ResponseWriter, r *http.Request, app string, u *resolver.Update) {
	if u.Bundle.Version == resolver.Builtin {
		h.obs.UpdateCheck("update", "builtin")
		writeBody(w, http.StatusOK, bodyBuiltin)
		return
	}
	p, err := h.prepared.get(r.Context(), keyOf(app, u.Bundle))
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			h.obs.UpdateCheck("error", "cancelled")
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "unavailable", "message": "the bundle is still being prepared; try again", "moreInfo": map[string]any{}})
			return
		}
		// The bundle's files cannot be read or packed: Capgo's "no URL"
		// failure (protocol §8 step 12).
		h.log.Error("no download for bundle", "version", u.Bundle.Version, "manifest", u.Bundle.Manifest, "err", err)
		h.writeNoBundleURL(w)
		return
	}
	if p.zip.IsZero() && !u.Manifest {
		if p.encrypted {
			n := codeOnly(resolver.CodeManifestOnlyBundle)
			n.Version = u.Bundle.Version
			h.writeNoUpdate(w, n, nil)
			return
		}
		h.writeNoBundleURL(w) // the zip is too large to store, and this plugin needs it
		return
	}
	h.obs.UpdateCheck("update", "update")
	var scratch [256]byte
	base := h.appendBase(scratch[:0], r)
	bp := outBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"version":`...)
	b = appendJSONString(b, u.Bundle.Version)
	b = append(b, `,"url":"`...)
	if p.zip.IsZero() {
		// Manifest only: url must still be a valid absolute URL, which the
		// plugin does not fetch in manifest mode (protocol §2.1, §8 step 12).
		b = append(b, noZipURL...)
	} else {
		b = append(b, base...)
		b = append(b, "/o/"...)
		b = append(b, p.zipHex...)
	}
	b = append(b, `","session_key":"`...)
	b = append(b, p.sessionKey...) // base64 and ':' only: no escaping
	b = append(b, `","checksum":"`...)
	b = append(b, p.checksum...) // hex, "" without a zip unless uploaded with one
	b = append(b, '"')
	if u.Manifest {
		b = append(b, `,"manifest":`...)
		b = p.appendManifest(b, base)
	}
	if u.Metadata {
		if u.Bundle.Link != "" {
			b = append(b, `,"link":`...)
			b = appendJSONString(b, u.Bundle.Link)
		}
		if u.Bundle.Comment != "" {
			b = append(b, `,"comment":`...)
			b = appendJSONString(b, u.Bundle.Comment)
		}
	}
	b = append(b, '}')
	writeBody(w, http.StatusOK, b)
	if cap(b) <= 1<<20 {
		*bp = b[:0]
		outBufs.Put(bp)
	}
}

// manifestSizeFile is one entry of a manifest_size answer.
type manifestSizeFile struct {
	FileName    *string `json:"file_name"`
	FileHash    string  `json:"file_hash"`
	DownloadURL *string `json:"download_url"`
	Size        int64   `json:"size,omitempty"`
	Error       string  `json:"error,omitempty"`
}

// handleManifestSize answers POST /updates/manifest_size: the size of each
// listed manifest file (protocol §3). Sizes come from the named bundle of
// the app (body "version"): a download_url of ours gives the size of what
// it serves (the Brotli form for NAME.br), else file_hash gives the file's
// size. Entries without a file_hash are skipped and duplicates listed once,
// as Capgo does; anything not found is {"error":"size_unknown"}.
func (h *Handler) handleManifestSize(w http.ResponseWriter, r *http.Request) {
	req, o, bp, failed := h.readRequest(w, r, h.lim.ManifestSizeBody, schemaUpdate)
	if failed != "" {
		return
	}
	defer putBody(bp)
	snap, err := h.snapshot(r.Context(), req.AppID, req.DeviceID)
	if err != nil {
		h.writeInternal(w, r, err)
		return
	}
	if !snap.App.Exists {
		writeAPIError(w, newAPIError(resolver.CodeOnPremiseApp, nil))
		return
	}
	list := o.v[fManifest]
	if !list.present() {
		list = o.v[fFiles]
	}
	files := decodeSizeFiles(list)
	var p *prepared
	if v := o.v[fVersion]; v.isString() {
		if b, ok := snap.Bundles[v.str]; ok && !b.Deleted && !b.Manifest.IsZero() && len(files) > 0 {
			if p, err = h.prepared.get(r.Context(), keyOf(req.AppID, b)); err != nil {
				h.log.Warn("manifest_size: bundle not prepared", "version", v.str, "err", err)
				p = nil
			}
		}
	}
	out := struct {
		TotalSize    int64              `json:"totalSize"`
		KnownFiles   int                `json:"knownFiles"`
		UnknownFiles int                `json:"unknownFiles"`
		Files        []manifestSizeFile `json:"files"`
	}{Files: files}
	for i := range out.Files {
		f := &out.Files[i]
		size := int64(-1)
		if p != nil {
			if d, ok := objectOfURL(f.DownloadURL); ok {
				if n, ok := p.sizes[d]; ok {
					size = n
				}
			} else if d, err := manifest.ParseDigest(f.FileHash); err == nil {
				if n, ok := p.sizes[d]; ok {
					size = n
				}
			}
		}
		if size > 0 {
			f.Size = size
			out.TotalSize += size
			out.KnownFiles++
		} else {
			f.Error = "size_unknown"
			out.UnknownFiles++
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeSizeFiles normalises manifest_size's list like Capgo: not an array
// is empty; entries that are not objects or lack a string file_hash are
// skipped; repeats are listed once.
func decodeSizeFiles(v value) []manifestSizeFile {
	files := []manifestSizeFile{}
	if v.kind != '[' {
		return files
	}
	var raw []map[string]any
	if json.Unmarshal(v.raw, &raw) != nil {
		// Items that are not objects: decode them one by one.
		var items []json.RawMessage
		if json.Unmarshal(v.raw, &items) != nil {
			return files
		}
		raw = raw[:0]
		for _, it := range items {
			var m map[string]any
			if json.Unmarshal(it, &m) == nil {
				raw = append(raw, m)
			}
		}
	}
	seen := map[[3]string]bool{}
	for _, m := range raw {
		hash, _ := m["file_hash"].(string)
		if hash == "" {
			continue
		}
		f := manifestSizeFile{FileHash: hash}
		var key [3]string
		key[1] = hash
		if s, ok := m["file_name"].(string); ok {
			f.FileName, key[0] = &s, s
		}
		if s, ok := m["download_url"].(string); ok {
			f.DownloadURL, key[2] = &s, s
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		files = append(files, f)
	}
	return files
}

// objectOfURL extracts the digest of a download URL of ours, ".../o/<sha256>".
func objectOfURL(u *string) (manifest.Digest, bool) {
	if u == nil {
		return manifest.Digest{}, false
	}
	i := strings.LastIndex(*u, "/o/")
	if i < 0 {
		return manifest.Digest{}, false
	}
	d, err := manifest.ParseDigest((*u)[i+3:])
	return d, err == nil
}
