package boltdb

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

type moderation struct{ s *Store }

// Moderation returns the operators' store: report queue, audit log, search.
func (s *Store) Moderation() storage.Moderation { return moderation{s} }

// indexReport writes a report's status and per-user indexes. Report ids
// are ULIDs, so both indexes list reports in filing order.
func indexReport(bStatus, bAgainst *bolt.Bucket, r *storage.Report) error {
	if err := bStatus.Put(join(r.Status, r.ID), []byte{}); err != nil {
		return err
	}
	return bAgainst.Put(join(r.ReportedUserID, r.ID), []byte(r.Status))
}

func (m moderation) Reports(ctx context.Context, status, after string, limit int) ([]storage.Report, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be positive", ErrInvalid)
	}
	out := []storage.Report{}
	err := m.s.view(ctx, "moderation.reports", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketReports, bucketReportsByStatus)
		if err != nil {
			return err
		}
		collect := func(id []byte) error {
			var r storage.Report
			found, err := getJSON(bs[0], id, &r)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("boltdb: report index names missing report %q", id)
			}
			out = append(out, r)
			return nil
		}
		if status == "" {
			c := bs[0].Cursor()
			k, _ := c.First()
			if after != "" {
				if k, _ = c.Seek([]byte(after)); k != nil && string(k) == after {
					k, _ = c.Next()
				}
			}
			for ; k != nil && len(out) < limit; k, _ = c.Next() {
				if err := collect(k); err != nil {
					return err
				}
			}
			return nil
		}
		p := prefix(status)
		c := bs[1].Cursor()
		start := p
		if after != "" {
			start = join(status, after)
		}
		for k, _ := c.Seek(start); k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, _ = c.Next() {
			id := k[len(p):]
			if string(id) == after {
				continue
			}
			if err := collect(id); err != nil {
				return err
			}
		}
		return nil
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
	err := m.s.view(ctx, "moderation.get_report", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketReports)
		if err != nil {
			return err
		}
		found, err := getJSON(bs[0], []byte(id), &r)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("boltdb: report %q: %w", id, storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func (m moderation) UpdateReport(ctx context.Context, r *storage.Report) error {
	if err := storage.CheckReportUpdate(r, checkID); err != nil {
		return err
	}
	return m.s.update(ctx, "moderation.update_report", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketReports, bucketReportsByStatus, bucketReportsAgainst)
		if err != nil {
			return err
		}
		return updateReport(bs, r)
	})
}

// updateReport rewrites a stored report's moderation fields, keeping what
// its reporter filed as it was.
func updateReport(bs []*bolt.Bucket, r *storage.Report) error {
	var old storage.Report
	found, err := getJSON(bs[0], []byte(r.ID), &old)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("boltdb: report %q: %w", r.ID, storage.ErrNotFound)
	}
	next := old
	next.Status, next.Resolution, next.ResolvedBy, next.ResolvedAt, next.UpdatedAt = r.Status, r.Resolution, r.ResolvedBy, r.ResolvedAt, r.UpdatedAt
	raw, err := marshal(&next)
	if err != nil {
		return err
	}
	if err := bs[1].Delete(join(old.Status, old.ID)); err != nil {
		return err
	}
	if err := indexReport(bs[1], bs[2], &next); err != nil {
		return err
	}
	*r = next
	return bs[0].Put([]byte(r.ID), raw)
}

func (m moderation) OpenAgainst(ctx context.Context, userIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(userIDs))
	err := m.s.view(ctx, "moderation.open_against", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketReportsAgainst)
		if err != nil {
			return err
		}
		for _, id := range userIDs {
			if _, done := out[id]; done || id == "" {
				continue
			}
			n := 0
			if err := scanPrefix(bs[0], prefix(id), func(_, status []byte) error {
				if string(status) != storage.ReportResolved {
					n++
				}
				return nil
			}); err != nil {
				return err
			}
			out[id] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m moderation) ResolveAgainst(ctx context.Context, userID, resolution, by string, at time.Time) ([]storage.Report, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var out []storage.Report
	err := m.s.update(ctx, "moderation.resolve_against", func(tx *bolt.Tx) error {
		out = []storage.Report{} // a retried batch starts over
		bs, err := buckets(tx, bucketReports, bucketReportsByStatus, bucketReportsAgainst)
		if err != nil {
			return err
		}
		var open []string
		if err := scanPrefix(bs[2], prefix(userID), func(id, status []byte) error {
			if string(status) != storage.ReportResolved {
				open = append(open, string(id))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range open {
			res, who, when := resolution, by, at
			r := storage.Report{ID: id, Status: storage.ReportResolved, Resolution: &res, ResolvedBy: &who, ResolvedAt: &when, UpdatedAt: &when}
			if err := updateReport(bs, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m moderation) AppendAudit(ctx context.Context, e *storage.AuditEntry) error {
	if e == nil {
		return fmt.Errorf("%w: audit entry is nil", ErrInvalid)
	}
	if err := checkID("audit id", e.ID); err != nil {
		return err
	}
	raw, err := marshal(e)
	if err != nil {
		return err
	}
	return m.s.update(ctx, "moderation.append_audit", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketAudit)
		if err != nil {
			return err
		}
		if bs[0].Get([]byte(e.ID)) != nil {
			return fmt.Errorf("boltdb: audit entry %q already exists: %w", e.ID, storage.ErrConflict)
		}
		return bs[0].Put([]byte(e.ID), raw)
	})
}

func (m moderation) Audit(ctx context.Context, before string, limit int) ([]storage.AuditEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be positive", ErrInvalid)
	}
	out := []storage.AuditEntry{}
	err := m.s.view(ctx, "moderation.audit", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketAudit)
		if err != nil {
			return err
		}
		c := bs[0].Cursor()
		var k, v []byte
		if before == "" {
			k, v = c.Last()
		} else if k, _ = c.Seek([]byte(before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			var e storage.AuditEntry
			if err := jsonUnmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SearchUsers reads the id and the username index first, then scans the
// accounts: an operator's search, not a hot path, and bounded by limit.
func (m moderation) SearchUsers(ctx context.Context, q string, limit int) ([]storage.User, error) {
	q = strings.TrimSpace(q)
	if q == "" || limit <= 0 {
		return []storage.User{}, nil
	}
	out := []storage.User{}
	seen := map[string]bool{}
	err := m.s.view(ctx, "moderation.search_users", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketUsers, bucketUsernames)
		if err != nil {
			return err
		}
		add := func(id []byte) error {
			if id == nil || seen[string(id)] || len(out) >= limit {
				return nil
			}
			var u storage.User
			found, err := getJSON(bs[0], id, &u)
			if err != nil || !found {
				return err
			}
			seen[u.ID] = true
			out = append(out, u)
			return nil
		}
		if err := add([]byte(q)); err != nil {
			return err
		}
		lq := strings.ToLower(q)
		if err := add(bs[1].Get([]byte(lq))); err != nil {
			return err
		}
		c := bs[0].Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			if seen[string(k)] {
				continue
			}
			var u storage.User
			if err := jsonUnmarshal(v, &u); err != nil {
				return err
			}
			if strings.Contains(strings.ToLower(u.Name), lq) || (u.Username != nil && strings.Contains(strings.ToLower(*u.Username), lq)) {
				seen[u.ID] = true
				out = append(out, u)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
