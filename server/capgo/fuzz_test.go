package capgo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
)

// Seeds: the bodies of the protocol document (§1, §6, §7) and edge cases.
var bodySeeds = []string{
	`{"platform":"android","device_id":"44f128a5-ac7a-4c9a-be4c-224b6bf81b20","app_id":"com.example.app","custom_id":"","version_build":"1.2","version_code":"10","version_os":"14","version_name":"builtin","plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"install_source":"google_play","defaultChannel":"","key_id":"MIIBCgKCAQEAuzbW4Bs"}`,
	`{"platform":"ios","device_id":"0F673663-459A-44C0-A7F5-613F2A4AF3AB","app_id":"com.example.app","version_build":"1.0.0","version_code":"7","version_os":"18.1","version_name":"1.0.1","plugin_version":"8.51.14","is_emulator":true,"is_prod":false,"custom_id":"user"}`,
	`{"platform":"electron","device_id":"44f128a5-ac7a-4c9a-be4c-224b6bf81b20","app_id":"a.b","version_build":"unknown","version_name":"x","plugin_version":"7.0.0-beta.1"}`,
	`{"platform":"android","device_id":"44f128a5-ac7a-4c9a-be4c-224b6bf81b20","app_id":"com.example.app","version_build":"1.0.0","version_os":"14","version_name":"1.0.1:assets/app.js","plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"action":"download_manifest_checksum_fail","old_version_name":"","timestamp":1760000000000,"metadata":{"reason":"x"}}`,
	`[{"app_id":"com.example.app","device_id":"44f128a5-ac7a-4c9a-be4c-224b6bf81b20","platform":"android","version_name":"builtin","version_os":"14","is_emulator":false,"is_prod":true,"action":"set"}]`,
	`{"platform":"android","device_id":"44f128a5-ac7a-4c9a-be4c-224b6bf81b20","app_id":"com.example.app","version_build":"1.0.0","version_name":"1.0.1","plugin_version":"8.51.14","version":"1.0.1","manifest":[{"file_name":"a.js.br","file_hash":"00","download_url":"https://h/o/00"}]}`,
	`{}`, ``, `[]`, `null`, `[1,"x",{}]`, `{"a":1,"a":2}`, `{"app_id":"a.b"} {}`, "{\"app_id\":\"\xff\"}",
	`{"device_id":"x","app_id":"y"}`, `{"device_id":0,"app_id":false}`, `{"app\u005fid":"a.b","device_id":"44f128a5-ac7a-4c9a-be4c-224b6bf81b20"}`,
	`{"metadata":{"k":"v","k2":1}}`, `{"version_build":"v1.2.3"}`,
}

// FuzzUpdateBody: parsing and validation of an update-check body never
// panics, and whatever it accepts satisfies the schema.
func FuzzUpdateBody(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range []schema{schemaUpdate, schemaChannel} {
			var o object
			req, aerr := decodeRequest(data, &o, s)
			if (req == nil) == (aerr == nil) {
				t.Fatalf("request %v and error %v", req, aerr)
			}
			if aerr != nil {
				checkError(t, aerr)
				continue
			}
			checkRequest(t, req, s)
		}
	})
}

// FuzzStatsBody: splitting and validating a /stats body never panics, and
// the events it accepts satisfy the schema.
func FuzzStatsBody(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		items, _, err := splitStats(data, 100)
		if err != nil {
			return
		}
		for _, it := range items {
			var o object
			isObj, err := decodeObject(it, &o)
			if err != nil {
				t.Fatalf("an item of valid JSON does not decode: %v", err)
			}
			if !isObj {
				continue
			}
			req, aerr := validate(&o, schemaStats, resolver.CodeInvalidJSONBody)
			if aerr != nil {
				checkError(t, aerr)
				continue
			}
			checkRequest(t, req, schemaStats)
			if req.Action != "" && !allowedActions[req.Action] {
				t.Fatalf("action %q accepted", req.Action)
			}
			if len(req.Metadata) > maxMetadataFields {
				t.Fatalf("%d metadata fields accepted", len(req.Metadata))
			}
		}
	})
}

func checkError(t *testing.T, e *apiError) {
	t.Helper()
	switch resolver.Code(e.code) {
	case resolver.CodeInvalidJSONBody, resolver.CodeInvalidJSONParseBody, resolver.CodeMissingDeviceID,
		resolver.CodeMissingAppID, resolver.CodeSemverError:
	default:
		t.Fatalf("unexpected code %q", e.code)
	}
	if e.status != 400 || e.message == "" || e.moreInfo == nil {
		t.Fatalf("error %+v", e)
	}
}

func checkRequest(t *testing.T, r *request, s schema) {
	t.Helper()
	if !validAppID(r.AppID) || s != schemaChannelList && !resolver.ValidDeviceID(r.DeviceID) || r.DeviceID != strings.ToLower(r.DeviceID) {
		t.Fatalf("accepted app %q device %q", r.AppID, r.DeviceID)
	}
	if s == schemaUpdate || s == schemaChannel {
		if !resolver.Platform(r.Platform).Valid() {
			t.Fatalf("accepted platform %q", r.Platform)
		}
	}
	if s == schemaUpdate {
		if r.VersionName == "" || r.VersionBuild == "" {
			t.Fatalf("accepted empty versions %+v", r)
		}
		if _, err := resolver.ParseVersion(r.PluginVersion); err != nil {
			t.Fatalf("accepted plugin_version %q", r.PluginVersion)
		}
		if _, err := resolver.ParseNativeVersion(r.VersionBuild); err != nil && r.VersionBuild != resolver.Unknown {
			t.Fatalf("accepted version_build %q", r.VersionBuild)
		}
	}
	if jsLen(r.KeyID) > maxKeyIDLen || jsLen(r.InstallSource) > maxInstallSourceLen {
		t.Fatalf("accepted over-long strings %+v", r)
	}
}

// FuzzCapgoEncryption: an encryption as an upload's metadata (or, before
// that, the bundle's api.CapgoEncryptionPath file) carries it never panics
// the parse and check, and what they accept is safe to write into an
// answer: session key and checksum unescaped, and a manifest array that is
// valid JSON listing every app file and nothing under api.CapgoDir.
func FuzzCapgoEncryption(f *testing.F) {
	sig := strings.Repeat("0a", 256)
	sessionKey := base64.StdEncoding.EncodeToString(make([]byte, 16)) + ":" + base64.StdEncoding.EncodeToString(make([]byte, 256))
	valid, _ := json.Marshal(api.CapgoEncryption{Format: 1, KeyID: "MIIBCgKCAQEAvD1tX3Jd", SessionKey: sessionKey,
		Files: map[string]string{"index.html": sig, "js/app.js": sig}})
	f.Add(valid, false)
	f.Add(bytes.Replace(valid, []byte(`"format":1`), []byte(`"format":1,"checksum":"`+sig+`"`), 1), true)
	f.Add([]byte(`{"format":1,"key_id":"MIIBCgKCAQEAvD1tX3Jd","session_key":"aXY=:a2V5","checksum":"00ff","files":{"index.html":"ab"}}`), false)
	f.Add([]byte(`{"format":1,"session_key":"a\"b"}`), false)
	f.Add([]byte(`[]`), true)
	d := manifest.Sum([]byte("x"))
	entries := []manifest.Entry{{Path: "index.html", Digest: d, Size: 1}, {Path: "js/app.js", Digest: d, Size: 1}}
	plain, err := manifest.New(entries, manifest.DefaultLimits())
	if err != nil {
		f.Fatal(err)
	}
	zipped, err := manifest.New(append(entries, manifest.Entry{Path: api.CapgoZipPath, Digest: d, Size: 1}), manifest.DefaultLimits())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte, withZip bool) {
		m := plain
		if withZip {
			m = zipped
		}
		enc, err := parseEncryption(raw, m)
		if err != nil {
			return
		}
		if strings.ContainsAny(enc.SessionKey+enc.Checksum, "\"\\<>\n") {
			t.Fatalf("accepted unsafe %q / %q", enc.SessionKey, enc.Checksum)
		}
		p := prepareEncrypted(m, enc)
		var list []map[string]string
		if err := json.Unmarshal(p.appendManifest(nil, []byte("https://h")), &list); err != nil || len(list) != len(entries) {
			t.Fatalf("manifest answer %s: %v", p.manifest, err)
		}
		for _, e := range list {
			if e["file_hash"] != enc.Files[e["file_name"]] || strings.HasPrefix(e["file_name"], api.CapgoDir) {
				t.Fatalf("manifest entry %v", e)
			}
		}
	})
}
