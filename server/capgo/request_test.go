package capgo

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/patchwire/patchwire/resolver"
)

// validAppID and resolver.ValidDeviceID are Capgo's regular expressions, hand-written.
func TestValidatorsMatchCapgoRegexps(t *testing.T) {
	appRe := regexp.MustCompile(`^[a-zA-Z0-9]+(\.[\w-]+)+$`)
	uuidRe := regexp.MustCompile(`(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, s := range []string{"", "a", "a.", ".a", "a.b", "com.example.app", "a..b", "a.b-c_d", "a-b.c", "A1.B2",
		"a.b.", "a.é", "a b.c", "1.2.3", "a._", "a.-"} {
		if got, want := validAppID(s), appRe.MatchString(s); got != want {
			t.Errorf("validAppID(%q) = %v, regexp %v", s, got, want)
		}
	}
	for _, s := range []string{"", "44f128a5-ac7a-4c9a-be4c-224b6bf81b20", "0F673663-459A-44C0-A7F5-613F2A4AF3AB",
		"44f128a5ac7a-4c9a-be4c-224b6bf81b20-", "44f128a5-ac7a-4c9a-be4c-224b6bf81b2g", "44f128a5-ac7a-4c9a-be4c-224b6bf81b200"} {
		if got, want := resolver.ValidDeviceID(s), uuidRe.MatchString(s); got != want {
			t.Errorf("ValidDeviceID(%q) = %v, regexp %v", s, got, want)
		}
	}
}

func TestJSLen(t *testing.T) {
	for s, n := range map[string]int{"": 0, "abc": 3, "é": 1, "😀": 2, "a😀b": 4} {
		if jsLen(s) != n {
			t.Errorf("jsLen(%q) = %d, want %d", s, jsLen(s), n)
		}
	}
}

func TestObjectFromQuery(t *testing.T) {
	q, _ := url.ParseQuery("app_id=a.b&device_id=X&is_emulator=true&platform=ios&unknown=1")
	o := objectFromQuery(q)
	if o.v[fAppID].str != "a.b" || o.v[fIsEmulator].kind != 't' || o.v[fIsProd].kind != 't' || o.members != 5 {
		t.Errorf("object %+v", o)
	}
	q, _ = url.ParseQuery("app_id=a.b&is_prod=1")
	if o := objectFromQuery(q); o.v[fIsProd].kind != 'f' {
		t.Error(`is_prod=1 is not "true"`)
	}
	if o := objectFromQuery(url.Values{}); o.members != 0 {
		t.Error("empty query is not an empty body")
	}
}

// The cached bodies of constant refusals are what NoUpdate.Body gives.
func TestRefusalBodies(t *testing.T) {
	h := &Handler{obs: nopObserver{}}
	for _, c := range []resolver.Code{resolver.CodeNoNewVersion, resolver.CodeNoChannel, resolver.CodeNoBundle,
		resolver.CodeOnPremiseApp, resolver.CodeUnknownVersionBuild} {
		n := &resolver.NoUpdate{Code: c, Message: resolver.Message(c), Kind: resolver.KindOf(c), Status: resolver.StatusOf(c)}
		for range 2 { // built, then cached
			w := newRecorderWriter()
			h.writeNoUpdate(w, n, []byte(`{"x":1}`))
			var got map[string]any
			if err := json.Unmarshal(w.body, &got); err != nil {
				t.Fatal(err)
			}
			want := n.Body()
			if c == resolver.CodeUnknownVersionBuild {
				want["body"] = map[string]any{"x": float64(1)}
			}
			wb, _ := json.Marshal(want)
			gb, _ := json.Marshal(got)
			if string(wb) != string(gb) || w.status != n.Status {
				t.Errorf("%s: %d %s, want %d %s", c, w.status, gb, n.Status, wb)
			}
		}
	}
}

// recorderWriter is a minimal http.ResponseWriter.
type recorderWriter struct {
	h      map[string][]string
	status int
	body   []byte
}

func newRecorderWriter() *recorderWriter { return &recorderWriter{h: map[string][]string{}} }

func (w *recorderWriter) Header() http.Header    { return w.h }
func (w *recorderWriter) WriteHeader(status int) { w.status = status }
func (w *recorderWriter) Write(b []byte) (int, error) {
	w.body = append(w.body, b...)
	return len(b), nil
}
