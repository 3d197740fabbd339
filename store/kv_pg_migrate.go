package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgMigrations are the PostgreSQL schema's versions, in order: migration
// i+1 is pgMigrations[i], its statements run in one transaction with the
// row recording it in patchwire_schema_migrations. Append only: a
// released migration never changes.
var pgMigrations = [][]string{
	// 1: the catalog's keys and values.
	{`CREATE TABLE patchwire_kv (k bytea PRIMARY KEY, v bytea NOT NULL)`},
	// 2: the generation, moved by every catalog write another node must
	// see (pgTxn.bump).
	{
		`CREATE TABLE patchwire_generation (id int PRIMARY KEY CHECK (id = 1), n bigint NOT NULL)`,
		`INSERT INTO patchwire_generation (id, n) VALUES (1, 0)`,
	},
	// 3: the per-app device-channel generations (pgTxn.bumpDevices).
	{`CREATE TABLE patchwire_device_generation (app text PRIMARY KEY, n bigint NOT NULL)`},
}

// pgMigrateLock is the pg_advisory_xact_lock key under which the schema is
// brought up to date, so that nodes starting at once apply each migration
// once ("patchwir" in ASCII).
const pgMigrateLock int64 = 0x7061746368776972

// errPGSchemaNewer: the database's schema is newer than this binary knows.
var errPGSchemaNewer = fmt.Errorf("store: the PostgreSQL schema is newer than this patchwire knows (upgrade patchwire)")

// pgMigrate applies the migrations the database lacks, in one transaction
// under the advisory lock, and refuses a database whose schema is newer
// than pgMigrations.
func pgMigrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrateLock); err != nil {
			return fmt.Errorf("store: postgres migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS patchwire_schema_migrations (
			version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("store: postgres schema migrations table: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM patchwire_schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("store: postgres schema version: %w", err)
		}
		if have > len(pgMigrations) {
			return fmt.Errorf("%w: the database is at version %d, this binary knows up to %d", errPGSchemaNewer, have, len(pgMigrations))
		}
		for v := have + 1; v <= len(pgMigrations); v++ {
			for _, sql := range pgMigrations[v-1] {
				if _, err := tx.Exec(ctx, sql); err != nil {
					return fmt.Errorf("store: postgres migration %d: %w", v, err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO patchwire_schema_migrations (version) VALUES ($1)`, v); err != nil {
				return fmt.Errorf("store: postgres migration %d: %w", v, err)
			}
			log.Info("postgres schema migrated", "version", v)
		}
		return nil
	})
}
