package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// kvConformance holds a kvStore implementation to the contract kv.go
// states. open returns a new, empty store for one subtest (closed by the
// subtest's cleanup). Every engine the catalog runs on calls it:
// TestKVConformanceBadger here, the PostgreSQL one next to its adapter.
func kvConformance(t *testing.T, open func(t *testing.T) kvStore) {
	ctx := context.Background()
	put := func(t *testing.T, kv kvStore, kvs ...string) {
		t.Helper()
		err := kv.Update(ctx, func(txn kvTxn) error {
			for i := 0; i+1 < len(kvs); i += 2 {
				if err := txn.Set([]byte(kvs[i]), []byte(kvs[i+1])); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
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
	mustGet := func(t *testing.T, kv kvStore, key, want string) {
		t.Helper()
		got, err := get(t, kv, key)
		if err != nil || got != want {
			t.Fatalf("Get(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	mustAbsent := func(t *testing.T, kv kvStore, key string) {
		t.Helper()
		if got, err := get(t, kv, key); !errors.Is(err, errKVNotFound) {
			t.Fatalf("Get(%q) = %q, %v; want errKVNotFound", key, got, err)
		}
	}
	// scanKeys lists what Scan(prefix) yields, as key=value (value
	// "<nil>" when Scan passed nil).
	scanKeys := func(t *testing.T, kv kvStore, prefix []byte, values bool) []string {
		t.Helper()
		var out []string
		err := kv.View(ctx, func(txn kvTxn) error {
			return txn.Scan(prefix, values, func(key, value []byte) error {
				v := string(value)
				if value == nil {
					v = "<nil>"
				}
				out = append(out, fmt.Sprintf("%q=%s", key, v))
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Keys around the prefix bounds: "a" and everything under it,
	// including under "a\xff" (a prefix whose successor is not "a\xff"+1),
	// and the keys just outside.
	bounds := []string{
		"a", "1", "a\x00", "2", "a\x01", "3", "a\xfe\xff", "4", "a\xff", "5",
		"a\xff\x00", "6", "a\xff\xff", "7", "a\xff\xff\xff", "8", "b", "9",
		"`\xff", "10", "\xff", "11", "\xff\xff", "12",
	}

	tests := []struct {
		name string
		run  func(t *testing.T, kv kvStore)
	}{
		{"get of an absent key is errKVNotFound", func(t *testing.T, kv kvStore) {
			mustAbsent(t, kv, "nothing")
			err := kv.Update(ctx, func(txn kvTxn) error {
				_, err := txn.Get([]byte("nothing"))
				return err
			})
			if !errors.Is(err, errKVNotFound) {
				t.Fatalf("Get in Update: %v, want errKVNotFound", err)
			}
		}},
		{"set, get, replace, delete", func(t *testing.T, kv kvStore) {
			put(t, kv, "k", "v1", "other", "o")
			mustGet(t, kv, "k", "v1")
			put(t, kv, "k", "v2")
			mustGet(t, kv, "k", "v2")
			put(t, kv, "empty", "")
			mustGet(t, kv, "empty", "")
			big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
			put(t, kv, "big", string(big))
			mustGet(t, kv, "big", string(big))
			err := kv.Update(ctx, func(txn kvTxn) error {
				if err := txn.Delete([]byte("k")); err != nil {
					return err
				}
				return txn.Delete([]byte("never there"))
			})
			if err != nil {
				t.Fatal(err)
			}
			mustAbsent(t, kv, "k")
			mustGet(t, kv, "other", "o")
		}},
		{"get returns a value the caller owns", func(t *testing.T, kv kvStore) {
			put(t, kv, "k", "value")
			err := kv.View(ctx, func(txn kvTxn) error {
				v, err := txn.Get([]byte("k"))
				if err != nil {
					return err
				}
				v[0] = 'X'
				v, err = txn.Get([]byte("k"))
				if err == nil && string(v) != "value" {
					err = fmt.Errorf("second Get = %q after changing the first's value", v)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			mustGet(t, kv, "k", "value")
		}},
		{"a transaction reads its own writes", func(t *testing.T, kv kvStore) {
			put(t, kv, "gone", "g")
			err := kv.Update(ctx, func(txn kvTxn) error {
				if err := txn.Set([]byte("k"), []byte("new")); err != nil {
					return err
				}
				if err := txn.Delete([]byte("gone")); err != nil {
					return err
				}
				if v, err := txn.Get([]byte("k")); err != nil || string(v) != "new" {
					return fmt.Errorf("Get after Set = %q, %v", v, err)
				}
				if _, err := txn.Get([]byte("gone")); !errors.Is(err, errKVNotFound) {
					return fmt.Errorf("Get after Delete: %v, want errKVNotFound", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"scan yields the prefix's keys in byte order", func(t *testing.T, kv kvStore) {
			put(t, kv, bounds...)
			for _, c := range []struct {
				prefix string
				want   []string
			}{
				{"a", []string{`"a"=1`, `"a\x00"=2`, `"a\x01"=3`, `"a\xfe\xff"=4`, `"a\xff"=5`, `"a\xff\x00"=6`, `"a\xff\xff"=7`, `"a\xff\xff\xff"=8`}},
				{"a\xff", []string{`"a\xff"=5`, `"a\xff\x00"=6`, `"a\xff\xff"=7`, `"a\xff\xff\xff"=8`}},
				{"a\xff\xff", []string{`"a\xff\xff"=7`, `"a\xff\xff\xff"=8`}},
				{"\xff", []string{`"\xff"=11`, `"\xff\xff"=12`}},
				{"a\x00", []string{`"a\x00"=2`}},
				{"c", nil},
				{"", []string{`"` + "`" + `\xff"=10`, `"a"=1`, `"a\x00"=2`, `"a\x01"=3`, `"a\xfe\xff"=4`, `"a\xff"=5`, `"a\xff\x00"=6`,
					`"a\xff\xff"=7`, `"a\xff\xff\xff"=8`, `"b"=9`, `"\xff"=11`, `"\xff\xff"=12`}},
			} {
				got := scanKeys(t, kv, []byte(c.prefix), true)
				if fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("Scan(%q):\n got %v\nwant %v", c.prefix, got, c.want)
				}
			}
		}},
		{"scan without values passes nil values", func(t *testing.T, kv kvStore) {
			put(t, kv, "p/1", "one", "p/2", "two", "q", "x")
			got := scanKeys(t, kv, []byte("p/"), false)
			want := []string{`"p/1"=<nil>`, `"p/2"=<nil>`}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("Scan(values=false) = %v, want %v", got, want)
			}
		}},
		{"scan stops at fn's error and returns it", func(t *testing.T, kv kvStore) {
			put(t, kv, "p/1", "1", "p/2", "2", "p/3", "3")
			stop := errors.New("stop here")
			n := 0
			err := kv.View(ctx, func(txn kvTxn) error {
				return txn.Scan([]byte("p/"), true, func(key, value []byte) error {
					n++
					if string(key) == "p/2" {
						return stop
					}
					return nil
				})
			})
			if err != stop || n != 2 {
				t.Fatalf("Scan = %v after %d keys, want the error as is after 2", err, n)
			}
		}},
		{"an update whose fn fails writes nothing and returns the error as is", func(t *testing.T, kv kvStore) {
			put(t, kv, "keep", "old", "del", "d")
			fail := errors.New("fn failed")
			err := kv.Update(ctx, func(txn kvTxn) error {
				for _, op := range []func() error{
					func() error { return txn.Set([]byte("keep"), []byte("new")) },
					func() error { return txn.Set([]byte("added"), []byte("a")) },
					func() error { return txn.Delete([]byte("del")) },
				} {
					if err := op(); err != nil {
						return err
					}
				}
				return fail
			})
			if err != fail {
				t.Fatalf("Update = %v, want fn's error as is", err)
			}
			mustGet(t, kv, "keep", "old")
			mustGet(t, kv, "del", "d")
			mustAbsent(t, kv, "added")
		}},
		{"a view sees one snapshot", func(t *testing.T, kv kvStore) {
			put(t, kv, "x", "1", "y", "1")
			read, written := make(chan struct{}), make(chan error, 1)
			go func() {
				<-read
				written <- kv.Update(ctx, func(txn kvTxn) error {
					if err := txn.Set([]byte("x"), []byte("2")); err != nil {
						return err
					}
					if err := txn.Set([]byte("z"), []byte("2")); err != nil {
						return err
					}
					return txn.Set([]byte("y"), []byte("2"))
				})
			}()
			err := kv.View(ctx, func(txn kvTxn) error {
				if v, err := txn.Get([]byte("x")); err != nil || string(v) != "1" {
					return fmt.Errorf("x = %q, %v before the update", v, err)
				}
				close(read)
				if err := <-written; err != nil {
					return fmt.Errorf("concurrent update: %w", err)
				}
				if v, err := txn.Get([]byte("y")); err != nil || string(v) != "1" {
					return fmt.Errorf("y = %q, %v after an update committed during the view, want 1", v, err)
				}
				if v, err := txn.Get([]byte("x")); err != nil || string(v) != "1" {
					return fmt.Errorf("x = %q, %v read again, want 1", v, err)
				}
				var keys []string
				err := txn.Scan(nil, false, func(key, _ []byte) error { keys = append(keys, string(key)); return nil })
				if err == nil && fmt.Sprint(keys) != "[x y]" {
					err = fmt.Errorf("scan sees %v, want [x y]", keys)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			mustGet(t, kv, "y", "2")
			mustGet(t, kv, "z", "2")
		}},
		{"of two overlapping read-modify-writes one gets errKVConflict", func(t *testing.T, kv kvStore) {
			put(t, kv, "n", "0")
			var barrier, wg sync.WaitGroup
			barrier.Add(2)
			errs := make([]error, 2)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					first := true
					errs[i] = kv.Update(ctx, func(txn kvTxn) error {
						v, err := txn.Get([]byte("n"))
						if first { // both have read before either writes
							first = false
							barrier.Done()
							barrier.Wait()
						}
						if err != nil {
							return err
						}
						return txn.Set([]byte("n"), append(v, '+'))
					})
				}()
			}
			wg.Wait()
			ok, conflicts := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, errKVConflict):
					conflicts++
				default:
					t.Errorf("Update: %v", err)
				}
			}
			if ok != 1 || conflicts != 1 {
				t.Fatalf("%d committed, %d conflicts (%v); want 1 and 1", ok, conflicts, errs)
			}
			mustGet(t, kv, "n", "0+")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv := open(t)
			tc.run(t, kv)
		})
	}
}
