package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/store"
)

// runStoreMigrate is `patchwire store migrate` (issue 12): a stopped
// server's store moved into the cluster setup, objects' bytes into
// S3-compatible storage and the catalog into PostgreSQL, then verified
// object by object (store.Migrate).
func runStoreMigrate(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("store migrate", env.stderr)
	data := fs.String("from", "", "data directory of a stopped server (required)")
	objects := fs.String("to-objects", "", "S3-compatible storage for the objects' bytes: s3://BUCKET/PREFIX?endpoint=URL&region=R (required)")
	catalog := fs.String("to-catalog", "", "PostgreSQL connection string of the new catalog (postgres://…); default: the catalog stays in --from")
	resume := fs.Bool("resume", false, "continue a migration into a catalog that is not empty (keys already equal are skipped)")
	if _, err := parsePositional(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usageError("store migrate needs --from DATA")
	}
	if *objects == "" {
		return usageError("store migrate needs --to-objects s3://…: with a PostgreSQL catalog the objects' bytes must be in S3-compatible storage (a store already there: give its bucket)")
	}
	blobs, err := openObjects(ctx, *objects, "", env.getenv)
	if err != nil {
		return err
	}
	var st *store.Store
	if *catalog == "" {
		st, err = openStoreDir(env, *data, false, blobs) // in place: the store keeps running with --objects
	} else {
		st, err = openStoreDir(env, *data, true) // read only: the source is left as it was
	}
	if err != nil {
		return err
	}
	defer st.Close()
	var last time.Time
	progress := func(p store.MigrateProgress) {
		if now := time.Now(); now.Sub(last) >= time.Second {
			last = now
			fmt.Fprintf(env.stderr, "%s: %d keys, %d objects, %s\n", p.Phase, p.Keys, p.Objects, humanBytes(p.Bytes))
		}
	}
	rep, err := store.Migrate(ctx, st, store.MigrateTarget{Blobs: blobs, Catalog: *catalog, Resume: *resume}, progress)
	if errors.Is(err, store.ErrMigrateNotEmpty) {
		return fmt.Errorf("%w (or choose an empty database)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Moved %d objects (%s) into %s; %d already there. Wrote %d catalog keys (%d already equal).\n",
		rep.Objects, humanBytes(rep.Bytes), *objects, rep.External, rep.Keys, rep.KeysSkipped)
	fmt.Fprintf(env.stdout, "Verified %d keys, %d objects (%s), %d bundles and %d manifests through the destination.\n",
		rep.VerifiedKeys, rep.VerifiedObjects, humanBytes(rep.VerifiedBytes), rep.Bundles, rep.Manifests)
	if *catalog == "" {
		fmt.Fprintf(env.stdout, "Start the server with --data %s --objects %s.\n", *data, *objects)
	} else {
		fmt.Fprintf(env.stdout, "Start the nodes with --objects %s and the new PostgreSQL catalog; %s is left as it was.\n", *objects, *data)
	}
	return nil
}
