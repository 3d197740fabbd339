package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/store/pgtest"
	"github.com/patchwire/patchwire/store/s3test"
)

// TestCluster runs three `patchwire serve` processes over one PostgreSQL
// catalog and one versitygw bucket: a bundle uploaded through node 1 and
// set on a channel through node 2 is what a Capgo check on node 3
// answers, with its downloads from node 3; node 2 SIGKILLed during a loop
// of uploads and checks loses nothing acknowledged, and the others keep
// serving; device sightings and stats sent to nodes 1 and 3 add up, and
// both sign native answers with the one shared key.
func TestCluster(t *testing.T) {
	dsn, s3, bin := clusterParts(t)
	objects := s3.URL("pw/objects")
	args := []string{"--catalog", dsn, "--objects", objects, "--gc-interval", "0"}

	// One TLS certificate and signing key for every node (the README's
	// setup), made by node 1.
	var dirs [3]string
	var nodes [3]*serverProcess
	for i := range dirs {
		dirs[i] = t.TempDir()
		if i > 0 {
			for _, f := range []string{server.SelfSignedCertFile, server.SelfSignedKeyFile, server.SigningKeyFile} {
				b, err := os.ReadFile(filepath.Join(dirs[0], f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dirs[i], f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		nodes[i] = startServerWith(t, bin, dirs[i], s3.Env(), args...)
		p := nodes[i]
		t.Cleanup(p.kill)
	}
	key, err := os.ReadFile(filepath.Join(dirs[0], server.AdminKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dirs[0], server.SelfSignedCertFile)
	cliOf := func(n int) *cli { return cliOfServer(t, nodes[n].url, string(key), ca) }
	c1, c2, c3 := cliOf(0), cliOf(1), cliOf(2)
	hc := httpsClient(t, ca)

	const app = "com.example.cluster"
	files := fixtureFiles(21)
	c1.must("app", "add", app)
	c1.must("bundle", "upload", writeBundle(t, files), "--app", app, "--version", "1.2.0")
	c2.must("channel", "create", "production", "--app", app, "--public", "--policy", "none", "--platforms", "ios,android")
	c2.must("channel", "set", "production", "--app", app, "--bundle", "1.2.0")

	check := func(n int) (version, url, sum string, err error) {
		return capgoCheck(hc, nodes[n].url, app, "44f128a5-ac7a-4c9a-be4c-224b6bf81b20")
	}
	v, u, sum, err := check(2)
	if err != nil || v != "1.2.0" || !strings.HasPrefix(u, nodes[2].url) {
		t.Fatalf("node 3's check = %q %q, %v; want 1.2.0 from node 3", v, u, err)
	}
	zip := get(t, hc, u, nil, http.StatusOK)
	if s := sha256.Sum256(zip.body); hex.EncodeToString(s[:]) != sum {
		t.Errorf("node 3's zip hashes to %x, the answer says %s", s, sum)
	}
	for name, b := range files {
		if r := get(t, hc, nodes[2].url+"/o/"+manifest.Sum(b).String(), nil, http.StatusOK); !bytes.Equal(r.body, b) {
			t.Errorf("node 3's /o/ of %s: %d bytes", name, len(r.body))
		}
	}

	// Uploads through nodes 1 and 3, channel sets through node 2 and then
	// 1, checks on nodes 1 and 3; meanwhile uploads through node 2, which
	// is SIGKILLed half way, one of them likely in flight.
	var (
		mu    sync.Mutex
		acked []string
	)
	ack := func(ver string) {
		mu.Lock()
		acked = append(acked, ver)
		mu.Unlock()
	}
	killed := make(chan struct{})
	bg := make(chan struct{})
	go func() {
		defer close(bg)
		for i := 0; ; i++ {
			ver := fmt.Sprintf("2.0.%d", i)
			if _, _, err := c2.run("bundle", "upload", writeBundle(t, fixtureFiles(int64(500+i))), "--app", app, "--version", ver); err != nil {
				select {
				case <-killed:
					return // node 2 is gone: this upload was not acknowledged
				default:
					t.Errorf("upload %s through node 2: %v", ver, err)
					return
				}
			}
			ack(ver)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for i := range 8 {
		ver := fmt.Sprintf("1.3.%d", i)
		up := []*cli{c1, c3}[i%2]
		if _, errOut, err := up.run("bundle", "upload", writeBundle(t, fixtureFiles(int64(100+i))), "--app", app, "--version", ver); err != nil {
			t.Fatalf("upload %s: %v %s", ver, err, errOut)
		}
		ack(ver)
		setter := c2
		if i == 4 {
			close(killed)
			nodes[1].kill() // SIGKILL
		}
		if i >= 4 {
			setter = c1
		}
		setter.must("channel", "set", "production", "--app", app, "--bundle", ver)
		for _, n := range []int{0, 2} {
			if v, _, _, err := check(n); err != nil || v != ver {
				t.Fatalf("after the set of %s, node %d answers %q, %v", ver, n+1, v, err)
			}
		}
	}
	<-bg
	out := c3.must("bundle", "list", "--app", app)
	for _, ver := range append(acked, "1.2.0") {
		if !strings.Contains(out, ver+" ") && !strings.Contains(out, ver+"\n") {
			t.Errorf("bundle %s, acknowledged, is not listed by node 3:\n%s", ver, out)
		}
	}
	// Node 1's answer's zip, downloaded from node 3.
	_, u, _, err = check(0)
	if err != nil {
		t.Fatal(err)
	}
	get(t, hc, strings.Replace(u, nodes[0].url, nodes[2].url, 1), nil, http.StatusOK)

	// Device sightings and stats from nodes 1 and 3 add up: four devices,
	// two through each, check and report installing the channel's bundle.
	last := "1.3.7"
	devices := []string{"0c0ffee0-0000-4000-8000-000000000001", "0c0ffee0-0000-4000-8000-000000000002",
		"0c0ffee0-0000-4000-8000-000000000003", "0c0ffee0-0000-4000-8000-000000000004"}
	for i, id := range devices {
		n := []int{0, 2}[i%2]
		dev := map[string]any{"platform": "android", "device_id": id, "app_id": app, "version_build": "1.0.0",
			"version_os": "14", "version_name": "builtin", "plugin_version": "7.0.0", "is_emulator": false, "is_prod": true}
		for _, path := range []string{"/updates", "/stats"} {
			if path == "/stats" {
				dev["action"], dev["version_name"] = "set", last
			}
			body, _ := json.Marshal(dev)
			resp, err := hc.Post(nodes[n].url+path, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s of device %d on node %d: %d", path, i, n+1, resp.StatusCode)
			}
		}
	}
	var st api.AppStats
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := json.Unmarshal([]byte(c1.must("stats", "--app", app, "--json")), &st); err != nil {
			t.Fatal(err)
		}
		var got api.BundleStats
		for _, b := range st.Bundles {
			if b.Version == last {
				got = b
			}
		}
		listed := c3.must("device", "list", "--app", app)
		all := true
		for _, id := range devices {
			all = all && strings.Contains(listed, id)
		}
		if got.Devices == int64(len(devices)) && got.Installs == int64(len(devices)) && all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats of %s through node 1 = %+v, want %d devices and installs; node 3's device list:\n%s", last, got, len(devices), listed)
		}
	}
	// Native checks on nodes 1 and 3: signed with the one shared key (node
	// 1's `key signing --public`), each verifies for the device that asked.
	pub, err := checksig.ParsePublicKey(strings.TrimSpace(c1.must("key", "signing", "--public", "--data", dirs[0])))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 2} {
		req := api.CheckRequest{App: app, DeviceID: devices[n], Platform: "android", NativeVersion: "1.0.0",
			Current: api.CurrentBundle{Version: "builtin"}, Codecs: []string{"zstd-dict"}}
		body, _ := json.Marshal(req)
		resp, err := hc.Post(nodes[n].url+api.PathCheck, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sc, err := checksig.Parse(raw)
		if err != nil {
			t.Fatalf("node %d's /v1/check: %d %v %q", n+1, resp.StatusCode, err, raw)
		}
		if a, err := checksig.Verify(sc, []ed25519.PublicKey{pub}, req.Subject()); err != nil || a.Update == nil || a.Update.Target.Version != last {
			t.Errorf("node %d's native answer: %+v, %v; want %s signed with node 1's key", n+1, a, err, last)
		}
	}
	t.Logf("%d bundles acknowledged, node 2 killed after %d of its own", len(acked), strings.Count(strings.Join(acked, " "), "2.0."))
}

// capgoCheck is a Capgo /updates check of an Android device on the builtin
// bundle against base: the answer's version, zip URL and checksum.
func capgoCheck(hc *http.Client, base, app, deviceID string) (version, url, sum string, err error) {
	body, _ := json.Marshal(map[string]any{"platform": "android", "device_id": deviceID,
		"app_id": app, "version_build": "1.0.0", "version_os": "14", "version_name": "builtin", "plugin_version": "7.0.0",
		"is_emulator": false, "is_prod": true})
	resp, err := hc.Post(base+"/updates", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", "", "", err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ans struct{ Version, URL, Checksum string }
	if err := json.Unmarshal(raw, &ans); err != nil || resp.StatusCode != http.StatusOK {
		return "", "", "", fmt.Errorf("/updates on %s: %d %s", base, resp.StatusCode, raw)
	}
	return ans.Version, ans.URL, ans.Checksum, nil
}

// cliOfServer is a CLI logged in to the server at url with key (its CA
// certificate file ca), through the environment.
func cliOfServer(t *testing.T, url, key, ca string) *cli {
	return &cli{t: t, env: map[string]string{
		"PATCHWIRE_CONFIG": filepath.Join(t.TempDir(), "config.json"), "PATCHWIRE_SERVER": url,
		"PATCHWIRE_API_KEY": strings.TrimSpace(key), "PATCHWIRE_CA": ca,
	}}
}

// clusterParts are what a cluster test runs on: a fresh PostgreSQL
// database, a versitygw and the patchwire binary (skipped with -short).
func clusterParts(t *testing.T) (dsn string, s3 *s3test.Server, bin string) {
	if testing.Short() {
		t.Skip("builds and runs server processes")
	}
	return pgtest.Database(t), s3test.Start(t), buildBinary(t)
}
