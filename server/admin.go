package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store"
)

// AdminKeyFile is where the first admin key is written, under the data dir.
const AdminKeyFile = "admin.key"

// EnsureAdminKey creates the first admin key when the store has no key at
// all, writes it to DATA/admin.key (mode 0600) and returns it; on later
// starts it returns "".
func EnsureAdminKey(ctx context.Context, st *store.Store, dataDir string) (string, error) {
	n, err := st.CountKeys(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	secret, _, err := st.CreateKey(ctx, api.ScopeAdmin, nil, "first admin key")
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(dataDir, AdminKeyFile), []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin key: %w", err)
	}
	return secret, nil
}

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+api.PathApps, s.handleCreateApp)
	mux.HandleFunc("GET "+api.PathApps, s.handleListApps)
	mux.HandleFunc("GET "+api.PathBundles, s.handleListBundles)
	mux.HandleFunc("PUT "+api.PathBundle, s.handleZipUpload)
	mux.HandleFunc("DELETE "+api.PathBundle, s.handleDeleteBundle)
	mux.HandleFunc("POST "+api.PathUploads, s.handleCreateUpload)
	mux.HandleFunc("PUT "+api.PathUploadObject, s.handleUploadObject)
	mux.HandleFunc("POST "+api.PathUploadCommit, s.handleCommitUpload)
	mux.HandleFunc("POST "+api.PathKeys, s.handleCreateKey)
	mux.HandleFunc("GET "+api.PathKeys, s.handleListKeys)
	mux.HandleFunc("DELETE "+api.PathKey, s.handleDeleteKey)
	mux.HandleFunc("GET "+api.PathStoreBackup, s.handleBackup)
	mux.HandleFunc("GET "+api.PathSigningKey, s.handleSigningKey)
	mux.HandleFunc("PUT "+api.PathBundleBuiltin, s.handleMarkBuiltin)
}

func (s *Server) handleCreateApp(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, permAdmin, ""); !ok {
		return
	}
	var req api.CreateAppRequest
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	app, err := s.store.CreateApp(r.Context(), req.ID)
	if errors.Is(err, store.ErrExists) {
		err = errorf(http.StatusConflict, api.CodeAppExists, fmt.Sprintf("app %q already exists", req.ID))
	} else if errors.Is(err, store.ErrInvalid) {
		err = errorf(http.StatusBadRequest, api.CodeInvalidAppID, err.Error())
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, app)
}

func (s *Server) handleListApps(w http.ResponseWriter, r *http.Request) {
	key, ok := s.authorize(w, r, permRead, "")
	if !ok {
		return
	}
	apps, err := s.store.ListApps(r.Context())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if key.Scope != api.ScopeAdmin {
		apps = slices.DeleteFunc(apps, func(a api.App) bool { return !keyCoversApp(key, a.ID) })
	}
	writeJSON(w, http.StatusOK, nonNil(apps))
}

func (s *Server) handleListBundles(w http.ResponseWriter, r *http.Request) {
	app, ok := s.readApp(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	bundles, err := s.store.ListBundles(ctx, app)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if err := s.store.SetStoredBytes(ctx, bundles); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	channels, err := s.store.ListChannels(ctx, app)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	for i := range bundles {
		b := &bundles[i]
		for _, c := range channels {
			if c.Bundle == b.Version || c.Rollout != nil && c.Rollout.Bundle == b.Version {
				b.Channels = append(b.Channels, c.Name)
			}
		}
	}
	writeJSON(w, http.StatusOK, nonNil(bundles))
}

func (s *Server) handleDeleteBundle(w http.ResponseWriter, r *http.Request) {
	app, version := r.PathValue("app"), r.PathValue("version")
	if _, ok := s.authorize(w, r, permWrite, app); !ok {
		return
	}
	if err := s.store.DeleteBundle(r.Context(), app, version); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("app %q has no bundle %q", app, version))
		}
		writeError(w, r, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleCreateUpload starts an upload: the client sends the manifest, the
// server answers with the digests it lacks.
func (s *Server) handleCreateUpload(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	if _, ok := s.authorize(w, r, permUpload, app); !ok {
		return
	}
	var req api.UploadRequest
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	m, err := uploadManifest(req, s.cfg.Limits.Bundle)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if err := store.ValidateCapgoEncryption(req.BundleMeta, m); err != nil {
		writeError(w, r, s.log, errorf(http.StatusBadRequest, api.CodeInvalidCapgoEncryption, err.Error()))
		return
	}
	up, err := s.store.CreateUpload(r.Context(), app, req.Version, m, req.BundleMeta)
	if err != nil {
		writeError(w, r, s.log, bundleError(err, app, req.Version))
		return
	}
	missing, err := s.store.MissingObjects(r.Context(), m.Digests())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.UploadResponse{ID: up.ID, Manifest: m.Digest(), Missing: nonNil(missing)})
}

// uploadManifest validates the files of an upload request as a manifest.
func uploadManifest(req api.UploadRequest, lim manifest.Limits) (*manifest.Manifest, error) {
	m, err := manifest.New(req.Files, lim)
	if err == nil && m.Len() == 0 {
		err = &manifest.Error{Code: manifest.CodeEmptyBundle, Reason: "the bundle has no files"}
	}
	return m, err
}

// handleUploadObject receives one object of an upload session, raw or
// zstd-compressed (Content-Encoding: zstd), and stores it once its bytes
// hash to the digest in the URL.
func (s *Server) handleUploadObject(w http.ResponseWriter, r *http.Request) {
	up, ok := s.uploadSession(w, r, s.store.GetUploadFiles)
	if !ok {
		return
	}
	d, ok := s.pathDigest(w, r, "sha256")
	if !ok {
		return
	}
	size, ok := sizeOf(up.Manifest, d)
	if !ok {
		writeError(w, r, s.log, badRequest(fmt.Sprintf("object %s is not part of upload %s", d, up.ID)))
		return
	}
	raw, err := readObjectBody(w, r, size)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	created, err := s.store.PutObject(r.Context(), d, raw)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, api.ObjectPutResponse{Digest: d, Created: created})
}

// newObjectBodyDecoder decodes a zstd object body of size bytes. Encoders
// may declare a window up to twice the content (klauspost's does for
// exactly 1,024 bytes: a 2,048-byte window), so that much is allowed; the
// caller bounds the output at size+1.
func newObjectBodyDecoder(r io.Reader, size int64) (*zstd.Decoder, error) {
	window := max(2*uint64(size), zstd.MinWindowSize)
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(window+1), zstd.WithDecoderMaxWindow(min(window, zstd.MaxWindowSize)))
}

// readObjectBody reads a request body that must decode to exactly size
// bytes, refusing more without buffering it.
func readObjectBody(w http.ResponseWriter, r *http.Request, size int64) ([]byte, error) {
	var body io.Reader
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		body = http.MaxBytesReader(w, r.Body, size)
	case "zstd":
		// A zstd frame of incompressible data is slightly larger than it.
		compressed := http.MaxBytesReader(w, r.Body, size+size/64+1024)
		dec, err := newObjectBodyDecoder(compressed, size)
		if err != nil {
			return nil, err
		}
		defer dec.Close()
		body = io.LimitReader(dec, size+1)
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, "unsupported_encoding", fmt.Sprintf("Content-Encoding %q: send identity or zstd", enc))
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, mbe
		}
		if re := asBodyRateError(err); re != nil {
			return nil, re
		}
		return nil, badRequest("reading object body: " + err.Error())
	}
	if int64(len(raw)) != size {
		return nil, &manifest.Error{Code: manifest.CodeDigestMismatch,
			Reason: fmt.Sprintf("object body is %d bytes, the manifest says %d", len(raw), size)}
	}
	return raw, nil
}

func (s *Server) handleCommitUpload(w http.ResponseWriter, r *http.Request) {
	up, ok := s.uploadSession(w, r, s.store.GetUpload)
	if !ok {
		return
	}
	b, err := s.store.CommitBundle(r.Context(), up.App, up.Version, up.Manifest, up.Meta)
	if err != nil {
		writeError(w, r, s.log, bundleError(err, up.App, up.Version))
		return
	}
	if err := s.store.DeleteUpload(r.Context(), up.ID); err != nil {
		s.log.Warn("delete committed upload session", "upload", up.ID, "err", err)
	}
	s.log.Info("bundle committed", "app", b.App, "version", b.Version, "files", b.Files, "manifest", b.Manifest.String())
	writeJSON(w, http.StatusCreated, b)
}

// uploadSession loads the session named in the path with load (GetUpload,
// or GetUploadFiles where the Capgo encryption is not needed) and checks
// the caller may upload to its app.
func (s *Server) uploadSession(w http.ResponseWriter, r *http.Request, load func(context.Context, string) (store.Upload, error)) (store.Upload, bool) {
	key, err := s.authenticate(w, r)
	if err != nil {
		writeError(w, r, s.log, err)
		return store.Upload{}, false
	}
	up, err := load(r.Context(), r.PathValue("id"))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errorf(http.StatusNotFound, api.CodeNotFound, "no such upload session (it may have expired or been committed)")
		}
		writeError(w, r, s.log, err)
		return up, false
	}
	if !allows(key, permUpload, up.App, "") {
		writeError(w, r, s.log, forbidden(key, permUpload, up.App, ""))
		return up, false
	}
	return up, true
}

// handleZipUpload ingests a whole bundle sent as a zip body: validated in
// full before anything is stored, then committed like a regular upload.
func (s *Server) handleZipUpload(w http.ResponseWriter, r *http.Request) {
	app, version := r.PathValue("app"), r.PathValue("version")
	if _, ok := s.authorize(w, r, permUpload, app); !ok {
		return
	}
	ctx := r.Context()
	if err := s.checkVersionFree(ctx, app, version); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	tmp, n, err := s.spool(w, r)
	if tmp != nil {
		defer os.Remove(tmp.Name())
		defer tmp.Close()
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	src, err := manifest.OpenZip(ctx, tmp, n, s.cfg.Limits.Bundle)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	defer src.Close()
	m := src.Manifest()
	if m.Len() == 0 {
		writeError(w, r, s.log, &manifest.Error{Code: manifest.CodeEmptyBundle, Reason: "the zip holds no files"})
		return
	}
	if q := r.URL.Query().Get("no_index_check"); q != "1" && q != "true" {
		if err := manifest.CheckIndex(m); err != nil {
			writeError(w, r, s.log, err)
			return
		}
	}
	meta := api.BundleMeta{
		MinUpdateVersion: r.URL.Query().Get("min_update_version"),
		Link:             r.URL.Query().Get("link"),
		Comment:          r.URL.Query().Get("comment"),
	}
	// An upload session, as the manifest upload protocol opens, keeps the
	// objects this bundle reuses safe from the GC until the commit.
	up, err := s.store.CreateUpload(ctx, app, version, m, meta)
	if err != nil {
		writeError(w, r, s.log, bundleError(err, app, version))
		return
	}
	defer func() {
		if err := s.store.DeleteUpload(context.WithoutCancel(ctx), up.ID); err != nil {
			s.log.Warn("delete zip upload session", "upload", up.ID, "err", err)
		}
	}()
	added, err := s.storeMissing(ctx, src)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	b, err := s.store.CommitBundle(ctx, app, version, m, meta)
	if err != nil {
		writeError(w, r, s.log, bundleError(err, app, version))
		return
	}
	writeJSON(w, http.StatusCreated, api.ZipUploadResponse{
		Bundle: b, ObjectsNew: added, ObjectsReused: len(m.Digests()) - added, BytesReceived: n,
	})
}

// checkVersionFree refuses early, before a large body is read, an upload to
// an unknown app or of a version that exists.
func (s *Server) checkVersionFree(ctx context.Context, app, version string) error {
	if _, err := s.store.GetApp(ctx, app); err != nil {
		return notFoundApp(err, app)
	}
	if _, err := s.store.GetBundle(ctx, app, version); err == nil {
		return bundleError(store.ErrExists, app, version)
	} else if !errors.Is(err, store.ErrNotFound) {
		return bundleError(err, app, version)
	}
	return nil
}

// spool copies the request body, bounded by MaxUploadBytes, to a temporary
// file under the data directory.
func (s *Server) spool(w http.ResponseWriter, r *http.Request) (*os.File, int64, error) {
	dir := filepath.Join(s.cfg.DataDir, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, err
	}
	f, err := os.CreateTemp(dir, "upload-*.zip")
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(f, http.MaxBytesReader(w, r.Body, s.cfg.Limits.MaxUploadBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return f, n, fmt.Errorf("upload is larger than the limit of %d bytes: %w", s.cfg.Limits.MaxUploadBytes, mbe)
		}
		if re := asBodyRateError(err); re != nil {
			return f, n, re
		}
		return f, n, badRequest("reading upload body: " + err.Error())
	}
	return f, n, nil
}

// storeMissing puts every object of src the store lacks and returns how
// many it added.
func (s *Server) storeMissing(ctx context.Context, src manifest.Source) (int, error) {
	m := src.Manifest()
	missing, err := s.store.MissingObjects(ctx, m.Digests())
	if err != nil {
		return 0, err
	}
	pathOf := make(map[manifest.Digest]manifest.Entry, m.Len())
	for _, e := range m.Entries() {
		pathOf[e.Digest] = e
	}
	for _, d := range missing {
		e := pathOf[d]
		raw, err := manifest.ReadEntry(src, e)
		if err != nil {
			return 0, err
		}
		if _, err := s.store.PutObject(ctx, d, raw); err != nil {
			return 0, err
		}
	}
	return len(missing), nil
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, permAdmin, ""); !ok {
		return
	}
	var req api.CreateKeyRequest
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	for _, app := range req.Apps {
		if _, err := s.store.GetApp(r.Context(), app); err != nil {
			writeError(w, r, s.log, notFoundApp(err, app))
			return
		}
	}
	secret, key, err := s.store.CreateScopedKey(r.Context(), req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.CreateKeyResponse{Key: key, Secret: secret})
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, permAdmin, ""); !ok {
		return
	}
	keys, err := s.store.ListKeys(r.Context())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(keys))
}

func (s *Server) handleDeleteKey(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, permAdmin, ""); !ok {
		return
	}
	if err := s.store.DeleteKey(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sizeOf finds the size the manifest gives digest d.
func sizeOf(m *manifest.Manifest, d manifest.Digest) (int64, bool) {
	for _, e := range m.Entries() {
		if e.Digest == d {
			return e.Size, true
		}
	}
	return 0, false
}

// notFoundApp names the app in a not-found error.
// readApp authorizes a read of the request's app and checks that it
// exists; on failure it has answered.
func (s *Server) readApp(w http.ResponseWriter, r *http.Request) (string, bool) {
	app := r.PathValue("app")
	if _, ok := s.authorize(w, r, permRead, app); !ok {
		return app, false
	}
	if _, err := s.store.GetApp(r.Context(), app); err != nil {
		writeError(w, r, s.log, notFoundApp(err, app))
		return app, false
	}
	return app, true
}

func notFoundApp(err error, app string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no app %q (create it with `patchwire app add %s`)", app, app))
	}
	if errors.Is(err, store.ErrInvalid) {
		return errorf(http.StatusBadRequest, api.CodeInvalidAppID, err.Error())
	}
	return err
}

// bundleError turns store errors about a bundle into answers naming it.
func bundleError(err error, app, version string) error {
	switch {
	case errors.Is(err, store.ErrExists):
		return errorf(http.StatusConflict, api.CodeVersionExists,
			fmt.Sprintf("app %q already has version %s; versions are immutable, upload a new version", app, version))
	case errors.Is(err, store.ErrInvalid):
		return errorf(http.StatusBadRequest, api.CodeInvalidVersion, err.Error())
	case errors.Is(err, store.ErrNotFound):
		return notFoundApp(err, app)
	}
	var mo *store.MissingObjectsError
	if errors.As(err, &mo) {
		return errorf(http.StatusConflict, api.CodeMissingObjects,
			fmt.Sprintf("%d objects of the bundle were never uploaded (first: %s)", len(mo.Digests), mo.Digests[0]))
	}
	return err
}

// nonNil makes nil slices encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
