package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"crypto/ed25519"
	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/bench/viteapp"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
)

// answerBytes is the signed answer's size on the wire.
func answerBytes(sc api.SignedCheck) int64 {
	b, _ := sc.MarshalBinary()
	return int64(len(b))
}

// deviceUpdate checks from release from as a device does, expects an
// update to want, installs it (verifying every byte) and returns what it
// downloaded: the answer, the step and any whole objects.
func (e *nativeEnv) deviceUpdate(t *testing.T, from string, want string) int64 {
	t.Helper()
	files := e.releases[from]
	req := checkRequest(from, manifestOfFiles(t, files).Digest())
	sc := e.post(e.HTTPSClient(), req)
	a, err := checksig.Verify(sc, []ed25519.PublicKey{e.pub}, req.Subject())
	if err != nil {
		t.Fatal(err)
	}
	if a.Update == nil || a.Update.Target.Version != want {
		t.Fatalf("check from %s: %+v, want an update to %s", from, a, want)
	}
	_, n := install(t, e.HTTPSClient(), e.URL, files, a.Update)
	return answerBytes(sc) + n
}

// TestSwitchWaitsForPatches: a device that checks right after `channel
// set` returns downloads (within 10 %) what one that checks once every
// patch exists does (issue 8 item 1). The patcher's background workers are
// held, so only what the switch makes before it answers exists; with the
// old code (switch at once, patches in the background) the first device
// got whole files, as patch_wait=0 still does.
func TestSwitchWaitsForPatches(t *testing.T) {
	e := newNativeEnv(t)
	ctx := context.Background()
	va := viteapp.New(11, 4000)
	e.publish("1.0.0", va.Files())
	va.Release(3)
	e.publish("1.0.1", va.Files())
	va.Release(3)
	e.publish("1.0.2", va.Files())
	e.serve("1.0.0")
	resume := server.PausePatches(e.Server)
	c := e.Client(e.AdminKey, false)
	defer c.Close()

	// Today's behaviour, asked for: switch at once.
	zero := time.Duration(0)
	ch, err := c.SetChannelBundleWith(ctx, app, "production", "1.0.1", client.SwitchOptions{PatchWait: &zero})
	if err != nil || ch.Bundle != "1.0.1" || ch.Pending != nil {
		t.Fatalf("set with patch_wait 0: %+v, %v", ch, err)
	}
	atOnce := e.deviceUpdate(t, "1.0.0", "1.0.1")

	// The default: the answer comes when devices are served.
	ch, err = c.SetChannelBundle(ctx, app, "production", "1.0.2")
	if err != nil || ch.Bundle != "1.0.2" || ch.Pending != nil {
		t.Fatalf("set: %+v, %v", ch, err)
	}
	soon := e.deviceUpdate(t, "1.0.0", "1.0.2")
	soon1 := e.deviceUpdate(t, "1.0.1", "1.0.2")

	resume()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := server.WaitPatches(wctx, e.Server); err != nil {
		t.Fatal(err)
	}
	later := e.deviceUpdate(t, "1.0.0", "1.0.2")
	later1 := e.deviceUpdate(t, "1.0.1", "1.0.2")
	t.Logf("switch at once: %d bytes; right after the switch: %d (from 1.0.1: %d); once all patches exist: %d (%d)", atOnce, soon, soon1, later, later1)
	for _, p := range []struct {
		from        string
		soon, later int64
	}{{"1.0.0", soon, later}, {"1.0.1", soon1, later1}} {
		if float64(p.soon) > 1.1*float64(p.later) {
			t.Errorf("from %s: a device right after channel set downloads %d bytes, one an hour later %d", p.from, p.soon, p.later)
		}
	}
	if atOnce < 4*later {
		t.Errorf("switching at once cost %d bytes, with patches %d: the test does not tell them apart", atOnce, later)
	}
}

// TestSwitchPending: while the patches are being made the channel keeps
// serving the old bundle to every check (native and Capgo), channel show
// tells the switch is pending, and the switch then happens in one step
// (issue 8 item 1).
func TestSwitchPending(t *testing.T) {
	e := newNativeEnv(t)
	ctx := context.Background()
	va := viteapp.New(12, 500)
	e.publish("1.0.1", va.Files())
	va.Release(2)
	e.publish("1.0.2", va.Files())
	before := e.serve("1.0.1")
	release := server.HoldSwitches(e.Server)
	c := e.Client(e.AdminKey, false)
	defer c.Close()

	ch, err := c.SetChannelBundleWith(ctx, app, "production", "1.0.2", client.SwitchOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Bundle != "1.0.1" || ch.Pending == nil || ch.Pending.Bundle != "1.0.2" || ch.Pending.Action != "set" ||
		ch.Sequence != before.Sequence || !ch.Pending.Deadline.After(ch.Pending.Since) {
		t.Fatalf("pending set: %+v %+v", ch, ch.Pending)
	}
	if got, err := c.GetChannel(ctx, app, "production"); err != nil || got.Pending == nil || got.Pending.Bundle != "1.0.2" {
		t.Fatalf("channel show while pending: %+v, %v", got, err)
	}
	// Devices keep the old answer: a fresh device gets 1.0.1, a device on
	// 1.0.1 is up to date, the Capgo plugin gets 1.0.1.
	fresh := checkRequest("builtin", manifest.Digest{})
	if a := e.check(e.HTTPSClient(), fresh); a.Update == nil || a.Update.Target.Version != "1.0.1" || a.Sequence != before.Sequence {
		t.Fatalf("native check while pending: %+v %+v", a, a.NoUpdate)
	}
	if a := e.check(e.HTTPSClient(), checkRequest("1.0.1", manifestOfFiles(t, e.releases["1.0.1"]).Digest())); a.NoUpdate == nil {
		t.Fatalf("device on 1.0.0 while pending: %+v", a)
	}
	if v := capgoVersion(t, e, "builtin"); v != "1.0.1" {
		t.Fatalf("capgo check while pending: version %q", v)
	}
	release()
	done, err := c.WaitSwitch(ctx, ch, 20*time.Millisecond, nil)
	if err != nil || done.Bundle != "1.0.2" || done.Pending != nil || done.Sequence != before.Sequence+1 {
		t.Fatalf("after the switch: %+v, %v", done, err)
	}
	a := e.check(e.HTTPSClient(), checkRequest("1.0.1", manifestOfFiles(t, e.releases["1.0.1"]).Digest()))
	if a.Update == nil || a.Update.Target.Version != "1.0.2" {
		t.Fatalf("check after the switch: %+v", a)
	}
	if s, _ := getStep(t, e.HTTPSClient(), e.URL, e.releases["1.0.1"], a.Update); s.Codec == "" {
		t.Fatalf("the step after the switch has no patch: %s", s)
	}
	if v := capgoVersion(t, e, "builtin"); v != "1.0.2" {
		t.Fatalf("capgo check after the switch: version %q", v)
	}
	hist, err := c.ChannelHistory(ctx, app, "production")
	if err != nil || hist[len(hist)-1].Action != "set" || hist[len(hist)-1].Bundle != "1.0.2" || hist[len(hist)-1].Previous != "1.0.1" {
		t.Fatalf("history %+v, %v", hist, err)
	}
}

// capgoVersion posts a Capgo update check from a device on versionName
// (native version 1.0.0) and returns the version it is told to run (""
// for a refusal).
func capgoVersion(t *testing.T, e *nativeEnv, versionName string) string {
	t.Helper()
	return capgoUpdateVersion(t, e, versionName, "1.0.0")
}

// capgoCheck posts a Capgo update check from a device on versionName and
// native version build, and returns the version it is told to run (""
// for a refusal).
func capgoUpdateVersion(t *testing.T, e *nativeEnv, versionName, build string) string {
	t.Helper()
	body := `{"platform":"android","device_id":"44f128a5-ac7a-4c9a-be4c-224b6bf81b20","app_id":"` + app +
		`","version_build":"` + build + `","version_name":"` + versionName + `","plugin_version":"8.51.14","is_emulator":false,"is_prod":true}`
	resp, err := e.HTTPSClient().Post(e.URL+"/updates", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Version string `json:"version"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Error != "" {
		return ""
	}
	return out.Version
}

// TestSwitchLifecycle: what replaces, ends or resumes a pending switch.
func TestSwitchLifecycle(t *testing.T) {
	e := newNativeEnv(t)
	ctx := context.Background()
	va := viteapp.New(13, 200)
	for _, v := range []string{"1.0.0", "1.0.1", "1.0.2"} {
		e.publish(v, va.Files())
		va.Release(1)
	}
	e.serve("1.0.0")
	if _, err := e.Store.SetChannelBundle(ctx, app, "production", "1.0.1"); err != nil {
		t.Fatal(err)
	}
	c := e.Client(e.AdminKey, false)
	defer c.Close()
	noWait := client.SwitchOptions{NoWait: true}

	// A later change replaces a pending switch; rollback switches at once
	// and drops it.
	release := server.HoldSwitches(e.Server)
	first, err := c.SetChannelBundleWith(ctx, app, "production", "1.0.2", noWait)
	if err != nil || first.Pending == nil {
		t.Fatalf("set: %+v, %v", first, err)
	}
	no := false
	if _, err := c.UpdateChannel(ctx, app, "production", api.ChannelSettings{AllowEmulator: &no}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetChannel(ctx, app, "production"); got.Pending == nil || got.AllowEmulator {
		t.Fatalf("a settings change must keep the pending switch: %+v", got)
	}
	rb, err := c.RollbackChannel(ctx, app, "production")
	if err != nil || rb.Bundle != "1.0.0" || rb.Pending != nil {
		t.Fatalf("rollback while pending: %+v, %v", rb, err)
	}
	release()
	if _, err := c.WaitSwitch(ctx, first, 20*time.Millisecond, nil); !errors.Is(err, client.ErrSwitchReplaced) {
		t.Fatalf("waiting for a replaced switch: %v", err)
	}
	if got, _ := c.GetChannel(ctx, app, "production"); got.Bundle != "1.0.0" || got.Pending != nil {
		t.Fatalf("the replaced switch happened anyway: %+v", got)
	}

	// A bundle a switch is pending for cannot be deleted.
	release = server.HoldSwitches(e.Server)
	if _, err := c.SetChannelBundleWith(ctx, app, "production", "1.0.2", noWait); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteBundle(ctx, app, "1.0.2"); apiCode(err) != api.CodeBundleInUse && !strings.Contains(errString(err), "pending") {
		t.Fatalf("delete of the pending bundle: %v", err)
	}

	// A restart resumes it.
	e.Restart()
	release()
	c2 := e.Client(e.AdminKey, false)
	defer c2.Close()
	got, err := c2.GetChannel(ctx, app, "production")
	if err != nil {
		t.Fatal(err)
	}
	if got, err = c2.WaitSwitch(ctx, got, 20*time.Millisecond, nil); err != nil || got.Bundle != "1.0.2" {
		t.Fatalf("after a restart: %+v, %v", got, err)
	}

	// Past its patch wait the server switches anyway.
	tiny := time.Nanosecond
	got, err = c2.SetChannelBundleWith(ctx, app, "production", "1.0.0", client.SwitchOptions{PatchWait: &tiny})
	if err != nil || got.Bundle != "1.0.0" || got.Pending != nil {
		t.Fatalf("patch wait over: %+v, %v", got, err)
	}

	// Rollouts: a start waits, a pause does not.
	release = server.HoldSwitches(e.Server)
	ro, err := c2.RolloutWith(ctx, app, "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.0.2", BasisPoints: 2500}, noWait)
	if err != nil || ro.Rollout != nil || ro.Pending == nil || ro.Pending.Rollout == nil || ro.Pending.Rollout.BasisPoints != 2500 {
		t.Fatalf("rollout start: %+v, %v", ro, err)
	}
	release()
	if ro, err = c2.WaitSwitch(ctx, ro, 20*time.Millisecond, nil); err != nil || ro.Rollout == nil || ro.Rollout.Bundle != "1.0.2" {
		t.Fatalf("rollout after the switch: %+v, %v", ro, err)
	}
	server.HoldSwitches(e.Server) // held for good: a pause must not need a runner
	if ro, err = c2.RolloutWith(ctx, app, "production", api.RolloutRequest{Action: api.RolloutPause}, noWait); err != nil || ro.Pending != nil || !ro.Rollout.Paused {
		t.Fatalf("pause: %+v, %v", ro, err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSwitchRequestRefusals: bad switch options are 400 and change
// nothing; the signing key and builtin routes check their input.
func TestSwitchRequestRefusals(t *testing.T) {
	e := newNativeEnv(t)
	e.publish("1.0.0", map[string][]byte{"index.html": []byte("<h1>1</h1>")})
	e.publish("1.0.1", map[string][]byte{"index.html": []byte("<h1>2</h1>")})
	before := e.serve("1.0.0")
	do := func(method, path, body, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.URL+path, bytes.NewReader([]byte(body)))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := e.HTTPSClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	set := "/api/v1/apps/" + app + "/channels/production/bundle"
	for _, q := range []string{"?wait=maybe", "?patch_wait=soon", "?patch_wait=-1s"} {
		if st, b := do("PUT", set+q, `{"bundle":"1.0.1"}`, e.AdminKey); st != 400 || !strings.Contains(b, `"error":"bad_request"`) {
			t.Errorf("%s: %d %s", q, st, b)
		}
	}
	if got, _ := e.Store.GetChannel(context.Background(), app, "production"); got.Bundle != "1.0.0" || got.Pending != nil || got.Sequence != before.Sequence {
		t.Fatalf("a refused change changed the channel: %+v", got)
	}
	if st, _ := do("GET", api.PathSigningKey, "", ""); st != 401 {
		t.Errorf("signing key without a key: %d", st)
	}
	builtin := "/api/v1/apps/" + app + "/bundles/1.0.0/builtin"
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{builtin, `{"native_version":""}`, 400},
		{builtin, `{"native_version":"1.0 beta"}`, 400},
		{builtin, `{"native_version":"1.0","x":1}`, 400},
		{"/api/v1/apps/" + app + "/bundles/9.9.9/builtin", `{"native_version":"1.0"}`, 404},
	} {
		if st, b := do("PUT", c.path, c.body, e.AdminKey); st != c.status {
			t.Errorf("PUT %s %s: %d %s", c.path, c.body, st, b)
		}
	}
	if b, _ := e.Store.GetBundle(context.Background(), app, "1.0.0"); b.Builtin {
		t.Fatal("a refused builtin request marked the bundle")
	}
}
