package server

import (
	"fmt"
	"net/http"
	"time"
)

// handleBackup streams store.Backup (GET api.PathStoreBackup, admin scope)
// as application/octet-stream, while the server keeps serving. The write
// timeout does not apply: a large store takes longer than one. A backup
// that fails midway is logged and the response aborted (the connection or
// stream is reset), so the client sees an error, never a clean end.
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, permAdmin, ""); !ok {
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="patchwire-%s.backup"`, time.Now().UTC().Format("20060102T150405Z")))
	w.WriteHeader(http.StatusOK)
	st, err := s.store.Backup(r.Context(), w)
	if err != nil {
		s.log.Error("backup failed", "bytes", st.Bytes, "err", err)
		panic(http.ErrAbortHandler)
	}
	s.log.Info("backup sent", "bytes", st.Bytes, "remote", r.RemoteAddr)
}
