package capgo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/patchwire/patchwire/resolver"
)

// fieldID indexes the members of a request body the protocol names
// (protocol §1, §3, §6, §7). Every other member is accepted and ignored.
type fieldID uint8

const (
	fAppID fieldID = iota
	fDeviceID
	fPlatform
	fVersionBuild
	fVersionName
	fVersionCode
	fVersionOS
	fPluginVersion
	fCustomID
	fDefaultChannel
	fInstallSource
	fKeyID
	fChannel
	fIsEmulator
	fIsProd
	fAction
	fOldVersionName
	fTimestamp
	fMetadata
	fVersion  // manifest_size
	fManifest // manifest_size
	fFiles    // manifest_size, alias of manifest
	nFields
)

var fieldNames = [nFields]string{
	fAppID: "app_id", fDeviceID: "device_id", fPlatform: "platform", fVersionBuild: "version_build",
	fVersionName: "version_name", fVersionCode: "version_code", fVersionOS: "version_os",
	fPluginVersion: "plugin_version", fCustomID: "custom_id", fDefaultChannel: "defaultChannel",
	fInstallSource: "install_source", fKeyID: "key_id", fChannel: "channel", fIsEmulator: "is_emulator",
	fIsProd: "is_prod", fAction: "action", fOldVersionName: "old_version_name", fTimestamp: "timestamp",
	fMetadata: "metadata", fVersion: "version", fManifest: "manifest", fFiles: "files",
}

// lookupField maps a member name to its fieldID. The switch on string(b)
// does not allocate.
func lookupField(b []byte) (fieldID, bool) {
	switch string(b) {
	case "app_id":
		return fAppID, true
	case "device_id":
		return fDeviceID, true
	case "platform":
		return fPlatform, true
	case "version_build":
		return fVersionBuild, true
	case "version_name":
		return fVersionName, true
	case "version_code":
		return fVersionCode, true
	case "version_os":
		return fVersionOS, true
	case "plugin_version":
		return fPluginVersion, true
	case "custom_id":
		return fCustomID, true
	case "defaultChannel":
		return fDefaultChannel, true
	case "install_source":
		return fInstallSource, true
	case "key_id":
		return fKeyID, true
	case "channel":
		return fChannel, true
	case "is_emulator":
		return fIsEmulator, true
	case "is_prod":
		return fIsProd, true
	case "action":
		return fAction, true
	case "old_version_name":
		return fOldVersionName, true
	case "timestamp":
		return fTimestamp, true
	case "metadata":
		return fMetadata, true
	case "version":
		return fVersion, true
	case "manifest":
		return fManifest, true
	case "files":
		return fFiles, true
	}
	return 0, false
}

// value is one member's value as received: its JSON kind (0 when the
// member is absent), the string for strings and booleans' truth, and a copy
// of the raw text of numbers, objects and arrays.
type value struct {
	kind jsontext.Kind
	str  string
	raw  []byte
}

func (v value) present() bool  { return v.kind != 0 }
func (v value) isString() bool { return v.kind == '"' }

// truthy is JavaScript's truthiness of the value, which Capgo's parser
// tests for device_id, app_id and version_build.
func (v value) truthy() bool {
	switch v.kind {
	case 0, 'n', 'f':
		return false
	case '"':
		return v.str != ""
	case '0':
		f, err := strconv.ParseFloat(string(v.raw), 64)
		return err != nil || f != 0
	}
	return true
}

// object is a decoded request body (or one stats event).
type object struct {
	members int // every member, named or not
	v       [nFields]value
}

// Errors of request parsing, with Capgo's codes and messages.
var (
	errParse = &apiError{http.StatusBadRequest, string(resolver.CodeInvalidJSONParseBody), resolver.Message(resolver.CodeInvalidJSONParseBody), nil}
)

// errTrailing is a body with more than one JSON value.
var errTrailing = errors.New("unexpected data after the top-level value")

// apiError is a 4xx answer: {error, message, moreInfo}.
type apiError struct {
	status   int
	code     string
	message  string
	moreInfo map[string]any
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newAPIError(c resolver.Code, moreInfo map[string]any) *apiError {
	if moreInfo == nil {
		moreInfo = map[string]any{}
	}
	return &apiError{resolver.StatusOf(c), string(c), resolver.Message(c), moreInfo}
}

func parseError(err error) *apiError {
	e := *errParse
	e.moreInfo = map[string]any{"reason": err.Error()}
	return &e
}

// parser decodes bodies; parsers are pooled.
type parser struct {
	rd  bytes.Reader
	dec *jsontext.Decoder
	buf []byte
}

var parsers = sync.Pool{New: func() any {
	p := &parser{}
	p.dec = jsontext.NewDecoder(&p.rd)
	return p
}}

func getParser(data []byte) *parser {
	p := parsers.Get().(*parser)
	p.rd.Reset(data)
	p.dec.Reset(&p.rd)
	return p
}

func (p *parser) release() {
	p.rd.Reset(nil)
	p.dec.Reset(&p.rd)
	parsers.Put(p)
}

// decodeObject decodes one complete JSON text into o. It reports false when
// the text is valid JSON but not an object. The syntax is strict: valid
// UTF-8, no duplicate member names, nothing but white space after the
// value.
func decodeObject(data []byte, o *object) (isObject bool, err error) {
	p := getParser(data)
	defer p.release()
	if isObject, err = p.object(o); err != nil {
		return false, err
	}
	if _, err := p.dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errTrailing
		}
		return false, err
	}
	return isObject, nil
}

// object reads the next value; if it is an object, into o.
func (p *parser) object(o *object) (bool, error) {
	if p.dec.PeekKind() != '{' {
		_, err := p.dec.ReadValue()
		return false, err
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return false, err
	}
	for p.dec.PeekKind() != '}' {
		name, err := p.dec.ReadValue()
		if err != nil {
			return false, err
		}
		id, known := p.fieldOf(name)
		val, err := p.dec.ReadValue()
		if err != nil {
			return false, err
		}
		o.members++
		if !known {
			continue
		}
		v := value{kind: val.Kind()}
		switch v.kind {
		case '"':
			if v.str, err = p.unquote(val); err != nil {
				return false, err
			}
		case '0', '{', '[':
			v.raw = bytes.Clone(val)
		}
		o.v[id] = v
	}
	_, err := p.dec.ReadToken()
	return true, err
}

// fieldOf maps a quoted member name to a field.
func (p *parser) fieldOf(name jsontext.Value) (fieldID, bool) {
	inner := name[1 : len(name)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return lookupField(inner)
	}
	var err error
	if p.buf, err = jsontext.AppendUnquote(p.buf[:0], name); err != nil {
		return 0, false
	}
	return lookupField(p.buf)
}

func (p *parser) unquote(v jsontext.Value) (string, error) {
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var err error
	p.buf, err = jsontext.AppendUnquote(p.buf[:0], v)
	return string(p.buf), err
}

// Validation messages, Capgo's (plugin_runtime/utils/utils.ts).
const (
	msgAppIDMissing       = "App ID is required"
	msgAppIDNotString     = "App ID must be a string"
	msgAppIDInvalid       = "App ID must be a reverse domain string"
	msgDeviceIDMissing    = "Device ID is required"
	msgDeviceIDNotString  = "Device ID must be a string"
	msgDeviceIDInvalid    = "Device ID must be a valid UUID string"
	msgVersionNameMissing = "Version name is required"
	msgVersionNameType    = "Version name must be a string"
	msgVersionBuildMiss   = "Version build is required"
	msgVersionBuildType   = "Version build must be a string"
	msgVersionOSMissing   = "Version OS is required"
	msgVersionOSType      = "Version OS must be a string"
	msgPlatformMissing    = "Platform is required"
	msgPlatformType       = "Platform must be a string"
	msgPlatformInvalid    = "Platform is not supported or invalid"
	msgPluginMissing      = "plugin_version is required"
	msgPluginInvalid      = "Plugin version is invalid"
)

// Bounds of the schemas (protocol §1, §6).
const (
	maxDeviceIDLen      = resolver.DeviceIDLen
	maxInstallSourceLen = 64
	maxCustomIDLen      = 36
	maxKeyIDLen         = 20
	maxMetadataFields   = 30
	maxMetadataKeyLen   = 64
	maxMetadataValueLen = 2048
)

// validAppID is Capgo's app id rule, /^[a-z0-9]+(\.[\w-]+)+$/i, without
// a regexp engine (it runs on every request).
func validAppID(s string) bool {
	i := 0
	for i < len(s) && isAlnum(s[i]) {
		i++
	}
	if i == 0 || i == len(s) {
		return false
	}
	for i < len(s) {
		if s[i] != '.' {
			return false
		}
		i++
		j := i
		for i < len(s) && (isAlnum(s[i]) || s[i] == '_' || s[i] == '-') {
			i++
		}
		if i == j {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// jsLen is a string's JavaScript length: UTF-16 code units.
func jsLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// schema names the per-endpoint body schemas (Capgo's plugin_validation.ts).
type schema uint8

const (
	schemaUpdate      schema = iota // POST /updates (and manifest_size)
	schemaStats                     // POST /stats, per event
	schemaChannel                   // POST, PUT, DELETE /channel_self
	schemaChannelList               // GET /channel_self
)

// request is a validated body.
type request struct {
	AppID         string
	DeviceID      string // lower-cased; "" only for listChannels without one
	Platform      string
	VersionBuild  string
	VersionName   string
	VersionCode   string
	VersionOS     string
	PluginVersion string
	CustomID      string // trimmed
	DefaultCh     string
	InstallSource string // trimmed, lower-cased
	KeyID         string
	Channel       string
	IsEmulator    bool
	IsProd        bool

	// Stats events (and channel_self's "set"/"unset").
	Action         string
	OldVersionName string
	Metadata       map[string]string
	TimestampMS    int64 // the device's clock, 0 when not sent
}

// device is what the resolver needs.
func (r *request) device() resolver.Device {
	return resolver.Device{
		AppID: r.AppID, DeviceID: r.DeviceID, Platform: resolver.Platform(r.Platform),
		VersionBuild: r.VersionBuild, VersionName: r.VersionName, PluginVersion: r.PluginVersion,
		IsEmulator: r.IsEmulator, IsProd: r.IsProd, DefaultChannel: r.DefaultCh,
		CustomID: r.CustomID, KeyID: r.KeyID,
	}
}

// issue is one schema violation, sent in moreInfo.issues.
type issue struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// validate turns a decoded body into a request the way Capgo's
// parsePluginBody does, in its order: empty body, missing device_id (unless
// listing channels), missing app_id, uncoercible version_build, defaults
// for is_emulator and is_prod, then the endpoint's schema. invalid is the
// code of an empty body or a schema failure: invalid_json_body, or
// invalid_query_parameters for GET and DELETE.
func validate(o *object, s schema, invalid resolver.Code) (*request, *apiError) {
	if o.members == 0 {
		return nil, newAPIError(invalid, map[string]any{"reason": "empty body"})
	}
	v := &o.v
	if s != schemaChannelList && !v[fDeviceID].truthy() {
		return nil, newAPIError(resolver.CodeMissingDeviceID, nil)
	}
	if !v[fAppID].truthy() {
		return nil, newAPIError(resolver.CodeMissingAppID, nil)
	}
	if vb := v[fVersionBuild]; vb.isString() && vb.str != "" {
		// "unknown" is left for the resolver, which answers it with
		// unknown_version_build (protocol §8 step 3).
		if !nativeVersions.ok(vb.str) && !(s == schemaUpdate && vb.str == resolver.Unknown) {
			e := newAPIError(resolver.CodeSemverError, map[string]any{"version_build": vb.str})
			e.status = http.StatusBadRequest // the parser's; the resolver's is 200
			e.message = fmt.Sprintf("Native version: %s doesn't follow semver convention, please check https://capgo.app/semver_tester/ to learn more about semver usage in Capgo", vb.str)
			return nil, e
		}
	}
	r := &request{IsProd: true}
	var issues []issue
	add := func(f fieldID, msg string) { issues = append(issues, issue{fieldNames[f], msg}) }
	// str checks an optional string member; req makes it required with
	// the given messages.
	str := func(f fieldID, missing, notString string, dst *string) bool {
		val := v[f]
		switch {
		case !val.present():
			if missing != "" {
				add(f, missing)
			}
			return false
		case !val.isString():
			if notString == "" {
				notString = fieldNames[f] + " must be a string"
			}
			add(f, notString)
			return false
		}
		*dst = val.str
		return true
	}
	boolean := func(f fieldID, def bool, dst *bool) {
		switch val := v[f]; val.kind {
		case 0, 'n':
			*dst = def
		case 't', 'f':
			*dst = val.kind == 't'
		default:
			add(f, fieldNames[f]+" must be a boolean")
		}
	}
	maxLen := func(f fieldID, s string, n int) {
		if jsLen(s) > n {
			add(f, fmt.Sprintf("String must contain at most %d character(s)", n))
		}
	}

	// app_id and device_id (every schema; device_id optional when listing).
	if str(fAppID, msgAppIDMissing, msgAppIDNotString, &r.AppID) && !validAppID(r.AppID) {
		add(fAppID, msgAppIDInvalid)
	}
	if s == schemaChannelList {
		// listChannels does not check device_id (Capgo's GET schema has none).
		if val := v[fDeviceID]; val.isString() {
			r.DeviceID = strings.ToLower(val.str)
		}
	} else {
		if str(fDeviceID, msgDeviceIDMissing, msgDeviceIDNotString, &r.DeviceID) {
			r.DeviceID = strings.ToLower(r.DeviceID)
			switch {
			case jsLen(r.DeviceID) > maxDeviceIDLen:
				maxLen(fDeviceID, r.DeviceID, maxDeviceIDLen)
			case !resolver.ValidDeviceID(r.DeviceID):
				add(fDeviceID, msgDeviceIDInvalid)
			}
		}
	}
	// version_name and version_build.
	switch s {
	case schemaUpdate:
		if str(fVersionName, msgVersionNameMissing, msgVersionNameType, &r.VersionName) && r.VersionName == "" {
			add(fVersionName, msgVersionNameMissing)
		}
		if str(fVersionBuild, msgVersionBuildMiss, msgVersionBuildType, &r.VersionBuild) && r.VersionBuild == "" {
			add(fVersionBuild, msgVersionBuildMiss)
		}
	case schemaStats:
		str(fVersionName, msgVersionNameMissing, msgVersionNameType, &r.VersionName)
		str(fVersionBuild, "", "", &r.VersionBuild)
	case schemaChannel:
		str(fVersionName, msgVersionNameMissing, msgVersionNameType, &r.VersionName)
		str(fVersionBuild, msgVersionBuildMiss, msgVersionBuildType, &r.VersionBuild)
	case schemaChannelList:
		str(fVersionName, "", "", &r.VersionName)
		str(fVersionBuild, "", "", &r.VersionBuild)
	}
	boolean(fIsEmulator, false, &r.IsEmulator)
	boolean(fIsProd, true, &r.IsProd)
	// platform.
	if s == schemaStats {
		str(fPlatform, msgPlatformMissing, msgPlatformType, &r.Platform)
	} else {
		switch val := v[fPlatform]; {
		case !val.present():
			add(fPlatform, msgPlatformMissing)
		case !val.isString() || !resolver.Platform(val.str).Valid():
			add(fPlatform, msgPlatformInvalid)
		default:
			r.Platform = val.str
		}
	}
	// plugin_version: required semver for update checks, else optional.
	if s == schemaUpdate {
		switch val := v[fPluginVersion]; {
		case !val.present():
			add(fPluginVersion, msgPluginMissing)
		case !val.isString():
			add(fPluginVersion, msgPluginInvalid)
		default:
			if !pluginVersions.ok(val.str) {
				add(fPluginVersion, msgPluginInvalid)
			}
			r.PluginVersion = val.str
		}
	} else {
		str(fPluginVersion, "", "", &r.PluginVersion)
	}
	if s == schemaStats {
		str(fVersionOS, msgVersionOSMissing, msgVersionOSType, &r.VersionOS)
		str(fOldVersionName, "", "", &r.OldVersionName)
		str(fVersionCode, "", "", &r.VersionCode)
		str(fChannel, "", "", &r.Channel)
		if str(fCustomID, "", "", &r.CustomID) {
			maxLen(fCustomID, r.CustomID, maxCustomIDLen)
		}
		if val := v[fAction]; val.present() {
			if !val.isString() {
				add(fAction, "action must be a string")
			} else if !allowedActions[val.str] {
				add(fAction, "action must be one of the Capgo stats actions")
			} else {
				r.Action = val.str
			}
		}
		if val := v[fMetadata]; val.present() {
			var msg string
			if r.Metadata, msg = decodeMetadata(val); msg != "" {
				add(fMetadata, msg)
			}
		}
		// timestamp (epoch ms) is not in the schema: used when it is a
		// number.
		if val := v[fTimestamp]; val.kind == '0' {
			if ms, err := strconv.ParseFloat(string(val.raw), 64); err == nil && ms > 0 && ms < 1e15 {
				r.TimestampMS = int64(ms)
			}
		}
	} else {
		// Not in these schemas: used when they are strings, ignored when
		// they are not (Capgo accepts unknown members).
		for f, dst := range map[fieldID]*string{fVersionOS: &r.VersionOS, fVersionCode: &r.VersionCode, fCustomID: &r.CustomID} {
			if val := v[f]; val.isString() {
				*dst = val.str
			}
		}
		if s == schemaChannel || s == schemaChannelList {
			str(fChannel, "", "", &r.Channel)
		}
		// action is not in Capgo's channel schema either; Capgo's Electron
		// updater sends "set" with setChannel and "unset" (no channel) with
		// unsetChannel.
		if val := v[fAction]; s == schemaChannel && val.isString() {
			r.Action = val.str
		}
	}
	if s != schemaChannelList {
		str(fDefaultChannel, "", "", &r.DefaultCh)
		if val := v[fInstallSource]; val.present() {
			if !val.isString() {
				add(fInstallSource, "install_source must be a string")
			} else {
				maxLen(fInstallSource, val.str, maxInstallSourceLen)
				r.InstallSource = strings.ToLower(strings.TrimSpace(val.str))
			}
		}
	}
	if str(fKeyID, "", "", &r.KeyID) {
		maxLen(fKeyID, r.KeyID, maxKeyIDLen)
	}
	if len(issues) > 0 {
		return nil, newAPIError(invalid, map[string]any{"issues": issues})
	}
	r.CustomID = strings.TrimSpace(r.CustomID)
	return r, nil
}

// versionCache remembers whether version strings parse: plugin_version and
// version_build take few distinct values, and every check carries both.
type versionCache struct {
	parse func(string) error
	mu    sync.RWMutex
	m     map[string]bool
}

// maxCachedVersions bounds a versionCache; past it, it starts over.
const maxCachedVersions = 4096

var (
	pluginVersions = &versionCache{parse: func(s string) error { _, err := resolver.ParseVersion(s); return err }}
	nativeVersions = &versionCache{parse: func(s string) error { _, err := resolver.ParseNativeVersion(s); return err }}
)

// ok reports whether s parses.
func (c *versionCache) ok(s string) bool {
	c.mu.RLock()
	ok, found := c.m[s]
	c.mu.RUnlock()
	if found {
		return ok
	}
	ok = c.parse(s) == nil
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedVersions {
		c.m = make(map[string]bool)
	}
	c.m[s] = ok
	c.mu.Unlock()
	return ok
}

// decodeMetadata checks a stats event's metadata: an object of at most 30
// members, names of at most 64 characters, string values of at most 2048.
// It returns the map or the reason it is refused.
func decodeMetadata(v value) (map[string]string, string) {
	const refused = "metadata must be an object with string values"
	if v.kind != '{' {
		return nil, refused
	}
	p := getParser(v.raw)
	defer p.release()
	if _, err := p.dec.ReadToken(); err != nil {
		return nil, refused
	}
	m := map[string]string{}
	for p.dec.PeekKind() != '}' {
		nameTok, err := p.dec.ReadValue()
		if err != nil {
			return nil, refused
		}
		name, err := p.unquote(nameTok)
		if err != nil {
			return nil, refused
		}
		val, err := p.dec.ReadValue()
		if err != nil {
			return nil, refused
		}
		if len(m) == maxMetadataFields {
			return nil, fmt.Sprintf("metadata must contain at most %d fields", maxMetadataFields)
		}
		if jsLen(name) > maxMetadataKeyLen {
			return nil, fmt.Sprintf("metadata keys must contain at most %d characters", maxMetadataKeyLen)
		}
		if val.Kind() != '"' {
			return nil, "metadata values must be strings"
		}
		s, err := p.unquote(val)
		if err != nil {
			return nil, refused
		}
		if jsLen(s) > maxMetadataValueLen {
			return nil, fmt.Sprintf("metadata values must contain at most %d characters", maxMetadataValueLen)
		}
		m[name] = s
	}
	return m, ""
}

// objectFromQuery builds a body from a GET or DELETE query string the way
// Capgo's convertQueryToBody does: an empty query is an empty body;
// otherwise the known parameters become strings, except is_emulator (true
// when "true", default false) and is_prod (true when "true", default true).
func objectFromQuery(q url.Values) *object {
	o := &object{}
	if len(q) == 0 {
		return o
	}
	o.members = len(q)
	for _, f := range []fieldID{fVersionName, fVersionBuild, fPlatform, fAppID, fDeviceID, fPluginVersion,
		fDefaultChannel, fChannel, fCustomID, fInstallSource, fVersionOS, fKeyID} {
		if vs, ok := q[fieldNames[f]]; ok && len(vs) > 0 && utf8.ValidString(vs[0]) {
			o.v[f] = value{kind: '"', str: vs[0]}
		}
	}
	for f, def := range map[fieldID]string{fIsEmulator: "false", fIsProd: "true"} {
		s := def
		if vs, ok := q[fieldNames[f]]; ok && len(vs) > 0 {
			s = vs[0]
		}
		o.v[f] = value{kind: 'f'}
		if s == "true" {
			o.v[f].kind = 't'
		}
	}
	return o
}

// allowedActions is Capgo's stats_action enum (protocol §6).
var allowedActions = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range strings.Fields(`
		set set_fail set_next reset delete update_fail download_fail
		download_0 download_10 download_20 download_30 download_40 download_50 download_60 download_70
		download_80 download_90 download_complete download_zip_start download_zip_complete
		download_manifest_start download_manifest_complete download_manifest_file_fail
		download_manifest_checksum_fail download_manifest_brotli_fail manifest_path_fail
		finish_download_fail decrypt_fail checksum_fail checksum_required unzip_fail windows_path_fail
		canonical_path_fail directory_path_fail low_mem_fail insufficient_disk_space
		app_moved_to_foreground app_moved_to_background app_launch_start app_launch_ready
		app_launch_timeout blocked_by_server_url rate_limit_reached os_version_changed
		native_app_version_changed app_crash app_crash_native app_anr app_killed_low_memory
		app_killed_excessive_resource_usage app_initialization_failure app_memory_warning
		webview_javascript_error webview_unhandled_rejection webview_resource_error
		webview_security_policy_violation webview_unclean_restart webview_render_process_gone
		webview_content_process_terminated webview_dom_content_loaded webview_page_loaded
		ping get uninstall needPlanUpgrade missingBundle noNew disablePlatformIos
		disablePlatformAndroid disablePlatformElectron disableAutoUpdateToMajor
		cannotUpdateViaPrivateChannel disableAutoUpdateToMinor disableAutoUpdateToPatch
		channelMisconfigured disableAutoUpdateMetadata disableAutoUpdateUnderNative disableDevBuild
		disableProdBuild disableEmulator disableDevice cannotGetBundle NoChannelOrOverride setChannel
		getChannel rateLimited disableAutoUpdate keyMismatch InvalidIp backend_refusal customIdBlocked`) {
		m[a] = true
	}
	return m
}()
