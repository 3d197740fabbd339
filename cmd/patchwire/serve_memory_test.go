package main

import (
	"flag"
	"io"
	"testing"

	"github.com/patchwire/patchwire/store"
)

// TestMemoryFlags: serve's memory flags parse into the store's Badger
// sizes and the patch budget, and a value out of range is a usage error
// naming the flag.
func TestMemoryFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    store.Options
		patchMB int64
		err     string
	}{
		{name: "defaults", want: store.Options{MemTableSize: 32 << 20, IndexCacheSize: 16 << 20, ObjectCacheSize: 32 << 20}, patchMB: 256},
		{name: "small", args: []string{"--badger-memtable-mb", "8", "--badger-index-cache-mb", "0", "--badger-block-cache-mb", "4", "--object-cache-mb", "0", "--patch-memory-mb", "64"},
			want: store.Options{MemTableSize: 8 << 20, IndexCacheSize: -1, BlockCacheSize: 4 << 20, ObjectCacheSize: -1}, patchMB: 64},
		{name: "memtable zero", args: []string{"--badger-memtable-mb", "0"}, err: "--badger-memtable-mb 0"},
		{name: "negative cache", args: []string{"--badger-block-cache-mb", "-1"}, err: "--badger-block-cache-mb -1"},
		{name: "negative limit", args: []string{"--memory-limit-mb", "-5"}, err: "--memory-limit-mb -5"},
		{name: "negative object cache", args: []string{"--object-cache-mb", "-2"}, err: "--object-cache-mb -2"},
		{name: "patch zero", args: []string{"--patch-memory-mb", "0"}, err: "--patch-memory-mb 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var m memoryFlags
			m.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := m.validate()
			if wantError(t, err, tc.err) {
				return
			}
			var got store.Options
			m.storeOptions(&got)
			if got.MemTableSize != tc.want.MemTableSize || got.IndexCacheSize != tc.want.IndexCacheSize || got.BlockCacheSize != tc.want.BlockCacheSize || got.ObjectCacheSize != tc.want.ObjectCacheSize || m.patchMB != tc.patchMB {
				t.Fatalf("memtable %d, index cache %d, block cache %d, object cache %d, patch %d MiB; want %d, %d, %d, %d, %d MiB", got.MemTableSize, got.IndexCacheSize, got.BlockCacheSize, got.ObjectCacheSize, m.patchMB, tc.want.MemTableSize, tc.want.IndexCacheSize, tc.want.BlockCacheSize, tc.want.ObjectCacheSize, tc.patchMB)
			}
		})
	}
}
