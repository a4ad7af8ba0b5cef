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
		must(t, s.Snapshots().Put(ctx, "proximity", "conn_1", []byte(`{"a":1}`)))
		must(t, s.Snapshots().Put(ctx, "proximity", "conn_1", []byte(`{"a":2}`)))
		must(t, s.Snapshots().Put(ctx, "other", "conn_1", []byte(`x`)))
		got, err := s.Snapshots().Get(ctx, "proximity", "conn_1")
		must(t, err)
		if string(got) != `{"a":2}` {
			t.Fatalf("snapshot = %s, want the replacement", got)
		}
		if err := s.Snapshots().Put(ctx, "", "x", nil); err == nil {
			t.Fatal("empty kind accepted")
		}
		if err := s.Snapshots().Put(ctx, "proximity", "", nil); err == nil {
			t.Fatal("empty id accepted")
		}
	}},
}
