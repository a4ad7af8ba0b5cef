package storagetest

import (
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

var scoreCases = []testCase{
	{"get of nothing, put, replace, per user", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		_, err := s.Scores().Get(ctx, "u1")
		wantIs(t, "get before any put", err, storage.ErrNotFound)

		day := &storage.ScoreDay{UserID: "u1", Date: at(0), Counts: map[string]int{"focus-video": 2, "add-new-friend": 1}, UpdatedAt: at(3)}
		must(t, s.Scores().Put(ctx, day))
		got, err := s.Scores().Get(ctx, "u1")
		must(t, err)
		wantEqual(t, "stored day", got, day)

		// The next day replaces the record, counts and all.
		next := &storage.ScoreDay{UserID: "u1", Date: at(24 * time.Hour), UpdatedAt: at(24 * time.Hour), Version: got.Version}
		must(t, s.Scores().Put(ctx, next))
		got, err = s.Scores().Get(ctx, "u1")
		must(t, err)
		wantEqual(t, "replaced day", got, next)
		if len(got.Counts) != 0 {
			t.Fatalf("counts of the replaced day survived: %v", got.Counts)
		}

		other := &storage.ScoreDay{UserID: "u10", Date: at(0), Counts: map[string]int{"journalism": 1}, UpdatedAt: at(1)}
		must(t, s.Scores().Put(ctx, other))
		got, err = s.Scores().Get(ctx, "u1")
		must(t, err)
		wantEqual(t, "u1 after u10's put", got, next)
	}},
	{"invalid user ids", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		wantErr(t, "put without user", s.Scores().Put(ctx, &storage.ScoreDay{Date: at(0)}))
		_, err := s.Scores().Get(ctx, "")
		wantErr(t, "get without user", err)
	}},
}
