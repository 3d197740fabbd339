package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// kvConformance checks the contract of kvStore and kvTxn (kv.go) on an
// engine; open returns a fresh, empty store for one subtest, closed by
// open's own cleanup.
func kvConformance(t *testing.T, open func(t *testing.T) kvStore) {
	ctx := context.Background()
	set := func(t *testing.T, kv kvStore, pairs ...string) {
		t.Helper()
		if err := kv.Update(ctx, func(txn kvTxn) error {
			for i := 0; i < len(pairs); i += 2 {
				if err := txn.Set([]byte(pairs[i]), []byte(pairs[i+1])); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(t *testing.T, kv kvStore, key string) (string, error) {
		t.Helper()
		var v []byte
		err := kv.View(ctx, func(txn kvTxn) error {
			var err error
			v, err = txn.Get([]byte(key))
			return err
		})
		return string(v), err
	}
	// scanTxn lists prefix's keys (key=value) in txn.
	scanTxn := func(txn kvTxn, prefix []byte, values bool) ([]string, error) {
		var got []string
		err := txn.Scan(prefix, values, func(k, v []byte) error {
			if !values && v != nil {
				return fmt.Errorf("key %q: value %q with values=false", k, v)
			}
			got = append(got, string(k)+"="+string(v))
			return nil
		})
		return got, err
	}
	scan := func(t *testing.T, kv kvStore, prefix []byte, values bool) []string {
		t.Helper()
		var got []string
		if err := kv.View(ctx, func(txn kvTxn) error {
			var err error
			got, err = scanTxn(txn, prefix, values)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	equal := func(t *testing.T, what string, got, want []string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}

	tests := []struct {
		name string
		run  func(t *testing.T, kv kvStore)
	}{
		{"absent key", func(t *testing.T, kv kvStore) {
			if _, err := get(t, kv, "nothing"); !errors.Is(err, errKVNotFound) {
				t.Fatalf("Get of an absent key: %v, want errKVNotFound", err)
			}
			if err := kv.Update(ctx, func(txn kvTxn) error { return txn.Delete([]byte("nothing")) }); err != nil {
				t.Fatalf("Delete of an absent key: %v", err)
			}
		}},
		{"set get delete", func(t *testing.T, kv kvStore) {
			set(t, kv, "a", "1", "b", "", "c\x00\xff", "\x00\x01\xfe")
			for key, want := range map[string]string{"a": "1", "b": "", "c\x00\xff": "\x00\x01\xfe"} {
				if v, err := get(t, kv, key); err != nil || v != want {
					t.Errorf("Get(%q) = %q, %v; want %q", key, v, err, want)
				}
			}
			set(t, kv, "a", "2")
			if v, _ := get(t, kv, "a"); v != "2" {
				t.Errorf("after replacing, Get(a) = %q", v)
			}
			if err := kv.Update(ctx, func(txn kvTxn) error { return txn.Delete([]byte("a")) }); err != nil {
				t.Fatal(err)
			}
			if _, err := get(t, kv, "a"); !errors.Is(err, errKVNotFound) {
				t.Errorf("after Delete, Get(a): %v", err)
			}
		}},
		{"reads see the transaction's own writes", func(t *testing.T, kv kvStore) {
			set(t, kv, "p/1", "old", "p/3", "3")
			if err := kv.Update(ctx, func(txn kvTxn) error {
				if err := txn.Set([]byte("p/1"), []byte("new")); err != nil {
					return err
				}
				if err := txn.Set([]byte("p/2"), []byte("2")); err != nil {
					return err
				}
				if err := txn.Delete([]byte("p/3")); err != nil {
					return err
				}
				if v, err := txn.Get([]byte("p/1")); err != nil || string(v) != "new" {
					return fmt.Errorf("Get(p/1) in the transaction = %q, %v", v, err)
				}
				if _, err := txn.Get([]byte("p/3")); !errors.Is(err, errKVNotFound) {
					return fmt.Errorf("Get(p/3) after its Delete: %v", err)
				}
				keys, err := scanTxn(txn, []byte("p/"), true)
				equal(t, "Scan in the transaction", keys, []string{"p/1=new", "p/2=2"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}},
		{"scan order and prefix bounds", func(t *testing.T, kv kvStore) {
			set(t, kv, "b", "0", "a/2", "2", "a/10", "10", "a", "x", "a/", "e", "a0", "n", "a/\xff", "ff", "a/\x00", "00")
			equal(t, "Scan(a/)", scan(t, kv, []byte("a/"), true),
				[]string{"a/=e", "a/\x00=00", "a/10=10", "a/2=2", "a/\xff=ff"})
			equal(t, "Scan(a/) keys", scan(t, kv, []byte("a/"), false),
				[]string{"a/=", "a/\x00=", "a/10=", "a/2=", "a/\xff="})
			equal(t, "Scan(empty)", scan(t, kv, nil, false),
				[]string{"a=", "a/=", "a/\x00=", "a/10=", "a/2=", "a/\xff=", "a0=", "b="})
			equal(t, "Scan(zz)", scan(t, kv, []byte("zz"), true), nil)
		}},
		{"scan of a prefix ending in 0xff", func(t *testing.T, kv kvStore) {
			set(t, kv, "k\xfe\xff", "below", "k\xff", "0", "k\xff\x00", "1", "k\xff\xff", "2", "k\xff\xff\xff", "3", "l", "after", "\xff", "a", "\xff\xff", "b")
			equal(t, "Scan(k\\xff)", scan(t, kv, []byte("k\xff"), true),
				[]string{"k\xff=0", "k\xff\x00=1", "k\xff\xff=2", "k\xff\xff\xff=3"})
			equal(t, "Scan(k\\xff\\xff)", scan(t, kv, []byte("k\xff\xff"), true),
				[]string{"k\xff\xff=2", "k\xff\xff\xff=3"})
			equal(t, "Scan(\\xff)", scan(t, kv, []byte("\xff"), true), []string{"\xff=a", "\xff\xff=b"})
		}},
		{"scan of many keys, stopped by fn", func(t *testing.T, kv kvStore) {
			var pairs []string
			for i := range 1000 {
				pairs = append(pairs, fmt.Sprintf("m/%04d", i), fmt.Sprint(i))
			}
			set(t, kv, pairs...)
			if got := scan(t, kv, []byte("m/"), true); len(got) != 1000 || got[0] != "m/0000=0" || got[999] != "m/0999=999" {
				t.Errorf("Scan(m/) got %d keys, first %q", len(got), got[:min(1, len(got))])
			}
			stop := errors.New("enough")
			n := 0
			err := kv.View(ctx, func(txn kvTxn) error {
				return txn.Scan([]byte("m/"), false, func(k, v []byte) error {
					if n++; n == 700 {
						return stop
					}
					return nil
				})
			})
			if err != stop || n != 700 {
				t.Errorf("Scan stopped by fn: %v after %d keys, want fn's error after 700", err, n)
			}
		}},
		{"fn reads and writes during a scan", func(t *testing.T, kv kvStore) {
			var pairs []string
			for i := range 600 {
				pairs = append(pairs, fmt.Sprintf("d/%04d", i), "x")
			}
			set(t, kv, pairs...)
			if err := kv.Update(ctx, func(txn kvTxn) error {
				return txn.Scan([]byte("d/"), false, func(k, _ []byte) error {
					if _, err := txn.Get(k); err != nil {
						return err
					}
					return txn.Delete(bytes.Clone(k))
				})
			}); err != nil {
				t.Fatal(err)
			}
			equal(t, "Scan(d/) after deleting every key in a scan", scan(t, kv, []byte("d/"), false), nil)
		}},
		{"update is atomic when fn fails", func(t *testing.T, kv kvStore) {
			set(t, kv, "keep", "1")
			boom := errors.New("boom")
			err := kv.Update(ctx, func(txn kvTxn) error {
				for i := range 50 {
					if err := txn.Set(fmt.Appendf(nil, "w/%d", i), []byte("v")); err != nil {
						return err
					}
				}
				if err := txn.Delete([]byte("keep")); err != nil {
					return err
				}
				return boom
			})
			if err != boom {
				t.Fatalf("Update returned %v, want fn's error as is", err)
			}
			if v, err := get(t, kv, "keep"); err != nil || v != "1" {
				t.Errorf("Get(keep) after the failed Update = %q, %v", v, err)
			}
			equal(t, "Scan(w/) after the failed Update", scan(t, kv, []byte("w/"), false), nil)
		}},
		{"view's error returned as is", func(t *testing.T, kv kvStore) {
			boom := errors.New("boom")
			if err := kv.View(ctx, func(kvTxn) error { return boom }); err != boom {
				t.Errorf("View returned %v, want fn's error as is", err)
			}
		}},
		{"view refuses writes", func(t *testing.T, kv kvStore) {
			err := kv.View(ctx, func(txn kvTxn) error {
				if err := txn.Set([]byte("v"), []byte("1")); err == nil {
					return errors.New("Set in a View succeeded")
				}
				if err := txn.Delete([]byte("v")); err == nil {
					return errors.New("Delete in a View succeeded")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := get(t, kv, "v"); !errors.Is(err, errKVNotFound) {
				t.Errorf("Get(v) after a View's Set: %v", err)
			}
		}},
		{"view reads one snapshot", func(t *testing.T, kv kvStore) {
			set(t, kv, "s/a", "1", "s/b", "1")
			err := kv.View(ctx, func(txn kvTxn) error {
				if v, err := txn.Get([]byte("s/a")); err != nil || string(v) != "1" {
					return fmt.Errorf("first Get(s/a) = %q, %v", v, err)
				}
				set(t, kv, "s/a", "2", "s/b", "2", "s/c", "2")
				for _, k := range []string{"s/a", "s/b"} {
					if v, err := txn.Get([]byte(k)); err != nil || string(v) != "1" {
						return fmt.Errorf("Get(%s) after another commit = %q, %v; want the snapshot's 1", k, v, err)
					}
				}
				keys, err := scanTxn(txn, []byte("s/"), true)
				equal(t, "Scan(s/) after another commit", keys, []string{"s/a=1", "s/b=1"})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := get(t, kv, "s/c"); v != "2" {
				t.Errorf("a later View: Get(s/c) = %q, want 2", v)
			}
		}},
		{"concurrent read-modify-write updates conflict", func(t *testing.T, kv kvStore) {
			set(t, kv, "counter", "0")
			var (
				read    sync.WaitGroup // both transactions have read the counter
				done    sync.WaitGroup
				errs    [2]error
				release = make(chan struct{})
			)
			read.Add(2)
			done.Add(2)
			for i := range 2 {
				go func() {
					defer done.Done()
					once := sync.Once{}
					errs[i] = kv.Update(ctx, func(txn kvTxn) error {
						v, err := txn.Get([]byte("counter"))
						once.Do(func() { read.Done(); <-release })
						if err != nil {
							return err
						}
						return txn.Set([]byte("counter"), append(bytes.Clone(v), 'x'))
					})
				}()
			}
			read.Wait()
			close(release)
			done.Wait()
			var conflicts, ok int
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, errKVConflict):
					conflicts++
				default:
					t.Errorf("Update: %v, want nil or errKVConflict", err)
				}
			}
			if ok != 1 || conflicts != 1 {
				t.Errorf("%d committed and %d conflicted, want 1 and 1 (%v)", ok, conflicts, errs)
			}
			if v, _ := get(t, kv, "counter"); v != "0x" {
				t.Errorf("counter = %q, want the one committed increment 0x", v)
			}
		}},
		{"concurrent increments retried on conflict lose none", func(t *testing.T, kv kvStore) {
			const workers, each = 4, 10
			var wg sync.WaitGroup
			errs := make([]error, workers)
			for w := range workers {
				wg.Go(func() {
					for range each {
						for {
							err := kv.Update(ctx, func(txn kvTxn) error {
								v, err := txn.Get([]byte("n"))
								if errors.Is(err, errKVNotFound) {
									v, err = []byte{}, nil
								}
								if err != nil {
									return err
								}
								return txn.Set([]byte("n"), append(bytes.Clone(v), 'x'))
							})
							if !errors.Is(err, errKVConflict) {
								errs[w] = err
								break
							}
						}
						if errs[w] != nil {
							return
						}
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if v, err := get(t, kv, "n"); err != nil || len(v) != workers*each {
				t.Errorf("after %d increments n has %d (%v)", workers*each, len(v), err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := open(t)
			tt.run(t, kv)
		})
	}
}
