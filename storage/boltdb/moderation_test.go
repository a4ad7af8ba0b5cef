package boltdb

import (
	"encoding/json"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

// A file from before the report queue gets its reports indexed by the
// migration: they show in the queue and in the counts at once.
func TestMigrateV6FileIndexesReports(t *testing.T) {
	path := tempPath(t)
	db := rawDB(t, path)
	r := storage.Report{ID: "sr_1", ReporterID: "alice", ReportedUserID: "mallory", Reason: "spam", Status: storage.ReportOpen, CreatedAt: time.Unix(100, 0).UTC()}
	raw, err := json.Marshal(r)
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		if _, _, err := migrate(tx, migrations[:6]); err != nil {
			return err
		}
		return tx.Bucket(bucketReports).Put([]byte(r.ID), raw)
	}))
	must(t, db.Close())

	s := openT(t, path, Options{})
	ctx := t.Context()
	open, err := s.Moderation().Reports(ctx, storage.ReportOpen, "", 10)
	must(t, err)
	if len(open) != 1 || open[0].ID != "sr_1" {
		t.Fatalf("queue after migration = %+v", open)
	}
	counts, err := s.Moderation().OpenAgainst(ctx, []string{"mallory"})
	must(t, err)
	if counts["mallory"] != 1 {
		t.Fatalf("open against mallory = %v", counts)
	}
}
