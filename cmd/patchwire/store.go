package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/store"
)

// runStore is `patchwire store`: backup, restore and verify of the store
// (issue 14 item 9).
func runStore(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "store", args, map[string]func(context.Context, *cliEnv, []string) error{
		"backup":  runStoreBackup,
		"restore": runStoreRestore,
		"verify":  runStoreVerify,
		"migrate": runStoreMigrate,
	})
}

// storeDir is where `patchwire serve --data DATA` keeps the store.
func storeDir(data string) string { return filepath.Join(data, "db") }

// openStoreDir opens the store of data directory data for a CLI command:
// quiet (warnings only), no background GC; blobs is where its objects'
// bytes are (serve --objects), or nil.
func openStoreDir(env *cliEnv, data string, readOnly bool, blobs ...store.Blobs) (*store.Store, error) {
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := store.Options{Dir: storeDir(data), Logger: log, GCInterval: -1, ReadOnly: readOnly}
	if len(blobs) > 0 {
		opts.Blobs = blobs[0]
	}
	st, err := store.Open(opts)
	if errors.Is(err, store.ErrCatalogPostgres) {
		return nil, fmt.Errorf("the store in %s runs its catalog in PostgreSQL: `patchwire store` works on a Badger catalog only; back the database up with pg_dump (restore with pg_restore) and the objects' bucket with its own tools: %w", data, err)
	}
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("the store in %s is in use by a running server: stop it, or back up the running server with `patchwire store backup --out FILE` (no --data: it uses the saved login and an admin key): %w", data, err)
	}
	return st, err
}

func runStoreBackup(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("store backup", env)
	data := cmd.String("data", "", "data directory of a stopped server to back up directly (default: ask the running server, with an admin key)")
	out := cmd.String("out", "", "file to write the backup to, or - for stdout (required)")
	if _, err := cmd.parse(args); err != nil {
		return err
	}
	if *out == "" {
		return usageError("store backup needs --out FILE (or --out - for stdout)")
	}
	write := func(w io.Writer) (int64, error) {
		if *data != "" {
			st, err := openStoreDir(env, *data, true)
			if err != nil {
				return 0, err
			}
			defer st.Close()
			bs, err := st.Backup(ctx, w)
			return bs.Bytes, err
		}
		c, err := cmd.client(env)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.Backup(ctx, w)
	}
	if *out == "-" {
		_, err := write(env.stdout)
		return err
	}
	n, err := writeFileSafely(*out, write)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "Wrote a backup of %s to %s.\n", humanBytes(n), *out)
	fmt.Fprintf(env.stderr, "It holds the store only: keep a copy of the data directory's %s too (devices trust its public key).\n", server.SigningKeyFile)
	return nil
}

// writeFileSafely writes path through write into a temporary file beside
// it, synced and renamed into place only when write succeeded, so a failed
// backup never leaves a truncated file under the name.
func writeFileSafely(path string, write func(io.Writer) (int64, error)) (int64, error) {
	if _, err := os.Stat(path); err == nil {
		return 0, fmt.Errorf("%s exists: choose another name or remove it", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	n, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

func runStoreRestore(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("store restore", env.stderr)
	data := fs.String("data", "", "data directory to restore into; its store (DATA/db) must not exist yet or be empty (required)")
	in := fs.String("in", "", "backup file, or - for stdin (required)")
	objects := objectsFlag(fs)
	if _, err := parsePositional(fs, args); err != nil {
		return err
	}
	if *data == "" || *in == "" {
		return usageError("store restore needs --data DIR and --in FILE (or --in - for stdin)")
	}
	dir := storeDir(*data)
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty: restore only into a new data directory (or one without a store)", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var r io.Reader = os.Stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	blobs, err := openObjects(ctx, *objects, "", env.getenv)
	if err != nil {
		return err
	}
	st, err := openStoreDir(env, *data, false, blobs)
	if err != nil {
		return err
	}
	bs, err := st.Restore(ctx, r)
	if err != nil {
		st.Close()
		os.RemoveAll(dir) // a partly loaded store is no use; the directory was empty
		return fmt.Errorf("%w (nothing was kept in %s)", err, dir)
	}
	fmt.Fprintf(env.stdout, "Restored %s into %s; verifying every bundle, manifest and object...\n", humanBytes(bs.Bytes), dir)
	verr := printVerify(ctx, env, st)
	if err := st.Close(); err != nil && verr == nil {
		verr = err
	}
	if verr == nil {
		fmt.Fprintf(env.stdout, "Put the old data directory's %s into %s before you start the server, so devices keep trusting its answers.\n", server.SigningKeyFile, *data)
	}
	return verr
}

func runStoreVerify(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("store verify", env.stderr)
	data := fs.String("data", "", "data directory of a stopped server (required)")
	objects := objectsFlag(fs)
	if _, err := parsePositional(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usageError("store verify needs --data DIR")
	}
	blobs, err := openObjects(ctx, *objects, "", env.getenv)
	if err != nil {
		return err
	}
	st, err := openStoreDir(env, *data, true, blobs)
	if err != nil {
		return err
	}
	defer st.Close()
	return printVerify(ctx, env, st)
}

// printVerify runs store.Verify and prints what it checked and every
// problem; problems are an error (exit status 1).
func printVerify(ctx context.Context, env *cliEnv, st *store.Store) error {
	rep, err := st.Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Checked %d bundles, %d manifests, %d objects (%s).\n", rep.Bundles, rep.Manifests, rep.Objects, humanBytes(rep.Bytes))
	for _, p := range rep.Problems {
		fmt.Fprintf(env.stdout, "  %s\n", p)
	}
	if !rep.OK() {
		return fmt.Errorf("the store has %d problems", len(rep.Problems))
	}
	fmt.Fprintln(env.stdout, "OK: every manifest and object verified.")
	return nil
}

// objectsFlag is the --objects flag of the store commands that read
// objects: the server's --objects URL, when their bytes are in
// S3-compatible storage.
func objectsFlag(fs *flag.FlagSet) *string {
	return fs.String("objects", "", "the server's --objects s3://... URL, when its objects' bytes are in S3-compatible storage (read and re-hashed there)")
}
