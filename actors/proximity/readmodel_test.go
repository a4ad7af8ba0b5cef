package proximity

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

// TestSnapshotRecordsLiveRun: a snapshot says which run was going, how far
// it accrues without another scan, and when it is over at the latest; the
// read models rely on it instead of asking the grain.
func TestSnapshotRecordsLiveRun(t *testing.T) {
	cfg := DefaultConfig() // heartbeat timeout 15 s, grace 30 s
	tests := []struct {
		name string
		at   time.Duration // advance the active run (started at t0) to this
		want *LiveRun
	}{
		{"active", 10 * time.Second, &LiveRun{Status: StatusActive, At: at(10 * time.Second), SeenUntil: at(15 * time.Second), EndsBy: at(45 * time.Second)}},
		{"paused", 20 * time.Second, &LiveRun{Status: StatusPaused, At: at(20 * time.Second), SeenUntil: at(15 * time.Second), EndsBy: at(45 * time.Second)}},
		{"ended after the grace", 50 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := active(t, cfg)
			s.Advance(at(tt.at))
			got := s.Snapshot().Live
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Fatalf("live = %+v, want %+v", got, tt.want)
			}
		})
	}
	s := active(t, cfg)
	s.Close(at(time.Second))
	if l := s.Snapshot().Live; l != nil {
		t.Fatalf("closed connection's snapshot has a live run: %+v", l)
	}
}

func TestPersistedExtrapolated(t *testing.T) {
	live := func(status string) *LiveRun {
		return &LiveRun{Status: status, At: t0, SeenUntil: at(15 * time.Second), EndsBy: at(45 * time.Second)}
	}
	tests := []struct {
		name     string
		ps       Persisted
		now      time.Duration
		acc      time.Duration
		liveAtIs string
	}{
		{"no run", Persisted{Accumulated: time.Minute}, time.Hour, time.Minute, ""},
		{"active, within what was seen", Persisted{Accumulated: time.Minute, Live: live(StatusActive)}, 10 * time.Second, time.Minute + 10*time.Second, StatusActive},
		{"active, bounded by what was seen", Persisted{Accumulated: time.Minute, Live: live(StatusActive)}, 40 * time.Second, time.Minute + 15*time.Second, StatusActive},
		{"active, stale past the grace", Persisted{Accumulated: time.Minute, Live: live(StatusActive)}, time.Hour, time.Minute + 15*time.Second, ""},
		{"paused", Persisted{Accumulated: time.Minute, Live: live(StatusPaused)}, 10 * time.Second, time.Minute, StatusPaused},
		{"closed", Persisted{Accumulated: time.Minute, Live: live(StatusActive), Closed: true}, 10 * time.Second, time.Minute, ""},
		{"clock behind the snapshot", Persisted{Accumulated: time.Minute, Live: live(StatusActive)}, -time.Second, time.Minute, StatusActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ps.Extrapolated(at(tt.now)); got != tt.acc {
				t.Errorf("Extrapolated = %v, want %v", got, tt.acc)
			}
			if got := tt.ps.LiveAt(at(tt.now)); got != tt.liveAtIs {
				t.Errorf("LiveAt = %q, want %q", got, tt.liveAtIs)
			}
		})
	}
}

// TestProgressReadsTheSnapshot: connection lists get together-time from
// the stored snapshot (no grain), the next milestone past the total.
func TestProgressReadsTheSnapshot(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	put := func(id string, ps Persisted) {
		t.Helper()
		b, err := json.Marshal(ps)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Snapshots().Put(ctx, &storage.Snapshot{Kind: SnapshotKind, ID: id, Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	running := &LiveRun{Status: StatusActive, At: t0, SeenUntil: at(15 * time.Second), EndsBy: at(45 * time.Second)}
	put("conn_run", Persisted{Accumulated: 4*time.Minute + 50*time.Second, Live: running})
	put("conn_all", Persisted{Accumulated: 5 * time.Hour, Milestones: []int{5, 15, 30, 60, 120, 240}})
	put("conn_twelve", Persisted{Accumulated: 12 * time.Minute, Milestones: []int{5}})
	v := &Views{Store: store, Clock: clock.NewFake(at(20 * time.Second)), Config: DefaultConfig(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	tests := []struct {
		id, status string
		minutes    int
		next       int // 0: nil
	}{
		{"conn_none", "accepted", 0, 5},
		{"conn_twelve", "accepted", 12, 15},
		// 4:50 stored + 15 s seen since: past 5, which the grain unlocks too.
		{"conn_run", "accepted", 5, 15},
		{"conn_run", "closed", 4, 0},
		{"conn_all", "accepted", 300, 0},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+tt.status, func(t *testing.T) {
			m, next := v.Progress(ctx, &storage.Connection{ID: tt.id, Status: tt.status}, "a")
			got := 0
			if next != nil {
				got = *next
			}
			if m != tt.minutes || got != tt.next {
				t.Fatalf("progress = %d, next %d; want %d, next %d", m, got, tt.minutes, tt.next)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	tests := []struct {
		ranks []int
		want  int
	}{
		{[]int{0}, 0},
		{[]int{0, 0, 0}, 0}, // the most recently accepted
		{[]int{0, 1, 2}, 2}, // active beats paused
		{[]int{0, 2, 2}, 1}, // ties keep the more recent
		{[]int{1, 0, 1}, 0}, // paused beats idle
		{[]int{0, rank(StatusPaused), rank(StatusEnded)}, 1},
	}
	for _, tt := range tests {
		if got := choose(tt.ranks); got != tt.want {
			t.Errorf("choose(%v) = %d, want %d", tt.ranks, got, tt.want)
		}
	}
}
