package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gisbi/engine/storage"
)

// reminders keeps timers in one table ordered by ready_at, the generated
// column greatest(due_at, claimed_until): an unclaimed reminder is ready at
// its due time, a claimed one when its claim ends, so Due, Claim and Next
// all read one index from its start.
type reminders struct{ s *Store }

// Reminders returns the store's reminders.
func (s *Store) Reminders() storage.Reminders { return reminders{s: s} }

const reminderCols = `kind, identity, name, due_at, payload, claimed_until`

// reminderOrder breaks ready_at ties by key, so every listing has one order.
const reminderOrder = `ready_at, kind, identity, name`

// maxReminderKey bounds kind+identity+name together: the key is one btree
// entry (twice, with ready_at), and PostgreSQL refuses entries over about
// 2.7 kB with an error no caller could act on.
const maxReminderKey = 2048

func checkReminderKey(kind, identity, name string) error {
	if err := checkIDs("reminder kind", kind, "reminder identity", identity, "reminder name", name); err != nil {
		return err
	}
	if n := len(kind) + len(identity) + len(name); n > maxReminderKey {
		return badInput("reminder %s/%s/…: key is %d bytes, limit %d", kind, identity, n, maxReminderKey)
	}
	return nil
}

// setReminder stores r inside tx, replacing the reminder with its key and
// dropping any claim on it: Set, and Grant storing a gift's timer with the
// gift.
func setReminder(ctx context.Context, tx pgx.Tx, r storage.Reminder) error {
	if err := checkReminderKey(r.Kind, r.Identity, r.Name); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO reminders (kind, identity, name, due_at, payload, claimed_until)
		VALUES ($1, $2, $3, $4, $5, NULL)
		ON CONFLICT (kind, identity, name) DO UPDATE
		SET due_at = excluded.due_at, payload = excluded.payload, claimed_until = NULL`,
		r.Kind, r.Identity, r.Name, r.DueAt, r.Payload)
	return err
}

func (r reminders) Set(ctx context.Context, rem storage.Reminder) error {
	if err := checkReminderKey(rem.Kind, rem.Identity, rem.Name); err != nil {
		return err
	}
	return r.s.write(ctx, "reminders.set", func(tx pgx.Tx) error {
		return setReminder(ctx, tx, rem)
	})
}

// Delete is idempotent: the reminders service deletes after firing and may
// race a user action that deleted first.
func (r reminders) Delete(ctx context.Context, kind, identity, name string) error {
	if err := checkReminderKey(kind, identity, name); err != nil {
		return err
	}
	return r.s.write(ctx, "reminders.delete", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM reminders WHERE kind = $1 AND identity = $2 AND name = $3`, kind, identity, name)
		return err
	})
}

// Due reads without claiming; limit must be positive so one call can never
// load an unbounded backlog.
func (r reminders) Due(ctx context.Context, until time.Time, limit int) ([]storage.Reminder, error) {
	if err := storage.CheckLimit("reminders due", limit); err != nil {
		return nil, err
	}
	var out []storage.Reminder
	err := r.s.read(ctx, "reminders.due", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+reminderCols+` FROM reminders
			WHERE ready_at <= $1 ORDER BY `+reminderOrder+` LIMIT $2`, until, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Reminder, error) { return scanReminder(row) })
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Claim locks the ready reminders it takes with SKIP LOCKED, so nodes
// claiming at once split the ready reminders between them instead of
// queueing on the same rows, and moves their ready_at to the end of the
// claim in the same statement. The result is in the order they were ready.
func (r reminders) Claim(ctx context.Context, now, until time.Time, limit int) ([]storage.Reminder, error) {
	if err := storage.CheckLimit("reminders claim", limit); err != nil {
		return nil, err
	}
	if !until.After(now) {
		return nil, badInput("reminders claim until %s is not after now %s", until.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
	var out []storage.Reminder
	err := r.s.write(ctx, "reminders.claim", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH ready AS (
				SELECT kind, identity, name, ready_at FROM reminders
				WHERE ready_at <= $1 ORDER BY `+reminderOrder+` LIMIT $3
				FOR UPDATE SKIP LOCKED
			), claimed AS (
				UPDATE reminders r SET claimed_until = $2
				FROM ready
				WHERE r.kind = ready.kind AND r.identity = ready.identity AND r.name = ready.name
				RETURNING r.kind, r.identity, r.name, r.due_at, r.payload, r.claimed_until, ready.ready_at AS was_ready
			)
			SELECT `+reminderCols+` FROM claimed ORDER BY was_ready, kind, identity, name`,
			now, until, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Reminder, error) { return scanReminder(row) })
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r reminders) Next(ctx context.Context) (*storage.Reminder, error) {
	var out storage.Reminder
	err := r.s.read(ctx, "reminders.next", func(q querier) error {
		var err error
		out, err = scanReminder(q.QueryRow(ctx, `SELECT `+reminderCols+` FROM reminders ORDER BY `+reminderOrder+` LIMIT 1`))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: no reminders: %w", storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// scanReminder reads the columns of reminderCols, with times in UTC.
func scanReminder(row pgx.Row) (storage.Reminder, error) {
	var r storage.Reminder
	if err := row.Scan(&r.Kind, &r.Identity, &r.Name, &r.DueAt, &r.Payload, &r.ClaimedUntil); err != nil {
		return storage.Reminder{}, err
	}
	r.DueAt = r.DueAt.UTC()
	r.ClaimedUntil = utcPtr(r.ClaimedUntil)
	return r, nil
}
