package boltdb

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

type safety struct{ s *Store }

// Block keeps the first CreatedAt when the pair is already blocked: a retry
// must not move the block's age.
func (r safety) Block(ctx context.Context, b storage.Block) error {
	if err := checkIDs("blocker id", b.BlockerID, "blocked id", b.BlockedID); err != nil {
		return err
	}
	raw, err := marshal(&b)
	if err != nil {
		return err
	}
	key, rev := join(b.BlockerID, b.BlockedID), join(b.BlockedID, b.BlockerID)
	return r.s.update(ctx, "safety.block", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketBlocks, bucketBlocksRev)
		if err != nil {
			return err
		}
		if bs[0].Get(key) != nil {
			return nil
		}
		if err := bs[1].Put(rev, []byte{}); err != nil {
			return err
		}
		return bs[0].Put(key, raw)
	})
}

func (r safety) Unblock(ctx context.Context, blockerID, blockedID string) error {
	if err := checkIDs("blocker id", blockerID, "blocked id", blockedID); err != nil {
		return err
	}
	key, rev := join(blockerID, blockedID), join(blockedID, blockerID)
	return r.s.update(ctx, "safety.unblock", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketBlocks, bucketBlocksRev)
		if err != nil {
			return err
		}
		if err := bs[1].Delete(rev); err != nil {
			return err
		}
		return bs[0].Delete(key)
	})
}

func (r safety) BlockedBy(ctx context.Context, blockerID string) ([]storage.Block, error) {
	if err := checkID("blocker id", blockerID); err != nil {
		return nil, err
	}
	var out []storage.Block
	err := r.s.view(ctx, "safety.blocked_by", func(tx *bolt.Tx) error {
		out = []storage.Block{}
		bs, err := buckets(tx, bucketBlocks)
		if err != nil {
			return err
		}
		return scanPrefix(bs[0], prefix(blockerID), func(_, v []byte) error {
			var b storage.Block
			if err := jsonUnmarshal(v, &b); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r safety) BlockersOf(ctx context.Context, userID string) ([]string, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var out []string
	err := r.s.view(ctx, "safety.blockers_of", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketBlocksRev)
		if err != nil {
			return err
		}
		ids, err := suffixes(bs[0], prefix(userID))
		out = ids
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
	raw, err := marshal(rep)
	if err != nil {
		return err
	}
	id := []byte(rep.ID)
	idx := append(append(prefix(rep.ReporterID), timeKey(rep.CreatedAt)...), rep.ID...)
	return r.s.update(ctx, "safety.add_report", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketReports, bucketReportsByReporter, bucketReportsByStatus, bucketReportsAgainst)
		if err != nil {
			return err
		}
		if bs[0].Get(id) != nil {
			return fmt.Errorf("boltdb: report %q already exists: %w", rep.ID, storage.ErrConflict)
		}
		if err := bs[1].Put(idx, []byte{}); err != nil {
			return err
		}
		if err := indexReport(bs[2], bs[3], rep); err != nil {
			return err
		}
		return bs[0].Put(id, raw)
	})
}

// ReportsBy walks the reporter's index backwards: keys end in CreatedAt then
// id, so that is newest first (ties by id descending) with no sort.
func (r safety) ReportsBy(ctx context.Context, reporterID string) ([]storage.Report, error) {
	if err := checkID("reporter id", reporterID); err != nil {
		return nil, err
	}
	var out []storage.Report
	err := r.s.view(ctx, "safety.reports_by", func(tx *bolt.Tx) error {
		out = []storage.Report{}
		bs, err := buckets(tx, bucketReports, bucketReportsByReporter)
		if err != nil {
			return err
		}
		return scanPrefixReverse(bs[1], prefix(reporterID), func(suffix, _ []byte) error {
			if len(suffix) <= 8 {
				return fmt.Errorf("boltdb: malformed report index key for reporter %q", reporterID)
			}
			var rep storage.Report
			found, err := getJSON(bs[0], suffix[8:], &rep)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("boltdb: report index of %q names missing report %q", reporterID, suffix[8:])
			}
			out = append(out, rep)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
