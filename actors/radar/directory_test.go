package radar

import (
	"testing"

	"github.com/uber/h3-go/v4"
)

// A viewer keeps its cover's slots across many queries, so a slot resolved
// before a cell was ever published, or while it was empty, must see every
// later publish and every emptying.
func TestDirectorySlotsFollowPublishes(t *testing.T) {
	d := NewDirectory()
	a := h3.LatLngToCell(h3.LatLng{Lat: 6.5, Lng: 3.4}, 9)
	b := h3.LatLngToCell(h3.LatLng{Lat: 6.51, Lng: 3.41}, 9)
	one := NewSnapshot([]*Entry{NewEntry(Entry{UserID: "u1", Lat: 6.5, Lng: 3.4})})
	two := NewSnapshot([]*Entry{NewEntry(Entry{UserID: "u2", Lat: 6.51, Lng: 3.41})})

	slots := d.Slots([]h3.Cell{a, b}, nil)
	steps := []struct {
		name  string
		do    func()
		users []string // users seen through the slots, in slot order
	}{
		{"nothing published", func() {}, nil},
		{"a published", func() { d.store(a, one) }, []string{"u1"}},
		{"b published", func() { d.store(b, two) }, []string{"u1", "u2"}},
		{"a emptied by an empty snapshot", func() { d.store(a, NewSnapshot(nil)) }, []string{"u2"}},
		{"b stopped", func() { d.store(b, nil) }, nil},
		{"a back", func() { d.store(a, one) }, []string{"u1"}},
	}
	for _, s := range steps {
		s.do()
		var got []string
		for _, snap := range SlotSnapshots(slots, nil) {
			for _, e := range snap.Entries {
				got = append(got, e.UserID)
			}
		}
		if len(got) != len(s.users) {
			t.Fatalf("%s: saw %v, want %v", s.name, got, s.users)
		}
		for i := range got {
			if got[i] != s.users[i] {
				t.Fatalf("%s: saw %v, want %v", s.name, got, s.users)
			}
		}
		if again := d.Slots([]h3.Cell{a, b}, nil); again[0] != slots[0] || again[1] != slots[1] {
			t.Fatalf("%s: a cell's slot changed", s.name)
		}
	}
}

// Emptying a cell that never had a snapshot must not create a slot for it.
func TestDirectoryStoreEmptyCreatesNoSlot(t *testing.T) {
	d := NewDirectory()
	c := h3.LatLngToCell(h3.LatLng{Lat: 6.5, Lng: 3.4}, 9)
	d.store(c, nil)
	d.store(c, NewSnapshot(nil))
	if n := len(d.shard(c).m); n != 0 {
		t.Fatalf("%d slots after storing nothing", n)
	}
	if d.Load(c) != nil {
		t.Fatal("Load of an unpublished cell is not nil")
	}
}

// A cell's activation here and the mirror's copy of its activations on
// other members (both exist while the cell moves) are published side by
// side: neither writer overwrites the other, and readers see both.
func TestDirectoryLocalAndRemoteSideBySide(t *testing.T) {
	d := NewDirectory()
	c := h3.LatLngToCell(h3.LatLng{Lat: 6.5, Lng: 3.4}, 9)
	here := NewSnapshot([]*Entry{NewEntry(Entry{UserID: "u1", Lat: 6.5, Lng: 3.4})})
	there := NewSnapshot([]*Entry{NewEntry(Entry{UserID: "u2", Lat: 6.5, Lng: 3.4})})
	slots := d.Slots([]h3.Cell{c}, nil)
	steps := []struct {
		name   string
		do     func()
		snaps  int
		local  *Snapshot
		remote *Snapshot
	}{
		{"remote published", func() { d.storeRemote(c, there) }, 1, nil, there},
		{"local published beside it", func() { d.store(c, here) }, 2, here, there},
		{"remote emptied", func() { d.storeRemote(c, NewSnapshot(nil)) }, 1, here, nil},
		{"remote back", func() { d.storeRemote(c, there) }, 2, here, there},
		{"local stopped", func() { d.store(c, nil) }, 1, nil, there},
	}
	for _, s := range steps {
		s.do()
		if n := len(SlotSnapshots(slots, nil)); n != s.snaps {
			t.Fatalf("%s: %d snapshots read, want %d", s.name, n, s.snaps)
		}
		if d.Load(c) != s.local || d.LoadRemote(c) != s.remote {
			t.Fatalf("%s: local %p remote %p, want %p %p", s.name, d.Load(c), d.LoadRemote(c), s.local, s.remote)
		}
	}
}
