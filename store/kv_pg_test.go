package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patchwire/patchwire/store/pgtest"
	"github.com/patchwire/patchwire/store/s3test"
)

// TestMain stops the PostgreSQL server of store/pgtest and the versitygw
// of s3test.Shared, if a test started them, after the tests.
func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	s3test.Stop()
	os.Exit(code)
}

// openTestPG opens a pgKV on a fresh database, closed when the test ends.
func openTestPG(t testing.TB, dsn string) *pgKV {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := openPGKV(ctx, dsn, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	return kv
}

func TestKVConformancePostgres(t *testing.T) {
	kvConformance(t, func(t *testing.T) kvStore { return openTestPG(t, pgtest.Database(t)) })
}

func TestKVConformancePostgresUnbatched(t *testing.T) {
	kvConformance(t, func(t *testing.T) kvStore {
		kv := openTestPG(t, pgtest.Database(t))
		kv.batch = false
		return kv
	})
}

// TestPGDeadlockIsConflict: two Updates writing two keys in opposite
// orders (each write sent at once) deadlock; PostgreSQL aborts one
// (SQLSTATE 40P01), which is errKVConflict, and the other commits.
func TestPGDeadlockIsConflict(t *testing.T) {
	kv := openTestPG(t, pgtest.Database(t))
	kv.batch = false
	ctx := context.Background()
	var first, done sync.WaitGroup
	first.Add(2)
	done.Add(2)
	var errs [2]error
	for i, keys := range [2][2]string{{"a", "b"}, {"b", "a"}} {
		go func() {
			defer done.Done()
			once := sync.Once{}
			errs[i] = kv.Update(ctx, func(txn kvTxn) error {
				err := txn.Set([]byte(keys[0]), []byte{byte(i)})
				once.Do(func() { first.Done(); first.Wait() })
				if err != nil {
					return err
				}
				return txn.Set([]byte(keys[1]), []byte{byte(i)})
			})
		}()
	}
	done.Wait()
	var conflicts int
	for _, err := range errs {
		if errors.Is(err, errKVConflict) {
			conflicts++
		} else if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	if conflicts != 1 {
		t.Errorf("%d of the deadlocked Updates conflicted, want 1 (%v)", conflicts, errs)
	}
	t.Log(errs)
}

// TestPGPanicRollsBack: a transaction whose fn panics is rolled back and
// gives its connection back to the pool.
func TestPGPanicRollsBack(t *testing.T) {
	kv := openTestPG(t, pgtest.Database(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a leak would block
	defer cancel()
	for i := range 2 * int(kv.pool.Config().MaxConns) {
		func() {
			defer func() { recover() }()
			kv.Update(ctx, func(txn kvTxn) error {
				if err := txn.Set(fmt.Appendf(nil, "p/%d", i), []byte("v")); err != nil {
					return err
				}
				if _, err := txn.Get([]byte("x")); !errors.Is(err, errKVNotFound) {
					return err
				}
				panic("fn panics")
			})
		}()
	}
	if n := kv.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still held after the panics", n)
	}
	if err := kv.View(ctx, func(txn kvTxn) error {
		return txn.Scan([]byte("p/"), false, func(k, _ []byte) error { return fmt.Errorf("%q was written", k) })
	}); err != nil {
		t.Error(err)
	}
}

func TestPrefixSuccessor(t *testing.T) {
	for _, tt := range []struct{ prefix, want []byte }{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte{0xff, 0xff}, nil},
		{[]byte("a/"), []byte("a0")},
		{[]byte("a\xff"), []byte("b")},
		{[]byte("a\xfe\xff\xff"), []byte("a\xff")},
		{[]byte{0}, []byte{1}},
	} {
		if got := prefixSuccessor(tt.prefix); string(got) != string(tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("prefixSuccessor(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

// pgVersions reads the recorded migrations of the database at dsn.
func pgVersions(t *testing.T, dsn string) []int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT version FROM patchwire_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestPGMigrations(t *testing.T) {
	ctx := context.Background()
	want := fmt.Sprint([]int{1, 2, 3})
	t.Run("fresh database", func(t *testing.T) {
		dsn := pgtest.Database(t)
		kv := openTestPG(t, dsn)
		if got := fmt.Sprint(pgVersions(t, dsn)); got != want {
			t.Errorf("versions %s, want %s", got, want)
		}
		if n, err := kv.generation(ctx); err != nil || n != 0 {
			t.Errorf("generation of a fresh database = %d, %v; want 0", n, err)
		}
	})
	t.Run("reopen is a no-op", func(t *testing.T) {
		dsn := pgtest.Database(t)
		kv := openTestPG(t, dsn)
		if err := kv.Update(ctx, func(txn kvTxn) error { return txn.Set([]byte("k"), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
		kv.Close()
		kv = openTestPG(t, dsn)
		if got := fmt.Sprint(pgVersions(t, dsn)); got != want {
			t.Errorf("versions after reopening %s, want %s", got, want)
		}
		if err := kv.View(ctx, func(txn kvTxn) error {
			v, err := txn.Get([]byte("k"))
			if err == nil && string(v) != "v" {
				err = fmt.Errorf("k = %q", v)
			}
			return err
		}); err != nil {
			t.Errorf("the key written before reopening: %v", err)
		}
	})
	t.Run("concurrent opens", func(t *testing.T) {
		dsn := pgtest.Database(t)
		const nodes = 6
		var wg sync.WaitGroup
		errs := make([]error, nodes)
		start := make(chan struct{})
		for i := range nodes {
			wg.Go(func() {
				<-start
				kv, err := openPGKV(ctx, dsn, testLogger(t))
				if err == nil {
					kv.Close()
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("open %d: %v", i, err)
			}
		}
		if got := fmt.Sprint(pgVersions(t, dsn)); got != want {
			t.Errorf("versions %s, want %s", got, want)
		}
	})
	t.Run("newer schema refused", func(t *testing.T) {
		dsn := pgtest.Database(t)
		openTestPG(t, dsn).Close()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `INSERT INTO patchwire_schema_migrations (version) VALUES ($1)`, len(pgMigrations)+1); err != nil {
			t.Fatal(err)
		}
		kv, err := openPGKV(ctx, dsn, testLogger(t))
		if err == nil {
			kv.Close()
			t.Fatal("a database with a newer schema was opened")
		}
		if !errors.Is(err, errPGSchemaNewer) {
			t.Errorf("error %v, want errPGSchemaNewer", err)
		}
		t.Log(err)
	})
}

func TestPGGenerationNotice(t *testing.T) {
	kv := openTestPG(t, pgtest.Database(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seen := make(chan int64, 16)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { kv.WatchGenerations(watchCtx, func(n int64) { seen <- n }, nil); close(watched) }()
	defer func() { stopWatch(); <-watched }()
	next := func(what string) int64 {
		t.Helper()
		select {
		case n := <-seen:
			return n
		case <-time.After(20 * time.Second):
			t.Fatalf("no generation seen: %s", what)
			return 0
		}
	}
	if n := next("the current generation at connection"); n != 0 {
		t.Fatalf("first generation seen %d, want 0", n)
	}

	// A bump in an Update that rolls back is never seen.
	rollback := errors.New("rolled back")
	if err := kv.Update(ctx, func(txn kvTxn) error {
		if n, err := txn.(*pgTxn).bump(); err != nil || n != 1 {
			return fmt.Errorf("bump = %d, %v", n, err)
		}
		return rollback
	}); err != rollback {
		t.Fatal(err)
	}
	// A bump in a committed Update, with a write, is.
	if err := kv.Update(ctx, func(txn kvTxn) error {
		if err := txn.Set([]byte("c/app"), []byte("1")); err != nil {
			return err
		}
		_, err := txn.(*pgTxn).bump()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := next("after the committed bump"); n != 1 {
		t.Fatalf("generation seen %d, want 1 (the committed bump; the rolled back one is not delivered)", n)
	}
	if n, err := bumpGeneration(ctx, kv); err != nil || n != 2 {
		t.Fatalf("bumpGeneration = %d, %v", n, err)
	}
	if n := next("after bumpGeneration"); n != 2 {
		t.Fatalf("generation seen %d, want 2", n)
	}
	select {
	case n := <-seen:
		t.Errorf("an extra generation %d was seen", n)
	case <-time.After(200 * time.Millisecond):
	}

	// The watcher connects again when its connection is ended, and reports
	// the current generation (a bump made meanwhile is not missed).
	if _, err := kv.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`, pgWatchApplication); err != nil {
		t.Fatal(err)
	}
	if _, err := bumpGeneration(ctx, kv); err != nil {
		t.Fatal(err)
	}
	for n := next("after the connection was ended"); n != 3; n = next("after the connection was ended") {
		if n != 2 {
			t.Fatalf("generation seen %d after reconnecting, want 2 or 3", n)
		}
	}
}

// BenchmarkPGUpdate20Keys: one Update writing 20 keys of 200 bytes, with
// the writes batched (one round trip at commit) and one statement each.
func BenchmarkPGUpdate20Keys(b *testing.B) {
	dsn := pgtest.Database(b)
	ctx := context.Background()
	value := make([]byte, 200)
	for _, batch := range []bool{true, false} {
		b.Run(fmt.Sprintf("batch=%v", batch), func(b *testing.B) {
			kv := openTestPG(b, dsn)
			kv.batch = batch
			i := 0
			for b.Loop() {
				if err := kv.Update(ctx, func(txn kvTxn) error {
					for k := range 20 {
						if err := txn.Set(fmt.Appendf(nil, "bench/%d/%d", i%100, k), value); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkPGScan1000: one View scanning 1,000 keys with 200-byte values.
func BenchmarkPGScan1000(b *testing.B) {
	kv := openTestPG(b, pgtest.Database(b))
	ctx := context.Background()
	value := make([]byte, 200)
	if err := kv.Update(ctx, func(txn kvTxn) error {
		for k := range 1000 {
			if err := txn.Set(fmt.Appendf(nil, "scan/%04d", k), value); err != nil {
				return err
			}
		}
		return txn.Set([]byte("scan0"), value) // just past the prefix
	}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n := 0
		if err := kv.View(ctx, func(txn kvTxn) error {
			return txn.Scan([]byte("scan/"), true, func(k, v []byte) error { n++; return nil })
		}); err != nil {
			b.Fatal(err)
		}
		if n != 1000 {
			b.Fatalf("scanned %d keys", n)
		}
	}
}

// bumpGeneration moves kv's generation in a transaction of its own (as a
// catalog write does) and returns the new value.
func bumpGeneration(ctx context.Context, kv *pgKV) (int64, error) {
	var n int64
	err := kv.Update(ctx, func(txn kvTxn) error {
		var err error
		n, err = txn.(*pgTxn).bump()
		return err
	})
	return n, err
}
