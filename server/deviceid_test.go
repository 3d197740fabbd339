package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/capgo"
)

// TestDeviceIDSameRuleOnBothProtocols covers issue 14 item 5 (device_id
// half): POST /v1/check accepted a NUL and other control characters in
// device_id that the Capgo endpoints refuse. Both now use
// resolver.ValidDeviceID: the same ids pass and fail on both, each answered
// in its protocol's error shape.
func TestDeviceIDSameRuleOnBothProtocols(t *testing.T) {
	env := newNativeEnv(t)
	env.publish("1.0.0", map[string][]byte{"index.html": []byte("<p>one</p>")})
	env.serve("1.0.0")
	hc := env.HTTPSClient()
	post := func(path string, body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		resp, err := hc.Post(env.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if resp.StatusCode == http.StatusOK && path == api.PathCheck {
			return resp.StatusCode, nil // a signed answer (binary)
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %s: %v", path, raw, err)
		}
		return resp.StatusCode, m
	}
	const good = "3F1C2A4E-5B6D-4E7F-8A9B-0C1D2E3F4A5B"
	for _, tc := range []struct {
		name string
		id   string
		ok   bool
	}{
		{"uuid", good, true},
		{"lower-case uuid", "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", true},
		{"NUL", "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5\x00", false},
		{"NUL inside", "3f1c2a4e-5b6d-4e7f\x00-8a9b-0c1d2e3f4a5", false},
		{"tab", "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5\t", false},
		{"escape", "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5\x1b", false},
		{"DEL", "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5\x7f", false},
		{"C1 control", "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a\u0085", false},
		{"not a uuid", "device-1", false},
		{"one too long", good + "0", false},
		{"non-hex", "3g1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Capgo: 400 invalid_json_body naming device_id.
			status, m := post(capgo.PathUpdates, map[string]any{
				"app_id": app, "device_id": tc.id, "platform": "android", "version_build": "1.0",
				"version_name": "builtin", "plugin_version": "8.51.14", "is_emulator": false, "is_prod": true,
			})
			if tc.ok != (status == http.StatusOK) || !tc.ok && (status != http.StatusBadRequest || m["error"] != "invalid_json_body") {
				t.Errorf("/updates: %d %v", status, m)
			}
			// Native: 400 invalid_device_id in the api error shape.
			req := checkRequest("builtin", [32]byte{})
			req.DeviceID = tc.id
			status, m = post(api.PathCheck, req)
			if tc.ok != (status == http.StatusOK) || !tc.ok && (status != http.StatusBadRequest || m["error"] != api.CodeInvalidDeviceID || m["message"] == "") {
				t.Errorf("/v1/check: %d %v", status, m)
			}
		})
	}
}
