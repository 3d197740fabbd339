package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/patchwire/patchwire/api"
)

// authenticate returns the key presented as "Authorization: Bearer KEY".
//
// A key that verifies is never refused by the failure limiter: failures are
// counted per client address (s.clientIP, which honours --trusted-proxy) and
// per key id (the public part of "pw_<id>_<random>") separately, and only a
// failed attempt is answered 429 once its address or its key id is past the
// limit. So wrong keys from one address (every client behind one proxy)
// cannot lock a valid key out, and wrong secrets for one key id do not
// block another key.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (api.Key, error) {
	values := r.Header.Values("Authorization")
	if len(values) > 1 {
		return api.Key{}, badRequest("more than one Authorization header")
	}
	ip := s.clientIP(r)
	if len(values) == 0 {
		return api.Key{}, s.authFailed(w, ip, "", "missing Authorization: Bearer <api key>")
	}
	scheme, secret, ok := strings.Cut(values[0], " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return api.Key{}, s.authFailed(w, ip, "", "Authorization must be \"Bearer <api key>\"")
	}
	key, err := s.store.Authenticate(r.Context(), secret)
	if err != nil {
		id := keyIDOf(secret)
		s.log.Warn("authentication failed", "remote", ip, "key_id", id)
		return api.Key{}, s.authFailed(w, ip, id, "invalid API key")
	}
	return key, nil
}

// authFailed answers a failed authentication from ip (naming key id, or
// "?"/"" for none): 429 with Retry-After when the address or the key id is
// already past its limit, else 401 with message, counting the failure.
func (s *Server) authFailed(w http.ResponseWriter, ip, id, message string) error {
	if id == "?" {
		id = ""
	}
	if wait := s.authLimiter.blocked(ip, id); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		return errorf(http.StatusTooManyRequests, api.CodeTooManyRequests,
			"too many failed authentications from this address or for this key id; retry later")
	}
	s.authLimiter.fail(ip, id)
	return errorf(http.StatusUnauthorized, api.CodeUnauthorized, message)
}

// keyIDOf extracts the public key id from a secret "pw_<id>_<random>" for
// audit logs and the failure limiter; the secret itself is never logged.
// It returns "?" when the secret has no such shape.
func keyIDOf(secret string) string {
	parts := strings.SplitN(strings.TrimSpace(secret), "_", 3)
	if len(parts) == 3 && parts[0] == "pw" && parts[1] != "" && len(parts[1]) <= 32 {
		return parts[1]
	}
	return "?"
}

// authorize authenticates the request and checks that the key may do what
// (see allows) on app. It writes the error answer itself and reports
// whether to go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, what permission, app string) (api.Key, bool) {
	key, err := s.authenticate(w, r)
	if err != nil {
		writeError(w, r, s.log, err)
		return key, false
	}
	channel := ""
	if what == permSetChannel {
		channel = r.PathValue("channel")
	}
	if !allows(key, what, app, channel) {
		writeError(w, r, s.log, forbidden(key, what, app, channel))
		return key, false
	}
	return key, true
}
