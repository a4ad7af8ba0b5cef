package storagetest

import (
	"errors"
	"testing"

	"github.com/gisbi/engine/storage"
)

var snapshotCases = []testCase{
	{"put then get, replace, unknown and invalid", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		if _, err := s.Snapshots().Get(ctx, "proximity", "conn_1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("get of nothing: %v, want ErrNotFound", err)
		}
		snap := &storage.Snapshot{Kind: "proximity", ID: "conn_1", Data: []byte(`{"a":1}`)}
		must(t, s.Snapshots().Put(ctx, snap))
		snap.Data = []byte(`{"a":2}`)
		must(t, s.Snapshots().Put(ctx, snap))
		must(t, s.Snapshots().Put(ctx, &storage.Snapshot{Kind: "other", ID: "conn_1", Data: []byte(`x`)}))
		got, err := s.Snapshots().Get(ctx, "proximity", "conn_1")
		must(t, err)
		wantEqual(t, "snapshot", got, &storage.Snapshot{Kind: "proximity", ID: "conn_1", Data: []byte(`{"a":2}`), Version: 2})
		if err := s.Snapshots().Put(ctx, &storage.Snapshot{ID: "x"}); err == nil {
			t.Fatal("empty kind accepted")
		}
		if err := s.Snapshots().Put(ctx, &storage.Snapshot{Kind: "proximity"}); err == nil {
			t.Fatal("empty id accepted")
		}
	}},
}
