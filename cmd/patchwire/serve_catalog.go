package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/store"
)

// catalogFlags are serve's --catalog and --catalog-recheck: where the
// catalog runs, and how long a node trusts its in-memory generations.
type catalogFlags struct {
	dsn     string
	recheck time.Duration
}

// register adds the flags to fs.
func (c *catalogFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dsn, "catalog", "", "run the catalog in PostgreSQL, shared by every node given the same one: postgres://USER:PASS@HOST:PORT/DB (or key=value); several nodes also need --objects; default: in the store under --data")
	fs.DurationVar(&c.recheck, "catalog-recheck", 0, "with --catalog, how long a node trusts its in-memory catalog generation (moved at once by PostgreSQL's NOTIFY) before it reads the generation row again; 0: read it on every check")
}

// validate refuses a negative recheck, and one without --catalog.
func (c *catalogFlags) validate() error {
	switch {
	case c.recheck < 0:
		return usageError(fmt.Sprintf("--catalog-recheck %s: want 0 or more", c.recheck))
	case c.recheck > 0 && c.dsn == "":
		return usageError(fmt.Sprintf("--catalog-recheck %s needs --catalog (a Badger catalog has nothing to recheck)", c.recheck))
	}
	return nil
}

// storeOptions puts the flags into the store's options.
func (c *catalogFlags) storeOptions(opts *store.Options) {
	opts.Catalog, opts.CatalogRecheck = c.dsn, c.recheck
}
