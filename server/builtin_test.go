package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"crypto/ed25519"
	"github.com/patchwire/patchwire/bench/viteapp"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/server"
)

// TestBuiltinBundle: a bundle registered as builtin is a base of every
// switch, however many releases came after it, so a device on the store
// install gets its first update as a patch on the native protocol; a
// Capgo device reporting "builtin" on that native version is counted as
// running it (so it is a most-installed base too) and still gets the
// channel's bundle (issue 8 item 2).
func TestBuiltinBundle(t *testing.T) {
	e := newNativeEnv(t)
	ctx := context.Background()
	c := e.Client(e.AdminKey, false)
	defer c.Close()
	va := viteapp.New(21, 600)
	shipped := e.publish("1.4.0-builtin", va.Files())
	b, err := c.MarkBuiltin(ctx, app, "1.4.0-builtin", "1.4")
	if err != nil || !b.Builtin || b.NativeVersion != "1.4" || b.Manifest != shipped.Digest() {
		t.Fatalf("mark builtin: %+v, %v", b, err)
	}
	for i := 1; i <= 6; i++ {
		va.Release(2)
		e.publish(fmt.Sprintf("1.4.%d", i), va.Files())
	}
	e.serve("1.4.1")
	resume := server.PausePatches(e.Server) // only what the switch makes
	defer resume()
	if ch, err := c.SetChannelBundle(ctx, app, "production", "1.4.6"); err != nil || ch.Bundle != "1.4.6" {
		t.Fatalf("set: %+v, %v", ch, err)
	}

	// Native: the device runs the shipped files and says "builtin".
	req := checkRequest("builtin", shipped.Digest())
	req.NativeVersion = "1.4.0"
	sc := e.post(e.HTTPSClient(), req)
	a, err := checksig.Verify(sc, []ed25519.PublicKey{e.pub}, req.Subject())
	if err != nil || a.Update == nil || a.Update.Target.Version != "1.4.6" {
		t.Fatalf("native check from builtin: %+v, %v", a, err)
	}
	s, _ := getStep(t, e.HTTPSClient(), e.URL, e.releases["1.4.0-builtin"], a.Update)
	if _, patched, objects := countKinds(s); s.From != shipped.Digest() || patched == 0 || objects != 0 {
		t.Fatalf("the first update from the store install is not one patch: %s", s)
	}
	_, n := install(t, e.HTTPSClient(), e.URL, e.releases["1.4.0-builtin"], a.Update)
	if n, whole := answerBytes(sc)+n, manifestOfFiles(t, e.releases["1.4.6"]).TotalSize(); n*10 > whole {
		t.Errorf("downloaded %d bytes of a %d-byte bundle", n, whole)
	}

	// Capgo: version_name builtin, version_build the native version.
	if v := capgoUpdateVersion(t, e, "builtin", "1.4.0"); v != "1.4.6" {
		t.Fatalf("capgo check from builtin: version %q", v)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		stats, err := e.Store.BundleStats(ctx, app, "production")
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) == 1 && stats[0].Version == "1.4.0-builtin" && stats[0].Devices == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the capgo device on builtin is not counted under the builtin bundle: %+v", stats)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Another native version has no registered bundle: still "builtin".
	if v := capgoUpdateVersion(t, e, "builtin", "2.0.0"); v != "" && v != "1.4.6" {
		t.Fatalf("capgo check on 2.0.0: %q", v)
	}
}
