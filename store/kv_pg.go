package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgKV is the catalog's kvStore on PostgreSQL (issue 12): every key and
// value is a row of patchwire_kv (k bytea PRIMARY KEY, v bytea NOT NULL),
// so that several nodes share one catalog. Update is a SERIALIZABLE
// transaction, View a REPEATABLE READ READ ONLY one (one snapshot). The
// schema is versioned (kv_pg_migrate.go) and brought up to date at open.
type pgKV struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// batch: Set and Delete are queued and sent in one round trip (a
	// pgx.Batch) before the transaction's next read and at commit, instead
	// of one round trip each. On by default; the benchmark turns it off to
	// measure it.
	batch bool
}

// pgBatchMax is how many writes a transaction queues before it sends them.
const pgBatchMax = 512

// pgScanPage is how many rows Scan reads per query. Scan pages by key
// (k > the page's last key) rather than holding one query open while it
// calls fn, so that fn may read and write in the same transaction (one
// PostgreSQL connection runs one query at a time); a page is held in
// memory, never the whole range.
const pgScanPage = 256

// openPGKV connects to the PostgreSQL database at dsn (a URL or key=value
// connection string, as libpq takes) and brings its schema up to date.
// defaultPoolConns is the connections a node's pool may open unless the
// connection string sets pool_max_conns: pgx's own default, the larger of 4
// and the CPUs, queues a server's requests behind a few connections (bench
// cluster: about twice the checks/s at 32 on 2 CPUs), and 16 per node
// leaves PostgreSQL's default 100 for several nodes.
const defaultPoolConns = 16

func openPGKV(ctx context.Context, dsn string, log *slog.Logger) (*pgKV, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres connection string: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultPoolConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", cfg.ConnConfig.Host, err)
	}
	if err := pgMigrate(ctx, pool, log); err != nil {
		pool.Close()
		return nil, err
	}
	return &pgKV{pool: pool, log: log, batch: true}, nil
}

// Close implements kvStore.
func (p *pgKV) Close() error {
	p.pool.Close()
	return nil
}

// Update implements kvStore: fn runs in a SERIALIZABLE transaction.
func (p *pgKV) Update(ctx context.Context, fn func(kvTxn) error) error {
	return p.run(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, fn)
}

// View implements kvStore: fn runs in a REPEATABLE READ READ ONLY
// transaction, which reads one snapshot.
func (p *pgKV) View(ctx context.Context, fn func(kvTxn) error) error {
	return p.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// run runs fn in a transaction of opts and commits it when fn returns nil.
func (p *pgKV) run(ctx context.Context, opts pgx.TxOptions, fn func(kvTxn) error) error {
	tx, err := p.pool.BeginTx(ctx, opts)
	if err != nil {
		return pgError("begin", err)
	}
	// Rolls back on fn's error or panic; nothing once committed.
	defer tx.Rollback(context.WithoutCancel(ctx))
	t := &pgTxn{ctx: ctx, tx: tx, readOnly: opts.AccessMode == pgx.ReadOnly, batched: p.batch}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.flush(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return pgError("commit", err)
	}
	return nil
}

// pgTxn is one transaction of a pgKV.
type pgTxn struct {
	ctx      context.Context
	tx       pgx.Tx
	readOnly bool
	batched  bool
	pending  *pgx.Batch // queued writes, nil when none
}

// pgSpan is a row of Scan's page: its key is buf[k0:k1], its value
// buf[k1:v1].
type pgSpan struct{ k0, k1, v1 int }

// errKVReadOnly: a Set or Delete in a View.
var errKVReadOnly = errors.New("store: write in a read-only transaction")

const (
	pgGet    = `SELECT v FROM patchwire_kv WHERE k = $1`
	pgSet    = `INSERT INTO patchwire_kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`
	pgDelete = `DELETE FROM patchwire_kv WHERE k = $1`
)

// Get implements kvTxn.
func (t *pgTxn) Get(key []byte) ([]byte, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	var v []byte
	err := t.tx.QueryRow(t.ctx, pgGet, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errKVNotFound
	}
	if err != nil {
		return nil, pgError("get", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Set implements kvTxn.
func (t *pgTxn) Set(key, value []byte) error {
	if value == nil {
		value = []byte{} // v is NOT NULL: an empty value is a value
	}
	return t.write(pgSet, key, value)
}

// Delete implements kvTxn.
func (t *pgTxn) Delete(key []byte) error { return t.write(pgDelete, key) }

func (t *pgTxn) write(sql string, args ...any) error {
	if t.readOnly {
		return errKVReadOnly
	}
	if !t.batched {
		if _, err := t.tx.Exec(t.ctx, sql, args...); err != nil {
			return pgError("write", err)
		}
		return nil
	}
	if t.pending == nil {
		t.pending = &pgx.Batch{}
	}
	t.pending.Queue(sql, args...)
	if t.pending.Len() >= pgBatchMax {
		return t.flush()
	}
	return nil
}

// flush sends the queued writes.
func (t *pgTxn) flush() error {
	if t.pending == nil {
		return nil
	}
	b := t.pending
	t.pending = nil
	if err := t.tx.SendBatch(t.ctx, b).Close(); err != nil {
		return pgError("write", err)
	}
	return nil
}

// Scan implements kvTxn, a page of pgScanPage rows at a time.
func (t *pgTxn) Scan(prefix []byte, values bool, fn func(key, value []byte) error) error {
	if err := t.flush(); err != nil {
		return err
	}
	cols := "k, NULL::bytea"
	if values {
		cols = "k, v"
	}
	from := append([]byte{}, prefix...) // never nil: nil is NULL
	upper := prefixSuccessor(prefix)
	op := ">="
	var k, v pgtype.DriverBytes // the driver's memory, valid until the next row
	dst := []any{&k, &v}
	var buf []byte
	var spans []pgSpan
	for {
		var rows pgx.Rows
		var err error
		if upper == nil {
			rows, err = t.tx.Query(t.ctx, fmt.Sprintf(`SELECT %s FROM patchwire_kv WHERE k %s $1 ORDER BY k LIMIT %d`, cols, op, pgScanPage), from)
		} else {
			rows, err = t.tx.Query(t.ctx, fmt.Sprintf(`SELECT %s FROM patchwire_kv WHERE k %s $1 AND k < $2 ORDER BY k LIMIT %d`, cols, op, pgScanPage), from, upper)
		}
		if err != nil {
			return pgError("scan", err)
		}
		// The page's keys and values, one after the other in buf (one per
		// Scan: fn may scan too).
		buf, spans = buf[:0], spans[:0]
		for rows.Next() {
			if err := rows.Scan(dst...); err != nil {
				rows.Close()
				return pgError("scan", err)
			}
			s := pgSpan{k0: len(buf)}
			buf = append(buf, k...)
			s.k1 = len(buf)
			buf = append(buf, v...)
			s.v1 = len(buf)
			spans = append(spans, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return pgError("scan", err)
		}
		for _, s := range spans {
			var v []byte
			if values {
				v = buf[s.k1:s.v1:s.v1]
			}
			if err := fn(buf[s.k0:s.k1:s.k1], v); err != nil {
				return err
			}
		}
		if len(spans) < pgScanPage {
			return nil
		}
		last := spans[len(spans)-1]
		from = append(from[:0], buf[last.k0:last.k1]...)
		op = ">"
	}
}

// prefixSuccessor is the least key greater than every key starting with
// prefix, or nil when there is none (prefix empty or all 0xff).
func prefixSuccessor(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			s := append([]byte(nil), prefix[:i+1]...)
			s[i]++
			return s
		}
	}
	return nil
}

// pgError wraps a PostgreSQL error of op: a serialization failure or a
// deadlock is errKVConflict (the caller runs its transaction again), a
// program limit errKVTooBig.
func pgError(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%w: postgres %s: %w", errKVConflict, op, err)
		case "54000": // program_limit_exceeded
			return fmt.Errorf("%w: postgres %s: %w", errKVTooBig, op, err)
		}
	}
	return fmt.Errorf("store: postgres %s: %w", op, err)
}
