package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
)

// The disk-full tests (issue 14 items 1 and 9) run a real server on a small
// tmpfs. A store that writes into a memory-mapped page the tmpfs cannot
// back dies with SIGBUS, which would take the whole test binary down: so
// the scenario runs in a child process (this test binary, re-executed with
// diskFullEnv naming the mounted directory), and the parent fails when the
// child fails or crashes.
const diskFullEnv = "PATCHWIRE_TEST_DISKFULL_DIR"

// Test-sized Badger files: 4 MiB value-log files (no file may be larger)
// and 1 MiB memtables make the reserve DefaultReserve(4 MiB, 1 MiB) =
// 22 MiB, so a 96 MiB tmpfs holds the store, the reserve and a filler file.
const (
	diskFullTmpfs = 96 << 20
	diskVlogFile  = 4 << 20
	diskMemTable  = 1 << 20
	diskBigFile   = 3 << 20 // the incompressible file of each bundle
)

// onSmallDisk runs scenario on a fresh tmpfs in a child process. It skips
// when the test cannot mount (not root).
func onSmallDisk(t *testing.T, scenario func(t *testing.T, dir string)) {
	if dir := os.Getenv(diskFullEnv); dir != "" {
		scenario(t, dir)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root); skipping the disk-full test")
	}
	dir := filepath.Join(t.TempDir(), "small-disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", diskFullTmpfs), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); skipping the disk-full test", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), diskFullEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the scenario failed or crashed (a SIGBUS is a crash): %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

// smallDiskServer starts a server whose store lives in dir/db with
// test-sized Badger files.
func smallDiskServer(t *testing.T, dir string) *servertest.Env {
	return servertest.Start(t, servertest.WithStoreOptions(func(o *store.Options) {
		o.Dir = filepath.Join(dir, "db")
		o.ValueLogFileSize, o.MemTableSize = diskVlogFile, diskMemTable
		o.Limits = manifest.DefaultLimits()
		o.Limits.MaxFileBytes = diskVlogFile
	}))
}

// fill creates (or resizes) dir/filler so that about free bytes stay free.
func fill(t *testing.T, dir string, free int64) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := st.Size() + freeOn(t, dir) - free
	if size < 0 {
		size = 0
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	// tmpfs has no fallocate-free way to take space: write the bytes.
	if _, err := f.WriteAt(make([]byte, size), 0); err != nil {
		t.Fatalf("fill: %v", err)
	}
}

func freeOn(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// bigBundle is a zip with index.html and a diskBigFile-byte incompressible
// file; it returns the zip and the big file.
func bigBundle(t *testing.T, seed int64) (zipBytes, big []byte) {
	t.Helper()
	big = randomBytes(diskBigFile, seed)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"index.html", []byte(fmt.Sprintf("<h1>%d</h1>", seed))}, {"big.bin", big}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), big
}

// getObject downloads /o/<digest of want> and checks it is want.
func getObject(t *testing.T, env *servertest.Env, want []byte) {
	t.Helper()
	resp, err := env.HTTPSClient().Get(env.URL + "/o/" + manifest.Sum(want).String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("GET object: status %d, %d bytes (want %d), err %v", resp.StatusCode, len(got), len(want), err)
	}
}

// putBundle uploads a zip as version and returns the status and error.
func putBundle(t *testing.T, env *servertest.Env, version string, z []byte) (int, api.Error) {
	t.Helper()
	return call(t, env, "PUT", "/api/v1/apps/"+app+"/bundles/"+version, env.AdminKey, "application/zip", z)
}

// TestFullDiskRefusesUploads (issue 14 item 1): uploads on a nearly full
// disk answer 507 insufficient_storage instead of the server dying with
// SIGBUS; the refused bundle is not visible, earlier bundles still download
// byte-exact, and uploads work again once space is freed.
func TestFullDiskRefusesUploads(t *testing.T) {
	onSmallDisk(t, func(t *testing.T, dir string) {
		env := smallDiskServer(t, dir)
		newApp(t, env)
		_, reserve := env.Store.Space()
		if want := store.DefaultReserve(diskVlogFile, diskMemTable); reserve != want {
			t.Fatalf("reserve %d, want %d", reserve, want)
		}
		fill(t, dir, reserve+24<<20)

		var stored [][]byte
		refused := ""
		for i := range 20 {
			version := fmt.Sprintf("1.0.%d", i)
			z, big := bigBundle(t, int64(i))
			status, e := putBundle(t, env, version, z)
			if status == http.StatusCreated {
				stored = append(stored, big)
				continue
			}
			if status != http.StatusInsufficientStorage || e.Code != api.CodeInsufficientStorage || !strings.Contains(e.Message, "reserve") {
				t.Fatalf("upload %s: status %d %+v, want 201 or 507 %s", version, status, e, api.CodeInsufficientStorage)
			}
			refused = version
			break
		}
		if refused == "" || len(stored) < 2 {
			t.Fatalf("%d uploads stored, refused %q: want some stored, then a 507", len(stored), refused)
		}
		if free := freeOn(t, dir); free < reserve {
			t.Errorf("free space %d fell below the reserve %d", free, reserve)
		}

		// Nothing of the refused bundle is visible; earlier ones still read.
		if status, _ := call(t, env, "GET", "/api/v1/apps/"+app+"/bundles", env.AdminKey, "", nil); status != 200 {
			t.Fatalf("list bundles: %d", status)
		}
		if _, err := env.Store.GetBundle(context.Background(), app, refused); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refused bundle %s: %v, want not found", refused, err)
		}
		for _, big := range stored {
			getObject(t, env, big)
		}

		// Freeing space makes uploads work again.
		if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
			t.Fatal(err)
		}
		z, big := bigBundle(t, 100)
		if status, e := putBundle(t, env, refused, z); status != http.StatusCreated {
			t.Fatalf("upload after freeing space: %d %+v", status, e)
		}
		getObject(t, env, big)
		rep, err := env.Store.Verify(context.Background())
		if err != nil || !rep.OK() || rep.Bundles != len(stored)+1 {
			t.Fatalf("verify: %+v, %v", rep, err)
		}
	})
}

// TestRestartWhileDiskFullServesReads (issue 14 item 9): a server started
// on a disk with less free space than the reserve opens the store
// read-only, serves every stored object, and refuses writes with 507.
func TestRestartWhileDiskFullServesReads(t *testing.T) {
	onSmallDisk(t, func(t *testing.T, dir string) {
		env := smallDiskServer(t, dir)
		newApp(t, env)
		var stored [][]byte
		for i := range 3 {
			z, big := bigBundle(t, int64(i))
			if status, e := putBundle(t, env, fmt.Sprintf("1.0.%d", i), z); status != http.StatusCreated {
				t.Fatalf("upload: %d %+v", status, e)
			}
			stored = append(stored, big)
		}
		env.Stop()
		fill(t, dir, 64<<10) // as full as the filler can make it

		env.Restart()
		if !env.Store.ReadOnly() {
			t.Fatal("store opened writable on a disk below its reserve")
		}
		for _, big := range stored {
			getObject(t, env, big)
		}
		z, _ := bigBundle(t, 9)
		status, e := putBundle(t, env, "2.0.0", z)
		if status != http.StatusInsufficientStorage || e.Code != api.CodeInsufficientStorage || !strings.Contains(e.Message, "read-only") {
			t.Fatalf("upload to a read-only store: %d %+v, want 507 naming read-only", status, e)
		}
		if status, e := call(t, env, "POST", "/api/v1/apps", env.AdminKey, "application/json", []byte(`{"app_id":"com.example.other"}`)); status != http.StatusInsufficientStorage {
			t.Fatalf("create app on a read-only store: %d %+v, want 507", status, e)
		}
		rep, err := env.Store.Verify(context.Background())
		if err != nil || !rep.OK() || rep.Bundles != len(stored) {
			t.Fatalf("verify: %+v, %v", rep, err)
		}

		// Freed space and a restart make it writable again.
		if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
			t.Fatal(err)
		}
		env.Restart()
		if env.Store.ReadOnly() {
			t.Fatal("store still read-only after space was freed")
		}
		if status, e := putBundle(t, env, "2.0.0", z); status != http.StatusCreated {
			t.Fatalf("upload after restart: %d %+v", status, e)
		}
	})
}

// TestFullDiskSmallObjects (issue 14 item 1): small objects (kept in the
// LSM tree: memtable logs, flushes and compactions rather than the value
// log) fill the disk until the guard refuses them, without a SIGBUS, and
// the store closes and reopens with every acknowledged object intact.
func TestFullDiskSmallObjects(t *testing.T) {
	onSmallDisk(t, func(t *testing.T, dir string) {
		ctx := context.Background()
		opts := store.Options{Dir: filepath.Join(dir, "db"), GCInterval: -1,
			ValueLogFileSize: diskVlogFile, MemTableSize: diskMemTable, Limits: manifest.DefaultLimits()}
		opts.Limits.MaxFileBytes = diskVlogFile
		st, err := store.Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		_, reserve := st.Space()
		fill(t, dir, reserve+16<<20)
		var stored [][]byte
		refusals := 0
		for i := 0; i < 4000 && refusals < 50; i++ {
			b := randomBytes(30<<10, int64(i))
			_, err := st.PutObject(ctx, manifest.Sum(b), b)
			switch {
			case err == nil:
				stored = append(stored, b)
			case errors.Is(err, store.ErrInsufficientStorage):
				refusals++
			default:
				t.Fatalf("PutObject %d: %v", i, err)
			}
		}
		if refusals == 0 || len(stored) == 0 {
			t.Fatalf("%d stored, %d refused: want both", len(stored), refusals)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if st, err = store.Open(opts); err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for _, b := range stored {
			obj, err := st.GetObject(ctx, manifest.Sum(b))
			if err != nil || !bytes.Equal(obj.Raw, b) {
				t.Fatalf("object after reopen: %v", err)
			}
		}
		t.Logf("%d objects stored, then %d refused; read-only on reopen: %v", len(stored), refusals, st.ReadOnly())
	})
}
