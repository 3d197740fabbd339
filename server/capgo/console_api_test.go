package capgo_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestConsoleReadAPI: what Capgo devices report shows in the routes the
// console reads: device search and detail, the stats series, and the
// bundle list's stored bytes and serving channels.
func TestConsoleReadAPI(t *testing.T) {
	env := servertest.Start(t)
	h := env.HTTPSClient()
	newApp(t, env, testApp)
	shared := []byte("<!doctype html>same in both")
	commitBundle(t, env, testApp, "1.0.0", map[string][]byte{"index.html": shared, "app.js": []byte("one")})
	commitBundle(t, env, testApp, "1.0.1", map[string][]byte{"index.html": shared, "app.js": []byte("two!")})
	channel(t, env, testApp, "production", "1.0.0", nil)
	if r := do(t, h, "POST", env.URL+"/updates", info(func(m map[string]any) { m["custom_id"] = "Alice" })); r.Status != 200 {
		t.Fatalf("updates: %d %s", r.Status, r.Raw)
	}
	if r := do(t, h, "POST", env.URL+"/stats", []any{event("set", "1.0.0", nil)}); r.Status != 200 {
		t.Fatalf("stats: %d %s", r.Status, r.Raw)
	}

	// A manifest download of 1.0.1 from 1.0.0 is sent app.js only; a zip
	// download the zip.
	if r := do(t, h, "POST", env.URL+"/stats", []any{event("download_manifest_complete", "1.0.1", nil), event("download_zip_complete", "1.0.1", nil)}); r.Status != 200 {
		t.Fatalf("stats: %d %s", r.Status, r.Raw)
	}

	ctx := context.Background()
	c := env.Client(env.AdminKey, false)
	defer c.Close()
	me, err := c.Whoami(ctx)
	if err != nil || me.Scope != api.ScopeAdmin || me.KeyID == "" {
		t.Errorf("whoami = %+v, %v", me, err)
	}

	for _, q := range []string{"", "alice", testDevice[:8]} {
		ds, err := c.SearchDevices(ctx, testApp, q, 0)
		if err != nil || len(ds) != 1 || ds[0].ID != testDevice || ds[0].CustomID != "Alice" {
			t.Errorf("search %q = %+v, %v; want the one device", q, ds, err)
		}
	}
	if ds, err := c.SearchDevices(ctx, testApp, "bob", 0); err != nil || len(ds) != 0 {
		t.Errorf("search bob = %+v, %v; want none", ds, err)
	}

	dd, err := c.Device(ctx, testApp, testDevice)
	if err != nil || dd.Device.Bundle != "1.0.0" || dd.Device.Channel != "production" || len(dd.Events) != 3 || dd.Events[0].Action != "download_zip_complete" || dd.Events[2].Action != "set" {
		t.Errorf("device = %+v, %v", dd, err)
	}
	var ae *client.APIError
	if _, err := c.Device(ctx, testApp, "44f128a5-ac7a-4c9a-be4c-224b6bf81b20"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != api.CodeDeviceNotFound {
		t.Errorf("unknown device: %v; want 404 %s", err, api.CodeDeviceNotFound)
	}

	ss, err := c.StatsSeries(ctx, testApp, client.SeriesQuery{})
	if err != nil || ss.Bucket != api.BucketHour || len(ss.Times) != 49 {
		t.Fatalf("series = %+v, %v; want 49 hour buckets", ss, err)
	}
	last := len(ss.Times) - 1
	var found bool
	for _, sr := range ss.Series {
		if sr.Version == "1.0.0" {
			found = true
			if sr.Devices[last] != 1 || sr.Installs[last] != 1 {
				t.Errorf("series 1.0.0 now: devices %d installs %d; want 1, 1", sr.Devices[last], sr.Installs[last])
			}
		}
	}
	if !found {
		t.Errorf("series %+v: no 1.0.0", ss.Series)
	}
	for _, sr := range ss.Series {
		if sr.Version != "1.0.1" {
			continue
		}
		served, full := sr.BytesServed[last], sr.BytesFull[last]
		// The zip holds both files, so it is more than 4 bytes; the
		// manifest download sent 4 ("two!"), the zip download all of it.
		if full < 2*100 || served != 4+full/2 {
			t.Errorf("1.0.1 bytes served %d, full %d; want 4 + zip and 2 zips", served, full)
		}
	}
	for _, q := range []client.SeriesQuery{{Bucket: "week"}, {From: 100000, To: 10}, {From: 1, To: 1 << 32}} {
		if _, err := c.StatsSeries(ctx, testApp, q); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			t.Errorf("series %+v: %v; want 400", q, err)
		}
	}

	bs, err := c.ListBundles(ctx, testApp)
	if err != nil || len(bs) != 2 {
		t.Fatalf("bundles = %+v, %v", bs, err)
	}
	if bs[0].StoredBytes != int64(len(shared)+3) || bs[1].StoredBytes != 4 {
		t.Errorf("stored bytes %d, %d; want %d, 4 (index.html is shared)", bs[0].StoredBytes, bs[1].StoredBytes, len(shared)+3)
	}
	if len(bs[0].Channels) != 1 || bs[0].Channels[0] != "production" || len(bs[1].Channels) != 0 {
		t.Errorf("channels %v, %v; want [production], []", bs[0].Channels, bs[1].Channels)
	}
}
