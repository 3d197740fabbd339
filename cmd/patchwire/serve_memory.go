package main

import (
	"flag"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/store"
)

// memoryFlags are serve's memory settings. Their defaults keep a server
// under load within 256 MiB of RSS (issue 9; measured by `patchwire bench
// load`, which reports the server's peak RSS): Badger's memtables (3 of
// them) and index cache, no block cache (tables are read through the page
// cache), a patch-job budget, and a soft limit for the Go heap.
type memoryFlags struct {
	memtableMB   int64
	indexCacheMB int64
	blockCacheMB int64
	objectMB     int64
	patchMB      int64
	limitMB      int64
}

// Defaults of memoryFlags.
const (
	defaultMemtableMB   = 32
	defaultIndexCacheMB = 16
	defaultBlockCacheMB = 0
	// defaultObjectCacheMB is the store's cache of small object chunks
	// (store.Options.ObjectCacheSize).
	defaultObjectCacheMB = 32
	// defaultMemoryLimitMB is the Go runtime's soft memory limit: below the
	// 256 MiB target, leaving room for memory-mapped tables and stacks.
	defaultMemoryLimitMB = 224
)

func (m *memoryFlags) register(fs *flag.FlagSet) {
	fs.Int64Var(&m.memtableMB, "badger-memtable-mb", defaultMemtableMB, "size of one Badger memtable, MiB (3 are kept; at least 1)")
	fs.Int64Var(&m.indexCacheMB, "badger-index-cache-mb", defaultIndexCacheMB, "Badger's cache of table indexes and Bloom filters, MiB (0: none)")
	fs.Int64Var(&m.blockCacheMB, "badger-block-cache-mb", defaultBlockCacheMB, "Badger's cache of table blocks, MiB (0: none, the page cache serves them)")
	fs.Int64Var(&m.objectMB, "object-cache-mb", defaultObjectCacheMB, "recently downloaded small object chunks kept in memory, checked, MiB (0: none)")
	fs.Int64Var(&m.patchMB, "patch-memory-mb", server.DefaultPatchMemory>>20, "memory the patch jobs running at once may use, by their estimate, MiB; a larger job runs alone")
	fs.Int64Var(&m.limitMB, "memory-limit-mb", defaultMemoryLimitMB, "soft limit of the Go heap, MiB: the garbage collector works harder near it (0: none; GOMEMLIMIT, when set, wins)")
}

// validate names the first setting out of range.
func (m *memoryFlags) validate() error {
	for _, f := range []struct {
		name string
		v    int64
		min  int64
	}{
		{"--badger-memtable-mb", m.memtableMB, 1},
		{"--badger-index-cache-mb", m.indexCacheMB, 0},
		{"--badger-block-cache-mb", m.blockCacheMB, 0},
		{"--object-cache-mb", m.objectMB, 0},
		{"--patch-memory-mb", m.patchMB, 1},
		{"--memory-limit-mb", m.limitMB, 0},
	} {
		if f.v < f.min || f.v > 1<<20 {
			return usageError(fmt.Sprintf("%s %d: must be between %d and %d", f.name, f.v, f.min, 1<<20))
		}
	}
	return nil
}

// apply sets the Go runtime's soft memory limit, unless GOMEMLIMIT set it.
func (m *memoryFlags) apply(getenv func(string) string, log *slog.Logger) {
	if getenv("GOMEMLIMIT") != "" || m.limitMB == 0 {
		return
	}
	debug.SetMemoryLimit(m.limitMB << 20)
	log.Debug("memory limit", "mib", m.limitMB)
}

// storeOptions sets the Badger sizes of opts.
func (m *memoryFlags) storeOptions(opts *store.Options) {
	opts.MemTableSize = m.memtableMB << 20
	opts.IndexCacheSize = m.indexCacheMB << 20
	if m.indexCacheMB == 0 {
		opts.IndexCacheSize = -1
	}
	opts.BlockCacheSize = m.blockCacheMB << 20
	opts.ObjectCacheSize = m.objectMB << 20
	if m.objectMB == 0 {
		opts.ObjectCacheSize = -1
	}
}
