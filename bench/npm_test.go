package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFetchNPMEmptyCache fetches a tiny two-release npm series with an empty
// npm cache and an empty (not yet created) bench cache, the way `make bench`
// runs on a fresh machine, then measures it; a second fetch must come from
// the bench cache alone (npm is taken off PATH for it). Issue 8 item 4: on
// the old code the first `npm pack` always failed with "exec: Stdout
// already set".
func TestFetchNPMEmptyCache(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not installed (.ci/run installs it): the npm fetch of `bench bandwidth --npm` is not tested")
	}
	t.Setenv("npm_config_cache", filepath.Join(t.TempDir(), "npm-cache"))
	t.Setenv("npm_config_update_notifier", "false")
	cache := filepath.Join(t.TempDir(), "bench-cache")
	sp, err := ParseNPMSpec("is-number@6.0.0,7.0.0", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := FetchNPM(ctx, cache, sp, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Versions) != 2 || s.Versions[0].Name != "6.0.0" || s.Versions[1].Name != "7.0.0" {
		t.Fatalf("series %+v", s)
	}
	for _, v := range s.Versions {
		if _, ok := v.Files["index.js"]; !ok {
			t.Fatalf("%s has no index.js: %v", v.Name, v.Manifest.Entries())
		}
	}
	left, _ := filepath.Glob(filepath.Join(cache, ".pack-*"))
	if len(left) != 0 {
		t.Fatalf("pack folders left behind: %v", left)
	}

	path := os.Getenv("PATH")
	t.Setenv("PATH", t.TempDir()) // no npm: everything must come from the cache now
	again, err := FetchNPM(ctx, cache, sp, t.Logf)
	if err != nil || len(again.Versions) != 2 || again.Versions[1].Manifest.Digest() != s.Versions[1].Manifest.Digest() {
		t.Fatalf("cached fetch: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "is-number-7.0.0.tgz")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", path)

	res, err := RunBandwidth(ctx, s, BandwidthOptions{Work: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pairs) != 1 || res.Pairs[0].Patchwire <= 0 || res.Pairs[0].FullZip <= 0 {
		t.Fatalf("pairs %+v", res.Pairs)
	}
}
