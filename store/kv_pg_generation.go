package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The cross-node change notice (issue 12): a node's catalog writes
// (Store.update) bump the generation in their own transaction, and every
// node's WatchGenerations moves its in-memory catalog generation
// (generation.go) when another node committed, so its decoded copy is read
// again. Bumping in every Update would make all of them conflict on the
// one row, so only writes a reader of the catalog must see bump
// (updateData does not). cluster.go wires it.

// pgGenerationChannel is the LISTEN/NOTIFY channel of the generation.
const pgGenerationChannel = "patchwire_generation"

// pgWatchApplication is the application_name of WatchGenerations'
// connection (pg_stat_activity shows it).
const pgWatchApplication = "patchwire-generation-watch"

// bump moves the generation by one and notifies the new value on
// pgGenerationChannel. Both are part of the transaction: the notice is
// delivered when it commits, never when it rolls back.
func (t *pgTxn) bump() (int64, error) {
	if t.readOnly {
		return 0, errKVReadOnly
	}
	if err := t.flush(); err != nil {
		return 0, err
	}
	var n int64
	if err := t.tx.QueryRow(t.ctx, `UPDATE patchwire_generation SET n = n + 1 WHERE id = 1 RETURNING n`).Scan(&n); err != nil {
		return 0, pgError("bump generation", err)
	}
	if _, err := t.tx.Exec(t.ctx, `SELECT pg_notify($1, $2)`, pgGenerationChannel, strconv.FormatInt(n, 10)); err != nil {
		return 0, pgError("notify generation", err)
	}
	return n, nil
}

// generation reads the current generation.
func (p *pgKV) generation(ctx context.Context) (int64, error) {
	var n int64
	if err := p.pool.QueryRow(ctx, `SELECT n FROM patchwire_generation WHERE id = 1`).Scan(&n); err != nil {
		return 0, pgError("read generation", err)
	}
	return n, nil
}

// generations reads the catalog's row and app's device row (0 when it has
// none yet) in one query.
func (p *pgKV) generations(ctx context.Context, app string) (catalog, devices int64, err error) {
	err = p.pool.QueryRow(ctx, `SELECT (SELECT n FROM patchwire_generation WHERE id = 1),
		coalesce((SELECT n FROM patchwire_device_generation WHERE app = $1), 0)`, app).Scan(&catalog, &devices)
	if err != nil {
		return 0, 0, pgError("read generations", err)
	}
	return catalog, devices, nil
}

// WatchGenerations calls fn with the generation every node's committed
// bumps move it to, and dev (when not nil) with an app and its device
// generation (pgTxn.bumpDevices), until ctx ends. It listens on a dedicated connection
// (not one of the pool's); when that connection fails it connects again,
// after a pause that grows to 5 s, and calls fn with the current
// generation after every (re)connection, so a bump committed while it was
// not listening is not missed (a device bump missed then is caught by the
// next read of its row, see cluster.deviceGeneration). fn and dev run on
// WatchGenerations' goroutine.
func (p *pgKV) WatchGenerations(ctx context.Context, fn func(n int64), dev func(app string, n int64)) {
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := p.listen(ctx, fn, dev, func() { pause = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("postgres generation watch lost; connecting again", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// listen runs one connection of WatchGenerations until it fails;
// connected is called once it listens.
func (p *pgKV) listen(ctx context.Context, fn func(int64), dev func(string, int64), connected func()) error {
	cfg := p.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = pgWatchApplication
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgGenerationChannel); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgDeviceChannel); err != nil {
		return err
	}
	connected()
	var n int64
	if err := conn.QueryRow(ctx, `SELECT n FROM patchwire_generation WHERE id = 1`).Scan(&n); err != nil {
		return err
	}
	fn(n)
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if note.Channel == pgDeviceChannel {
			if app, n, ok := parseDeviceNotice(note.Payload); ok && dev != nil {
				dev(app, n)
			}
			continue
		}
		n, err := strconv.ParseInt(note.Payload, 10, 64)
		if err != nil {
			return errors.New("store: postgres generation notice " + strconv.Quote(note.Payload) + " is not a number")
		}
		fn(n)
	}
}
