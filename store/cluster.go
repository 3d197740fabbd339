package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/patchwire/patchwire/manifest"
)

// Several nodes over one catalog (issue 12). With Options.Catalog the
// catalog's kv store is PostgreSQL (pgKV), shared by every node; Badger
// under Dir stays open for what is each node's own (the local blob store
// when no Options.Blobs is given, value-log GC, Size). What makes it safe:
//
//   - Objects' bytes always go through the blob seam (never 1 MiB chunks
//     through pgKV): Options.Blobs (S3: shared by the nodes), else the
//     node's own Badger (BadgerBlobs; then only one node may run, since
//     the other nodes cannot read its bytes: a second node is refused by
//     the s/catalog-local-blobs record, see claimLocalBlobs).
//   - Every catalog write (update) bumps the PostgreSQL generation in its
//     own transaction; every device-channel write bumps its app's row in
//     patchwire_device_generation. The NOTIFYs go out on commit, and each
//     node's watch moves its in-memory generations (generation.go).
//   - Freshness guarantee: CatalogGeneration and DeviceChannelsGeneration
//     trust the in-memory value for at most Options.CatalogRecheck after
//     they last read the generation row (default 0: every call reads it,
//     one single-row query). So a check that starts after a write on
//     another node returned (committed) reads a generation at least that
//     write's, sees it differ from its cached copy's, and reads the
//     catalog again: it gets the new answer, always, not "usually". With
//     CatalogRecheck > 0 the answer may be that much older (the notice
//     usually moves it sooner).
//   - Blob writers and the collector lock a digest's stripe across nodes
//     (a PostgreSQL advisory lock on top of the in-process one), so no
//     node deletes a blob another node is writing the record of; one
//     collection runs at a time across the nodes (pg_try_advisory_lock:
//     a node that does not get it skips its run). Reachability is the
//     shared catalog's, so it is global.

// keyCatalogPostgres is the local Badger record of a store directory that
// ran with a PostgreSQL catalog: a later start without one is refused.
const keyCatalogPostgres = "s/catalog-postgres"

// keyLocalBlobs (in the shared catalog) names the node whose local Badger
// holds the objects' bytes when no Options.Blobs is given.
const keyLocalBlobs = "s/catalog-local-blobs"

// ErrCatalogPostgres: a store directory that ran with a PostgreSQL catalog
// was opened without one (or a Badger-only operation was asked of it).
var ErrCatalogPostgres = errors.New("the store's catalog is in PostgreSQL")

// Advisory lock keys (two-int form: class, object), "pw" in the class.
const (
	pgLockClassBlob int32 = 0x7077_0001 // object: the digest's stripe
	pgLockClassGC   int32 = 0x7077_0002 // object: 0
)

// cluster is a Store's PostgreSQL side; nil on a Badger catalog.
type cluster struct {
	pg *pgKV
	// locks is a pool of its own for advisory locks held across a
	// transaction of the main pool (never the other way round, so the
	// two cannot starve each other).
	locks *pgxpool.Pool
	// checked is when the generation row was last read (unix ns);
	// devChecked, per app (*atomic.Int64), when its device row was.
	checked    atomic.Int64
	devChecked sync.Map
	stop       context.CancelFunc
	done       chan struct{}
}

// openCluster connects to the catalog at dsn.
func openCluster(ctx context.Context, dsn string, s *Store) (*cluster, error) {
	pg, err := openPGKV(ctx, dsn, s.log)
	if err != nil {
		return nil, err
	}
	cfg := pg.pool.Config().Copy()
	cfg.MaxConns = 16
	cfg.MinConns = 0
	locks, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		pg.Close()
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	return &cluster{pg: pg, locks: locks}, nil
}

// close stops the watch and the pools.
func (c *cluster) close() {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
	c.locks.Close()
}

// openCatalog puts the store's catalog on PostgreSQL when opts.Catalog is
// set, and refuses a directory that ran with one when it is not.
func (s *Store) openCatalog() error {
	ctx := context.Background()
	local := badgerKV{s.db}
	var marked bool
	if err := local.View(ctx, func(txn kvTxn) error {
		var err error
		marked, err = exists(txn, []byte(keyCatalogPostgres))
		return err
	}); err != nil {
		return err
	}
	if s.opts.Catalog == "" {
		if marked {
			return fmt.Errorf("%w: this store directory ran with a PostgreSQL catalog; start it with --catalog (PATCHWIRE_CATALOG) again", ErrCatalogPostgres)
		}
		return nil
	}
	if s.readOnly != nil {
		return fmt.Errorf("postgres catalog: %w", s.readOnly)
	}
	c, err := openCluster(ctx, s.opts.Catalog, s)
	if err != nil {
		return err
	}
	if !marked {
		if err := local.Update(ctx, func(txn kvTxn) error {
			return txn.Set([]byte(keyCatalogPostgres), []byte{1})
		}); err != nil {
			c.close()
			c.pg.Close()
			return err
		}
	}
	if s.blobs == nil {
		// The node's own Badger holds the bytes: a store over db alone.
		ls := &Store{kv: local, db: s.db, opts: s.opts, log: s.log, enc: s.enc, dec: s.dec,
			cache: newManifestCache(1), chunks: s.chunks, space: s.space}
		s.blobs = ls.BadgerBlobs()
		s.localBlobs = true
	}
	if err := claimLocalBlobs(ctx, c.pg, s.opts.Dir, s.localBlobs); err != nil {
		c.close()
		c.pg.Close()
		return err
	}
	s.kv, s.cluster = c.pg, c
	s.metas = newMetaCache(sharedMetaTTL) // other nodes write the om/ records too
	if n, err := c.pg.generation(ctx); err == nil {
		s.gens.catalog.Store(uint64(n))
	}
	wctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		c.pg.WatchGenerations(wctx, s.noticed, s.noticedDevices)
	}()
	return nil
}

// claimLocalBlobs, when local (no Options.Blobs), records in the shared
// catalog which node keeps the objects' bytes in its own Badger, and
// refuses another: without a shared blob store (--objects) only one node
// can serve. Without local, it refuses a catalog whose bytes are in a
// node's Badger.
func claimLocalBlobs(ctx context.Context, pg *pgKV, dir string, local bool) error {
	host, _ := os.Hostname()
	abs, _ := filepath.Abs(dir)
	me := host + ":" + abs
	return pg.Update(ctx, func(txn kvTxn) error {
		v, err := txn.Get([]byte(keyLocalBlobs))
		switch {
		case errors.Is(err, errKVNotFound) && !local:
			return nil
		case errors.Is(err, errKVNotFound):
			ext, err := exists(txn, []byte(keyExternal))
			if err != nil {
				return err
			}
			if ext {
				return fmt.Errorf("%w: this catalog's objects are in S3-compatible storage: start with the --objects s3://... the other nodes use", ErrInvalid)
			}
			return txn.Set([]byte(keyLocalBlobs), []byte(me))
		case err != nil:
			return err
		case !local || string(v) != me:
			return fmt.Errorf("%w: this catalog's objects are in the Badger store of %s; a second node needs a shared object store (--objects s3://...)", ErrInvalid, v)
		}
		return nil
	})
}

// noticed is WatchGenerations' callback for the catalog generation.
func (s *Store) noticed(n int64) { storeMax(&s.gens.catalog, uint64(n)) }

// noticedDevices moves app's device generation to n.
func (s *Store) noticedDevices(app string, n int64) {
	storeMax(s.gens.deviceCounter(app), uint64(n))
}

// storeMax moves a to v when v is larger.
func storeMax(a *atomic.Uint64, v uint64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// catalogGeneration is CatalogGeneration on PostgreSQL: the generation
// row (recheck).
func (c *cluster) catalogGeneration(s *Store) uint64 {
	return c.recheck(s, &s.gens.catalog, &c.checked, c.pg.generation)
}

// generations is Store.Generations on PostgreSQL: both rows in one query
// when either is due for its recheck, else the in-memory pair.
func (c *cluster) generations(s *Store, app string) (uint64, uint64) {
	v, _ := c.devChecked.LoadOrStore(app, new(atomic.Int64))
	devChecked, devices := v.(*atomic.Int64), s.gens.deviceCounter(app)
	now := time.Now().UnixNano()
	if r := int64(s.opts.CatalogRecheck); r > 0 && now-c.checked.Load() < r && now-devChecked.Load() < r {
		return s.gens.catalog.Load(), devices.Load()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cn, dn, err := c.pg.generations(ctx, app)
	if err != nil {
		return s.gens.catalog.Add(1), devices.Add(1) // as recheck: nobody trusts a copy
	}
	c.checked.Store(now)
	devChecked.Store(now)
	storeMax(&s.gens.catalog, uint64(cn))
	storeMax(devices, uint64(dn))
	return s.gens.catalog.Load(), devices.Load()
}

// recheck returns the in-memory generation ctr, after moving it to the
// row read reads when the last read (checked, unix ns) is older than
// Options.CatalogRecheck (0: every call). A failed read moves ctr by one
// instead: no reader then trusts its copy, and its catalog read reports
// the failure.
func (c *cluster) recheck(s *Store, ctr *atomic.Uint64, checked *atomic.Int64, read func(context.Context) (int64, error)) uint64 {
	now := time.Now().UnixNano()
	if s.opts.CatalogRecheck > 0 && now-checked.Load() < int64(s.opts.CatalogRecheck) {
		return ctr.Load()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := read(ctx)
	if err != nil {
		return ctr.Add(1)
	}
	checked.Store(now)
	storeMax(ctr, uint64(n))
	return ctr.Load()
}

// bumpDevices moves app's device generation in txn and notifies it on
// pgDeviceChannel ("<n> <app>") at commit. The per-app row, not the
// catalog generation, so a device's override does not make every app's
// catalog decode again on every node.
func (t *pgTxn) bumpDevices(app string) (int64, error) {
	if err := t.flush(); err != nil {
		return 0, err
	}
	var n int64
	err := t.tx.QueryRow(t.ctx, `INSERT INTO patchwire_device_generation (app, n) VALUES ($1, 1)
		ON CONFLICT (app) DO UPDATE SET n = patchwire_device_generation.n + 1 RETURNING n`, app).Scan(&n)
	if err != nil {
		return 0, pgError("bump device generation", err)
	}
	if _, err := t.tx.Exec(t.ctx, `SELECT pg_notify($1, $2)`, pgDeviceChannel, strconv.FormatInt(n, 10)+" "+app); err != nil {
		return 0, pgError("notify device generation", err)
	}
	return n, nil
}

// pgDeviceChannel is the LISTEN/NOTIFY channel of the per-app device
// generations.
const pgDeviceChannel = "patchwire_devices"

// parseDeviceNotice splits a pgDeviceChannel payload.
func parseDeviceNotice(p string) (app string, n int64, ok bool) {
	num, app, ok := strings.Cut(p, " ")
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return app, n, err == nil
}

// lockBlob locks d's stripe in this process and, on a PostgreSQL catalog,
// across the nodes (blob.go's digestLocks, cluster-wide).
func (s *Store) lockBlob(ctx context.Context, d manifest.Digest) (func(), error) {
	unlock := s.blobLocks.lock(d)
	if s.cluster == nil {
		return unlock, nil
	}
	conn, err := s.cluster.locks.Acquire(ctx)
	if err != nil {
		unlock()
		return nil, pgError("blob lock", err)
	}
	stripe := int32(d[0] % byte(len(s.blobLocks)))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, pgLockClassBlob, stripe); err != nil {
		conn.Release()
		unlock()
		return nil, pgError("blob lock", err)
	}
	return func() {
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1, $2)`, pgLockClassBlob, stripe); err != nil {
			conn.Conn().Close(context.Background()) // the session's end releases it
		}
		conn.Release()
		unlock()
	}, nil
}

// lockGC takes the cluster's collection lock without waiting: ok false
// when another node is collecting.
func (s *Store) lockGC(ctx context.Context) (unlock func(), ok bool, err error) {
	if s.cluster == nil {
		return func() {}, true, nil
	}
	conn, err := s.cluster.locks.Acquire(ctx)
	if err != nil {
		return nil, false, pgError("gc lock", err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, 0)`, pgLockClassGC).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, pgError("gc lock", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1, 0)`, pgLockClassGC); err != nil {
			conn.Conn().Close(context.Background())
		}
		conn.Release()
	}, true, nil
}
