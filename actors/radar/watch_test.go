package radar

import (
	"testing"

	"github.com/uber/h3-go/v4"
)

func TestWatchersWakeOncePerRecompute(t *testing.T) {
	ws := NewWatchers()
	a, b, c := NewWatcher("a", nil), NewWatcher("b", nil), NewWatcher("c", nil)
	// Two cells far enough apart to have different watch cells.
	cells := []h3.Cell{
		h3.LatLngToCell(h3.LatLng{Lat: 6.50, Lng: 3.40}, 9),
		h3.LatLngToCell(h3.LatLng{Lat: 6.52, Lng: 3.42}, 9),
	}
	if watchCell(cells[0]) == watchCell(cells[1]) {
		t.Fatal("test cells share a watch cell")
	}
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
			if cell == watchCell(cells[1]) {
				t.Fatal("an unwatched cell keeps an empty set")
			}
		}
	}
}

// watchCell must be h3's own parent, for every resolution and on both
// sides of the antimeridian and at the poles.
func TestWatchCellIsTheH3Parent(t *testing.T) {
	points := []h3.LatLng{{Lat: 6.5, Lng: 3.4}, {Lat: 89.9, Lng: 0}, {Lat: -89.9, Lng: 120}, {Lat: 0.1, Lng: 179.99}, {Lat: -33.9, Lng: -179.99}, {Lat: 51.5, Lng: -0.12}}
	for _, p := range points {
		for res := 1; res <= 15; res++ {
			c := h3.LatLngToCell(p, res)
			want := c.Parent(res - 1)
			if got := watchCell(c); got != want {
				t.Errorf("%v res %d: watchCell %x, h3 parent %x", p, res, uint64(got), uint64(want))
			}
		}
	}
}

// A cell sees the watchers of every cover that includes it, also after
// the watch cells were coarsened, and moving between overlapping covers
// keeps the shared registrations.
func TestWatchersCoverSemantics(t *testing.T) {
	g := NewGrid(1000)
	ws := NewWatchers()
	here := g.Cell(6.50, 3.40)
	near := g.Cell(6.505, 3.405)
	far := g.Cell(7.5, 4.4)
	w := NewWatcher("w", nil)
	ws.Move(w, nil, g.Cover(here))
	woken := func(c h3.Cell) bool {
		w.Clean()
		return ws.Wake(c, "", func(*Watcher) {}) == 1
	}
	for _, c := range g.Cover(here) {
		if !woken(c) {
			t.Fatalf("a change in covered cell %v woke nobody", c)
		}
	}
	if woken(far) {
		t.Fatal("a change 150 km away woke the watcher")
	}
	ws.Move(w, g.Cover(here), g.Cover(near))
	for _, c := range g.Cover(near) {
		if !woken(c) {
			t.Fatalf("after the move, covered cell %v woke nobody", c)
		}
	}
	ws.Move(w, g.Cover(near), nil)
	for i := range ws.shards {
		if n := len(ws.shards[i].m); n != 0 {
			t.Fatalf("shard %d keeps %d sets after the watcher left", i, n)
		}
	}
}
