package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
)

const browserApp = "com.example.console"

// stepTimeout bounds one step of a browser test, so that a page that never
// shows what a step waits for fails the test with the step's name.
const stepTimeout = 30 * time.Second

// browser is one headless Chromium tab on a running server, with what the
// page reported: JavaScript exceptions, console errors and dialogs.
type browser struct {
	t        *testing.T
	ctx      context.Context
	env      *servertest.Env
	shots    string
	mu       sync.Mutex
	problems []string
	dialogs  int
}

// chromium finds Debian's Chromium, or skips the test.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium installed (apt-get install chromium chromium-driver; .ci/run does): browser tests skipped")
	return ""
}

func newBrowser(t *testing.T, env *servertest.Env) *browser {
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	shots := os.Getenv("PATCHWIRE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// Start the browser on the tab's own context, so that the timeouts of
	// single steps (run) do not end it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	b := &browser{t: t, ctx: ctx, env: env, shots: shots}
	// Errors and warnings the page logs (CSP refusals among them),
	// uncaught exceptions, and dialogs, which are closed at once.
	messages := chromedp.Console(ctx)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleException || m.Type == "error" || m.Type == "warning" {
				b.mu.Lock()
				b.problems = append(b.problems, string(m.Type)+": "+m.Text)
				b.mu.Unlock()
			}
		}
	}()
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs++
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

// run runs browser actions and fails the test, with a screenshot, on error.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + strings.NewReplacer(" ", "-", "/", "_").Replace(what))
		b.t.Fatalf("%s: %v (page problems: %v)", what, err, b.pageProblems())
	}
}

func (b *browser) pageProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// shot saves a full-page PNG screenshot named name.
func (b *browser) shot(name string) {
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
}

// open goes to a console route (the part after #) and waits for sel.
func (b *browser) open(route, sel string) {
	b.t.Helper()
	b.run("open "+route, chromedp.Navigate(b.env.URL+"/console/#"+route), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// signIn loads the console and signs in with key.
func (b *browser) signIn(key string) {
	b.t.Helper()
	b.run("sign in", chromedp.Navigate(b.env.URL+"/console/"), chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), key), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="whoami"]`)))
}

// waitFor polls a JavaScript condition until it is true.
func (b *browser) waitFor(what, js string) {
	b.t.Helper()
	poll := chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))
	b.run(what, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		return chromedp.Void{}, err
	})
}

// clickLive runs js (which may set form values first) and clicks the
// element sel in one script, polled until sel is there: a page that
// re-renders (after an action, or on its refresh timer) can replace the node
// chromedp.Click found before its click lands.
func (b *browser) clickLive(what, sel, js string) {
	b.t.Helper()
	b.waitFor(what, `(() => { const e = document.querySelector(`+"`"+sel+"`"+`); if (!e) return false; `+js+`; e.click(); return true })()`)
}

// device simulates one Capgo device: an update check, then a stats event.
func device(t *testing.T, env *servertest.Env, n int, customID, action, version string) string {
	t.Helper()
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	info := map[string]any{"platform": "android", "device_id": id, "app_id": browserApp, "custom_id": customID,
		"version_build": "1.0.0", "version_code": "10", "version_os": "14", "version_name": "builtin",
		"plugin_version": "8.51.14", "is_emulator": false, "is_prod": true, "defaultChannel": ""}
	post := func(path string, body map[string]any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		resp, err := env.HTTPSClient().Post(env.URL+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	post("/updates", info)
	if action != "" {
		ev := map[string]any{"action": action, "version_name": version}
		for k, v := range info {
			if _, ok := ev[k]; !ok {
				ev[k] = v
			}
		}
		post("/stats", ev)
	}
	return id
}

// upload sends a small bundle through the client, as CI does.
func upload(t *testing.T, c *client.Client, version string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"index.html": "<!doctype html><script src=app.js></script>", "app.js": "console.log(" + strconv.Quote(version) + ")" + strings.Repeat(";", 2000)}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := manifest.OpenDir(context.Background(), dir, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := c.Upload(context.Background(), src, client.UploadOptions{App: browserApp, Version: version}); err != nil {
		t.Fatal(err)
	}
}

func startServer(t *testing.T) (*servertest.Env, *client.Client) {
	chromium(t)
	// Channel switches happen at once (no wait for patches), as in the
	// scope tests, so that the page shows them without a pending state.
	env := servertest.Start(t, func(c *server.Config, _ *store.Options) { c.PatchWait = -1 })
	c := env.Client(env.AdminKey, false)
	t.Cleanup(c.Close)
	if _, err := c.CreateApp(context.Background(), browserApp); err != nil {
		t.Fatal(err)
	}
	return env, c
}

// TestBrowserConsole drives the console in Chromium through a release:
// sign in, create a channel, set an uploaded bundle, start a rollout and
// pause it, find a device and pin it, and watch the adoption chart grow as
// devices report. Each page is saved as a screenshot.
func TestBrowserConsole(t *testing.T) {
	env, c := startServer(t)
	ctx := context.Background()
	b := newBrowser(t, env)
	b.signIn(env.AdminKey)
	b.open("/apps", `[data-testid="apps"]`)
	b.waitFor("app listed", `document.querySelector('[data-testid="app-link"]')?.textContent === "`+browserApp+`"`)
	b.shot("01-apps")

	// A channel, created in the page.
	b.open("/apps/"+browserApp+"/channels", "#create-channel-form")
	b.run("create channel", chromedp.SendKeys(chromedp.ID("new-channel"), "production"),
		chromedp.Click(chromedp.ID("new-channel-public")), chromedp.Click(chromedp.ID("create-channel")),
		chromedp.WaitVisible(chromedp.ID("channel-bundle")))
	if ch, err := c.GetChannel(ctx, browserApp, "production"); err != nil || !ch.Public {
		t.Fatalf("channel after create: %+v, %v", ch, err)
	}

	// Two bundles from CI; the page sets the first.
	upload(t, c, "1.0.0")
	upload(t, c, "1.1.0")
	b.open("/apps/"+browserApp+"/bundles", `[data-testid="bundles"]`)
	b.waitFor("bundles listed", `document.querySelectorAll('tr[data-version]').length === 2`)
	b.shot("02-bundles")
	b.open("/apps/"+browserApp+"/channels/production", "#set-bundle")
	b.run("set bundle", chromedp.SetValue(chromedp.ID("set-bundle-version"), "1.0.0"), chromedp.Click(chromedp.ID("set-bundle")))
	b.waitFor("bundle set", `document.getElementById("channel-bundle")?.textContent === "1.0.0"`)

	// A rollout of 1.1.0 to 30 %, then paused.
	b.run("start rollout", chromedp.WaitVisible(chromedp.ID("rollout-start")), chromedp.SetValue(chromedp.ID("rollout-bundle"), "1.1.0"),
		chromedp.SetValue(chromedp.ID("rollout-range"), "30"), chromedp.SetValue(chromedp.ID("rollout-pct"), "30"),
		chromedp.Click(chromedp.ID("rollout-start")), chromedp.WaitVisible(chromedp.ID("rollout-pause")))
	b.run("pause rollout", chromedp.Click(chromedp.ID("rollout-pause")), chromedp.WaitVisible(chromedp.ID("rollout-paused")))
	ch, err := c.GetChannel(ctx, browserApp, "production")
	if err != nil || ch.Bundle != "1.0.0" || ch.Rollout == nil || ch.Rollout.Bundle != "1.1.0" || ch.Rollout.BasisPoints != 3000 || !ch.Rollout.Paused {
		t.Fatalf("channel after the page's rollout: %+v, %v; want 1.0.0 with 1.1.0 at 3000 bp, paused", ch, err)
	}

	// Devices check and install; the stats page's adoption chart grows.
	b.open("/apps/"+browserApp+"/stats", "#adoption-chart")
	b.waitFor("empty chart", `document.getElementById("adoption-chart").dataset.last === "0"`)
	for i := range 6 {
		device(t, env, i, fmt.Sprintf("tester-%d", i), "set", "1.0.0")
	}
	b.run("refresh stats", chromedp.Click(chromedp.ID("stats-refresh")))
	b.waitFor("adoption chart shows the devices", `Number(document.getElementById("adoption-chart")?.dataset.last) === 6`)
	b.shot("03-stats-adoption")

	// The rollout page shows them on the channel's bundle.
	b.open("/apps/"+browserApp+"/channels/production", "#rollout-share")
	b.waitFor("live share", `Number(document.getElementById("rollout-share")?.dataset.total) === 6`)
	b.shot("04-channel-rollout")

	// Find a device by its custom id and pin it.
	b.open("/apps/"+browserApp+"/devices", "#device-q")
	b.run("search device", chromedp.SendKeys(chromedp.ID("device-q"), "TESTER-3"), chromedp.Click(chromedp.ID("device-search")))
	b.waitFor("one result", `document.querySelectorAll('[data-testid="device-link"]').length === 1`)
	b.shot("05-devices")
	b.run("open device", chromedp.Click(chromedp.CSS(`[data-testid="device-link"]`)), chromedp.WaitVisible(chromedp.ID("pin")),
		chromedp.SetValue(chromedp.ID("pin-channel"), "production"), chromedp.Click(chromedp.ID("pin")))
	b.waitFor("pinned", `document.getElementById("device-override")?.textContent.includes("production")`)
	b.shot("06-device")
	dc, err := c.DeviceChannels(ctx, browserApp, fmt.Sprintf("00000000-0000-4000-8000-%012d", 3))
	if err != nil || dc.Override != "production" {
		t.Fatalf("device channels after the page's pin: %+v, %v", dc, err)
	}

	// A guard on the channel; devices report that 1.1.0 fails to download.
	// The guard rolls the rollout back, and the channel list says so.
	rate, minimum, action := 500, int64(5), api.GuardRollback
	if _, err := c.UpdateChannel(ctx, browserApp, "production", api.ChannelSettings{Guard: &api.GuardSettings{FailureRateBP: &rate, MinInstalls: &minimum, Action: &action}}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		device(t, env, 10+i, "", "download_fail", "1.1.0")
	}
	if ch, err := c.GetChannel(ctx, browserApp, "production"); err != nil || ch.Rollout != nil || len(ch.GuardTrips) != 1 {
		t.Fatalf("channel after failing devices: %+v, %v; want the rollout rolled back by the guard", ch, err)
	}
	b.open("/apps/"+browserApp+"/channels", `[data-testid="channels"]`)
	b.waitFor("guard trip shown", `[...document.querySelectorAll('tr[data-channel="production"] .badge')].some((e) => e.textContent === "guard tripped" && e.title.includes("cancelled the rollout of 1.1.0"))`)
	b.shot("07-channels-guard")
	if p := b.pageProblems(); len(p) > 0 {
		t.Errorf("the page reported problems: %v", p)
	}
}

// TestBrowserReadKey: a read key sees the pages but its action buttons are
// disabled, and the API refuses it anyway.
func TestBrowserReadKey(t *testing.T) {
	env, c := startServer(t)
	ctx := context.Background()
	if _, err := c.CreateChannel(ctx, browserApp, api.CreateChannelRequest{Name: "beta"}); err != nil {
		t.Fatal(err)
	}
	key, err := c.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeRead, Name: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, env)
	b.signIn(key.Secret)
	b.open("/apps/"+browserApp+"/channels/beta", "#set-bundle")
	b.waitFor("actions disabled", `document.getElementById("set-bundle").disabled && document.getElementById("rollback").disabled`)
	b.open("/apps/"+browserApp+"/channels", `[data-testid="channels"]`)
	b.waitFor("no create form", `document.getElementById("create-channel-form") === null`)
	b.run("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("key")))
	stored, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`sessionStorage.getItem("patchwire.key") || ""`))
	if err != nil {
		t.Fatal(err)
	}
	if stored != "" {
		t.Errorf("key still in session storage after sign-out")
	}
}

// TestBrowserXSS: a custom id that is HTML is shown as text; nothing of it
// runs or becomes an element.
func TestBrowserXSS(t *testing.T) {
	env, c := startServer(t)
	if _, err := c.CreateChannel(context.Background(), browserApp, api.CreateChannelRequest{Name: "production", ChannelSettings: api.ChannelSettings{Public: ptr(true)}}); err != nil {
		t.Fatal(err)
	}
	const evil = `<img src=x onerror=alert(1)>`
	id := device(t, env, 42, evil, "", "")
	// Sightings are written in batches: the page lists the device once
	// its batch is in.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ds, err := c.SearchDevices(context.Background(), browserApp, "", 10); err == nil && len(ds) == 1 || time.Now().After(deadline) {
			break
		}
	}
	b := newBrowser(t, env)
	b.signIn(env.AdminKey)
	b.open("/apps/"+browserApp+"/devices", `[data-testid="devices"]`)
	b.waitFor("device listed", `document.querySelectorAll('[data-testid="device-link"]').length === 1`)
	text, imgs := b.textAndImages(`td.custom-id`)
	if text != evil || imgs != 0 {
		t.Errorf("custom id shown as %q with %d img elements; want the text itself and none", text, imgs)
	}
	b.open("/apps/"+browserApp+"/devices/"+id, "#device-info")
	text, imgs = b.textAndImages(`#device-info dd.custom-id`)
	if text != evil || imgs != 0 {
		t.Errorf("device page: custom id %q, %d img elements", text, imgs)
	}
	time.Sleep(300 * time.Millisecond) // an onerror would have fired by now
	b.mu.Lock()
	dialogs := b.dialogs
	b.mu.Unlock()
	if dialogs != 0 {
		t.Errorf("%d JavaScript dialogs opened", dialogs)
	}
	b.shot("07-xss")
}

func ptr[T any](v T) *T { return &v }

// textAndImages reads the text of the element sel names and counts the
// img elements in the page's main part.
func (b *browser) textAndImages(sel string) (string, int) {
	b.t.Helper()
	text, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatal(err)
	}
	imgs, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("main img").length`))
	if err != nil {
		b.t.Fatal(err)
	}
	return text, imgs
}
