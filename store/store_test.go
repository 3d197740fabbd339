package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// TestReopen: everything survives Close and Open.
func TestReopen(t *testing.T) {
	opts, _ := testOptions(t)
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := append(someFiles(5, "reopen"), file{"big.js", randomBytes(t, 300<<10)}, file{"text.js", compressible(300<<10, "t")})
	putFiles(t, s, fs...)
	b, err := s.CommitBundle(ctx, "app", "1.0.0", manifestOf(t, fs...), api.BundleMeta{Comment: "c"})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := s.CreateKey(ctx, api.ScopeAdmin, nil, "first")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUpload(ctx, "app", "2.0.0", manifestOf(t, fs[:2]...), api.BundleMeta{})
	if err != nil {
		t.Fatal(err)
	}
	before := allKeys(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}

	s = openStore(t, opts)
	if after := allKeys(t, s); !slices.Equal(before, after) {
		t.Errorf("keys differ after reopen:\nbefore %v\nafter  %v", before, after)
	}
	if got, err := s.GetBundle(ctx, "app", "1.0.0"); err != nil || !reflect.DeepEqual(got, b) {
		t.Errorf("GetBundle after reopen = %+v, %v", got, err)
	}
	if _, err := s.Authenticate(ctx, secret); err != nil {
		t.Errorf("Authenticate after reopen: %v", err)
	}
	if _, err := s.GetUpload(ctx, u.ID); err != nil {
		t.Errorf("GetUpload after reopen: %v", err)
	}
	for _, f := range fs {
		obj, err := s.GetObject(ctx, manifest.Sum(f.data))
		if err != nil || !slices.Equal(obj.Raw, f.data) {
			t.Errorf("GetObject(%s) after reopen: %v", f.path, err)
		}
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Objects != len(fs) {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

// TestReopenWithoutCommit: objects written without a commit leave no
// bundle behind, only collectable objects.
func TestReopenWithoutCommit(t *testing.T) {
	opts, c := testOptions(t)
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(4, "nocommit")
	if _, err := s.CreateUpload(ctx, "app", "1.0.0", manifestOf(t, fs...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	putFiles(t, s, fs[:3]...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, opts)
	if bs, err := s.ListBundles(ctx, "app"); err != nil || len(bs) != 0 {
		t.Errorf("ListBundles = %v, %v; want none", bs, err)
	}
	if _, err := s.GetBundle(ctx, "app", "1.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetBundle = %v; want ErrNotFound", err)
	}
	for _, f := range fs[:3] {
		if !objectStored(t, s, f.data) {
			t.Errorf("acknowledged object %s lost", f.path)
		}
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Bundles != 0 {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
	// Once the session expires the orphans go.
	c.Advance(25 * time.Hour)
	s.CollectGarbage(ctx)
	c.Advance(2 * time.Hour)
	if st, err := s.CollectGarbage(ctx); err != nil || st.Removed != 3 {
		t.Errorf("CollectGarbage = %+v, %v; want the 3 orphans removed", st, err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Options{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(no dir) = %v; want ErrInvalid", err)
	}
	opts, _ := testOptions(t)
	openStore(t, opts)
	if s2, err := Open(opts); err == nil {
		s2.Close()
		t.Errorf("second Open of a locked directory succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(Options{Dir: file, GCInterval: -1}); err == nil {
		t.Errorf("Open(a file) succeeded")
	}
}

// TestOpenCorrupt damages Badger's files: Open must return an error, never
// panic (Badger panics on some of these; Open recovers).
func TestOpenCorrupt(t *testing.T) {
	damage := map[string]func(t *testing.T, dir string){
		"MANIFEST garbage": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("not a manifest at all, not at all"), 0o600)
		},
		"sst emptied": func(t *testing.T, dir string) {
			ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			if len(ssts) == 0 {
				t.Skip("no table written")
			}
			os.WriteFile(ssts[0], nil, 0o600)
		},
		"sst garbage": func(t *testing.T, dir string) {
			ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			if len(ssts) == 0 {
				t.Skip("no table written")
			}
			b, _ := os.ReadFile(ssts[0])
			for i := range b {
				b[i] ^= 0x5a
			}
			os.WriteFile(ssts[0], b, 0o600)
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			opts, _ := testOptions(t)
			s, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := range 50 {
				if _, err := s.CreateApp(ctx, fmt.Sprintf("app%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil { // flushes the memtable into a table
				t.Fatal(err)
			}
			f(t, opts.Dir)
			s, err = Open(opts)
			if err == nil {
				// Badger may open and fail on read instead; it must not
				// hand out wrong data silently.
				defer s.Close()
				apps, err := s.ListApps(ctx)
				t.Logf("Open succeeded; ListApps = %d apps, %v", len(apps), err)
				return
			}
			t.Logf("Open = %v (ErrCorrupt %v)", err, errors.Is(err, ErrCorrupt))
		})
	}
}

func TestBackgroundGC(t *testing.T) {
	opts, _ := testOptions(t)
	opts.GCInterval = 10 * time.Millisecond
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	putFiles(t, s, file{"x", []byte("unreferenced")})
	d := manifest.Sum([]byte("unreferenced"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ok, _ := keyExists(s, gcMarkKey(d)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background GC never marked the unreferenced object")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	onlyOn(t, "it damages Badger's keys (a bucket's damage: TestS3ObjectsDamaged)", backendBadger)
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(4, "verify")
	putFiles(t, s, fs...)
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", manifestOf(t, fs...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitBundle(ctx, "app", "1.1.0", manifestOf(t, fs[:2]...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(ctx)
	if err != nil || !rep.OK() || rep.Bundles != 2 || rep.Manifests != 2 || rep.Objects != 4 {
		t.Fatalf("Verify (healthy) = %+v, %v", rep, err)
	}
	d := func(i int) manifest.Digest { return manifest.Sum(fs[i].data) }
	setRaw(t, s, chunkKey(d(0), 0), []byte("bad"))       // corrupt
	deleteRaw(t, s, chunkKey(d(1), 0))                   // missing bytes (and an orphan om/)
	deleteRaw(t, s, metaKey(d(2)))                       // missing object (and an orphan oc/)
	setRaw(t, s, bundleKey("app", "9.9.9"), []byte("{")) // bad record
	rep, err = s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, p := range rep.Problems {
		kinds = append(kinds, p.Kind+" "+p.Key)
	}
	slices.Sort(kinds)
	want := []string{
		ProblemBadBundle + " b/app@9.9.9",
		ProblemCorruptObject + " o/" + d(0).String(),
		ProblemCorruptObject + " o/" + d(1).String(),
		ProblemMissingObject + " o/" + d(2).String(),
		ProblemOrphanRecord + " oc/" + d(2).String() + "/0",
		ProblemOrphanRecord + " om/" + d(1).String(),
	}
	slices.Sort(want)
	if !slices.Equal(kinds, want) {
		t.Errorf("Verify problems:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
}

// TestCrash kills a process that commits bundles (SIGKILL) and checks
// that every bundle it acknowledged is there, whole, after reopening.
func TestCrash(t *testing.T) {
	if dir := os.Getenv("PATCHWIRE_STORE_CRASH_DIR"); dir != "" {
		crashWorker(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
		cmd.Env = append(os.Environ(), "PATCHWIRE_STORE_CRASH_DIR="+dir, fmt.Sprintf("PATCHWIRE_STORE_CRASH_ROUND=%d", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var acked []string
		sc := bufio.NewScanner(out)
		kill := time.AfterFunc(time.Duration(300+200*round)*time.Millisecond, func() { cmd.Process.Kill() })
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
				acked = append(acked, v)
			}
		}
		kill.Stop()
		cmd.Process.Kill()
		cmd.Wait()

		opts := Options{Dir: dir, Logger: testLogger(t), GCInterval: -1}
		s, err := Open(opts)
		if err != nil {
			t.Fatalf("round %d: Open after SIGKILL: %v", round, err)
		}
		ctx := context.Background()
		for _, v := range acked {
			if _, err := s.GetBundle(ctx, "app", v); err != nil {
				t.Errorf("round %d: acknowledged bundle %s: %v", round, v, err)
			}
		}
		rep, err := s.Verify(ctx)
		if err != nil || !rep.OK() {
			t.Errorf("round %d: Verify = %+v, %v", round, rep, err)
		}
		t.Logf("round %d: %d bundles acknowledged before SIGKILL, %d in store", round, len(acked), rep.Bundles)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// crashWorker commits bundles until it is killed, printing each
// acknowledged version.
func crashWorker(dir string) {
	s, err := Open(Options{Dir: dir, GCInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	s.CreateApp(ctx, "app")
	round := os.Getenv("PATCHWIRE_STORE_CRASH_ROUND")
	for i := 0; ; i++ {
		var es []manifest.Entry
		for j := range 20 {
			data := fmt.Appendf(nil, "round %s bundle %d file %d %s", round, i, j, strings.Repeat("x", j*4000))
			d := manifest.Sum(data)
			if _, err := s.PutObject(ctx, d, data); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			es = append(es, manifest.Entry{Path: fmt.Sprintf("f%d.js", j), Digest: d, Size: int64(len(data))})
		}
		m, err := manifest.New(es, manifest.DefaultLimits())
		if err != nil {
			os.Exit(2)
		}
		v := fmt.Sprintf("%s.0.%d", round, i)
		if _, err := s.CommitBundle(ctx, "app", v, m, api.BundleMeta{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("acked %s\n", v)
	}
}
