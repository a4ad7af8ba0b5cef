package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gisbi/engine/storage"
)

type safety struct{ s *Store }

// Safety returns the store's blocks and reports.
func (s *Store) Safety() storage.Safety { return safety{s: s} }

// Block keeps the first CreatedAt when the pair is already blocked: a retry
// must not move the block's age.
func (r safety) Block(ctx context.Context, b storage.Block) error {
	if err := checkIDs("blocker id", b.BlockerID, "blocked id", b.BlockedID); err != nil {
		return err
	}
	return r.s.write(ctx, "safety.block", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (blocker_id, blocked_id) DO NOTHING`, b.BlockerID, b.BlockedID, b.CreatedAt)
		return err
	})
}

func (r safety) Unblock(ctx context.Context, blockerID, blockedID string) error {
	if err := checkIDs("blocker id", blockerID, "blocked id", blockedID); err != nil {
		return err
	}
	return r.s.write(ctx, "safety.unblock", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2`, blockerID, blockedID)
		return err
	})
}

func (r safety) BlockedBy(ctx context.Context, blockerID string) ([]storage.Block, error) {
	if err := checkID("blocker id", blockerID); err != nil {
		return nil, err
	}
	var out []storage.Block
	err := r.s.read(ctx, "safety.blocked_by", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT blocker_id, blocked_id, created_at FROM blocks
			WHERE blocker_id = $1 ORDER BY blocked_id`, blockerID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Block, error) {
			var b storage.Block
			err := row.Scan(&b.BlockerID, &b.BlockedID, &b.CreatedAt)
			b.CreatedAt = b.CreatedAt.UTC()
			return b, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []storage.Block{}
	}
	return out, nil
}

func (r safety) BlockersOf(ctx context.Context, userID string) ([]string, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var out []string
	err := r.s.read(ctx, "safety.blockers_of", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT blocker_id FROM blocks WHERE blocked_id = $1 ORDER BY blocker_id`, userID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func (r safety) AddReport(ctx context.Context, rep *storage.Report) error {
	if err := storage.CheckReport(rep, checkID); err != nil {
		return err
	}
	return r.s.write(ctx, "safety.add_report", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO reports (`+reportColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
			rep.ID, rep.ReporterID, rep.ReportedUserID, rep.Reason, rep.Status, rep.CreatedAt,
			rep.Resolution, rep.ResolvedBy, rep.ResolvedAt, rep.UpdatedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: report %q already exists: %w", rep.ID, storage.ErrConflict)
		}
		return nil
	})
}

// ReportsBy breaks ties in CreatedAt by id, descending, as bbolt's index
// keys (time then id) read backwards do.
func (r safety) ReportsBy(ctx context.Context, reporterID string) ([]storage.Report, error) {
	if err := checkID("reporter id", reporterID); err != nil {
		return nil, err
	}
	var out []storage.Report
	err := r.s.read(ctx, "safety.reports_by", func(q querier) error {
		var err error
		out, err = queryReports(ctx, q, `SELECT `+reportColumns+` FROM reports
			WHERE reporter_id = $1 ORDER BY created_at DESC, id DESC`, reporterID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const reportColumns = `id, reporter_id, reported_user_id, reason, status, created_at, resolution, resolved_by, resolved_at, updated_at`

func scanReport(row pgx.Row) (storage.Report, error) {
	var r storage.Report
	if err := row.Scan(&r.ID, &r.ReporterID, &r.ReportedUserID, &r.Reason, &r.Status, &r.CreatedAt,
		&r.Resolution, &r.ResolvedBy, &r.ResolvedAt, &r.UpdatedAt); err != nil {
		return storage.Report{}, err
	}
	r.CreatedAt, r.ResolvedAt, r.UpdatedAt = r.CreatedAt.UTC(), utcPtr(r.ResolvedAt), utcPtr(r.UpdatedAt)
	return r, nil
}

// queryReports runs a query selecting reportColumns; never nil.
func queryReports(ctx context.Context, q querier, sql string, args ...any) ([]storage.Report, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Report, error) { return scanReport(row) })
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []storage.Report{}
	}
	return out, nil
}
