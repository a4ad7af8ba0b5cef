package radar

import (
	"testing"

	"github.com/uber/h3-go/v4"
)

func TestWatchersWakeOncePerRecompute(t *testing.T) {
	ws := NewWatchers()
	a, b, c := NewWatcher("a", nil), NewWatcher("b", nil), NewWatcher("c", nil)
	cells := []h3.Cell{h3.Cell(0x891f1d48b9bffff), h3.Cell(0x891f1d48b93ffff)}
	ws.Move(a, nil, cells)
	ws.Move(b, nil, cells[:1])
	ws.Move(c, nil, cells[1:])

	var got []string
	send := func(w *Watcher) { got = append(got, w.UserID) }
	if n := ws.Wake(cells[0], "a", send); n != 1 || got[0] != "b" {
		t.Fatalf("wake cell 0 skipping a: %d %v, want [b]", n, got)
	}
	// b is flagged: another change wakes nobody new in cell 0 except a.
	got = nil
	if n := ws.Wake(cells[0], "", send); n != 1 || got[0] != "a" {
		t.Fatalf("second wake: %d %v, want [a]", n, got)
	}
	got = nil
	if n := ws.Wake(cells[0], "", send); n != 0 {
		t.Fatalf("everyone flagged, yet woke %v", got)
	}
	b.Clean()
	if n := ws.Wake(cells[0], "", send); n != 1 || got[0] != "b" {
		t.Fatalf("after Clean: %d %v, want [b]", n, got)
	}

	// Moving away stops wake-ups from the old cell; moving to the same set is a no-op.
	a.Clean()
	ws.Move(a, cells, cells[1:])
	got = nil
	if n := ws.Wake(cells[0], "", send); n != 0 {
		t.Fatalf("a left cell 0 but was woken: %v", got)
	}
	ws.Move(a, cells[1:], cells[1:])
	ws.Move(c, cells[1:], nil)
	got = nil
	if n := ws.Wake(cells[1], "", send); n != 1 || got[0] != "a" {
		t.Fatalf("cell 1: %d %v, want [a]", n, got)
	}
	ws.Move(a, cells[1:], nil)
	for i := range ws.shards {
		for cell := range ws.shards[i].m {
			if cell == cells[1] {
				t.Fatal("an unwatched cell keeps an empty set")
			}
		}
	}
}
