package pair

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/boltdb"
)

// readStore is a store holding users a (with a username), b, c, d and e,
// and the pairs built by setup through the state machine, as the grain
// would have saved them.
func readStore(t *testing.T, setup ...func(t *testing.T, save func(*State))) Deps {
	t.Helper()
	st, err := boltdb.Open(filepath.Join(t.TempDir(), "pair.db"), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		u := &storage.User{ID: id, Name: "User " + id, Provider: "dev", Subject: id, CreatedAt: t0}
		if id == "a" {
			name := "ay"
			u.Username = &name
		}
		if err := st.Users().Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	save := func(s *State) {
		if err := st.Pairs().Save(ctx, &s.Pair); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range setup {
		f(t, save)
	}
	return Deps{Store: st}
}

func must[T any](v T, _ []Event, err *protocol.Error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// a has: a pending request from b (at t0+1m), a pending request to c that
// expired, an active connection with d (requested at t0+2m), and a closed
// connection with e.
func aliceAndFour(t *testing.T, save func(*State)) {
	ab := New("a", "b")
	must(ab.Send("b", "a", SendGuards{}, t0.Add(time.Minute), ttl))
	save(ab)
	ac := New("a", "c")
	must(ac.Send("a", "c", SendGuards{}, t0.Add(-time.Hour), ttl))
	save(ac)
	ad := New("a", "d")
	r := must(ad.Send("a", "d", SendGuards{}, t0.Add(2*time.Minute), ttl))
	must(ad.Accept("d", r.ID, nil, t0.Add(3*time.Minute)))
	save(ad)
	ae := New("a", "e")
	r = must(ae.Send("e", "a", SendGuards{}, t0, ttl))
	c := must(ae.Accept("a", r.ID, nil, t0))
	must(ae.Close("e", c.ID, "", t0.Add(time.Minute)))
	save(ae)
}

func TestLegacyConnections(t *testing.T) {
	d := readStore(t, aliceAndFour)
	now := t0.Add(5 * time.Minute)
	tests := []struct {
		status      string
		page, limit int
		want        []string // the other user of each item, in order
		count       int
	}{
		{"", 1, 10, []string{"d", "b"}, 2},
		{"pending", 1, 10, []string{"b"}, 1},
		{"accepted", 1, 10, []string{"d"}, 1},
		{"", 1, 1, []string{"d"}, 2},
		{"", 2, 1, []string{"b"}, 2},
		{"", 3, 1, []string{}, 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q page %d of %d", tt.status, tt.page, tt.limit), func(t *testing.T) {
			l, err := LegacyConnections(context.Background(), d, "a", tt.status, tt.page, tt.limit, now)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, c := range l.Connections {
				got = append(got, c.User.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || l.Count != tt.count {
				t.Fatalf("listed %v (count %d), want %v (count %d)", got, l.Count, tt.want, tt.count)
			}
		})
	}
	l, _ := LegacyConnections(context.Background(), d, "a", "", 1, 10, now)
	acc, pend := l.Connections[0], l.Connections[1]
	if acc.Status != "accepted" || acc.AcceptedAt == nil || *acc.AcceptedAt != protocol.FormatTime(t0.Add(3*time.Minute)) || acc.From.ID != "a" || acc.To.ID != "d" {
		t.Fatalf("accepted item = %+v", acc)
	}
	if pend.Status != "pending" || pend.AcceptedAt != nil || pend.From.ID != "b" || pend.To.ID != "a" {
		t.Fatalf("pending item = %+v", pend)
	}
	if u := pend.To; u.Username == nil || *u.Username != "ay" || u.Photo != nil || u.Bio != nil {
		t.Fatalf("legacy user = %+v", u)
	}
	// The request to c expired: it is not pending any more, whether or not
	// the grain has run its reminder.
	if l, _ := LegacyConnections(context.Background(), d, "c", "", 1, 10, now); l.Count != 0 {
		t.Fatalf("c sees %+v", l.Connections)
	}
}

func TestPendingBetween(t *testing.T) {
	d := readStore(t, aliceAndFour)
	tests := []struct {
		other string
		want  protocol.Code
	}{
		{"b", ""},
		{"c", ""}, // expired but not yet missed: the grain answers request_expired
		{"d", CodeAlreadyConnected},
		{"e", CodeRequestNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.other, func(t *testing.T) {
			r, err := PendingBetween(context.Background(), d, "a", tt.other)
			if pe, _ := protocol.AsError(err); tt.want != "" && (pe == nil || pe.Code != tt.want) {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
			if tt.want == "" && (err != nil || r.Status != StatusPending) {
				t.Fatalf("request = %+v, err = %v", r, err)
			}
		})
	}
}
