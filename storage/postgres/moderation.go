package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/gisbi/engine/storage"
)

type moderation struct{ s *Store }

// Moderation returns the operators' store: report queue, audit log, search.
func (s *Store) Moderation() storage.Moderation { return moderation{s: s} }

// Reports pages by id, which is filing order because report ids are ULIDs;
// the id column's "C" collation makes that byte order, as in bbolt.
func (m moderation) Reports(ctx context.Context, status, after string, limit int) ([]storage.Report, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be positive", ErrInvalid)
	}
	if after != "" {
		if err := checkID("report cursor", after); err != nil {
			return nil, err
		}
	}
	var out []storage.Report
	err := m.s.read(ctx, "moderation.reports", func(q querier) error {
		var err error
		if status == "" {
			out, err = queryReports(ctx, q, `SELECT `+reportColumns+` FROM reports
				WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
		} else {
			out, err = queryReports(ctx, q, `SELECT `+reportColumns+` FROM reports
				WHERE status = $1 AND id > $2 ORDER BY id LIMIT $3`, status, after, limit)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m moderation) GetReport(ctx context.Context, id string) (*storage.Report, error) {
	if err := checkID("report id", id); err != nil {
		return nil, err
	}
	var r storage.Report
	err := m.s.read(ctx, "moderation.get_report", func(q querier) error {
		var err error
		r, err = scanReport(q.QueryRow(ctx, `SELECT `+reportColumns+` FROM reports WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: report %q: %w", id, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateReport writes only the moderation fields, so what the reporter
// filed stays as it was, and hands the whole stored report back in r.
func (m moderation) UpdateReport(ctx context.Context, r *storage.Report) error {
	if err := storage.CheckReportUpdate(r, checkID); err != nil {
		return err
	}
	var stored storage.Report
	err := m.s.write(ctx, "moderation.update_report", func(tx pgx.Tx) error {
		var err error
		stored, err = scanReport(tx.QueryRow(ctx, `UPDATE reports SET status = $2, resolution = $3,
			resolved_by = $4, resolved_at = $5, updated_at = $6
			WHERE id = $1 RETURNING `+reportColumns,
			r.ID, r.Status, r.Resolution, r.ResolvedBy, r.ResolvedAt, r.UpdatedAt))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: report %q: %w", r.ID, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return err
	}
	*r = stored
	return nil
}

func (m moderation) OpenAgainst(ctx context.Context, userIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(userIDs))
	var ask []string
	for _, id := range userIDs {
		if _, done := out[id]; done || id == "" {
			continue
		}
		out[id] = 0
		// An id no text column can hold has no reports; sending it would
		// only make the server fail the whole query.
		if checkID("user id", id) == nil {
			ask = append(ask, id)
		}
	}
	err := m.s.read(ctx, "moderation.open_against", func(q querier) error {
		if len(ask) == 0 {
			return nil
		}
		rows, err := q.Query(ctx, `SELECT reported_user_id, count(*) FROM reports
			WHERE reported_user_id = ANY($1) AND status <> 'resolved' GROUP BY reported_user_id`, ask)
		if err != nil {
			return err
		}
		var id string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
			out[id] = n
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ResolveAgainst is one UPDATE: a report filed while it runs is either
// resolved by it or left open, never half-written.
func (m moderation) ResolveAgainst(ctx context.Context, userID, resolution, by string, at time.Time) ([]storage.Report, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var out []storage.Report
	err := m.s.write(ctx, "moderation.resolve_against", func(tx pgx.Tx) error {
		var err error
		out, err = queryReports(ctx, tx, `UPDATE reports SET status = 'resolved', resolution = $2,
			resolved_by = $3, resolved_at = $4, updated_at = $4
			WHERE reported_user_id = $1 AND status <> 'resolved' RETURNING `+reportColumns,
			userID, resolution, by, at)
		return err
	})
	if err != nil {
		return nil, err
	}
	// RETURNING has no order; callers get filing order, as from bbolt.
	slices.SortFunc(out, func(a, b storage.Report) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (m moderation) AppendAudit(ctx context.Context, e *storage.AuditEntry) error {
	if e == nil {
		return fmt.Errorf("%w: audit entry is nil", ErrInvalid)
	}
	if err := checkID("audit id", e.ID); err != nil {
		return err
	}
	return m.s.write(ctx, "moderation.append_audit", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO audit_log (id, at, operator, action, target, detail)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
			e.ID, e.At, e.Operator, e.Action, e.Target, e.Detail)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: audit entry %q already exists: %w", e.ID, storage.ErrConflict)
		}
		return nil
	})
}

func (m moderation) Audit(ctx context.Context, before string, limit int) ([]storage.AuditEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be positive", ErrInvalid)
	}
	if before != "" {
		if err := checkID("audit cursor", before); err != nil {
			return nil, err
		}
	}
	var out []storage.AuditEntry
	err := m.s.read(ctx, "moderation.audit", func(q querier) error {
		const cols = `SELECT id, at, operator, action, target, detail FROM audit_log `
		var rows pgx.Rows
		var err error
		if before == "" {
			rows, err = q.Query(ctx, cols+`ORDER BY id DESC LIMIT $1`, limit)
		} else {
			rows, err = q.Query(ctx, cols+`WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limit)
		}
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.AuditEntry, error) {
			var e storage.AuditEntry
			err := row.Scan(&e.ID, &e.At, &e.Operator, &e.Action, &e.Target, &e.Detail)
			e.At = e.At.UTC()
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []storage.AuditEntry{}
	}
	return out, nil
}

// SearchUsers ranks the exact id, then the live account holding the handle,
// then accounts whose name or handle contains q, each rank in id order.
// The contains part scans the table: an operator's search, not a hot path,
// and bounded by limit.
func (m moderation) SearchUsers(ctx context.Context, q string, limit int) ([]storage.User, error) {
	q = strings.TrimSpace(q)
	// Text no column can hold matches nothing.
	if q == "" || limit <= 0 || strings.IndexByte(q, 0) >= 0 || !utf8.ValidString(q) {
		return []storage.User{}, nil
	}
	var out []storage.User
	err := m.s.read(ctx, "moderation.search_users", func(qr querier) error {
		rows, err := qr.Query(ctx, `SELECT doc, version FROM users
			WHERE id = $1 OR username_key = $2
				OR strpos(lower(name), lower($1)) > 0
				OR strpos(lower(coalesce(username, '')), lower($1)) > 0
			ORDER BY CASE WHEN id = $1 THEN 0 WHEN username_key = $2 THEN 1 ELSE 2 END, id
			LIMIT $3`, q, strings.ToLower(q), limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.User, error) {
			u, err := scanUser(row)
			if err != nil {
				return storage.User{}, err
			}
			return *u, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []storage.User{}
	}
	return out, nil
}
