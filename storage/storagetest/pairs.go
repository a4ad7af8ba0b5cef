package storagetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

// newPair is the pair of a and b with no history yet.
func newPair(a, b string) *storage.Pair {
	return &storage.Pair{ID: storage.PairID(a, b), UserA: a, UserB: b}
}

// pendingRequest is a request from → to sent at created, expiring a day later.
func pendingRequest(id, from, to string, created time.Time) storage.Request {
	return storage.Request{
		ID: id, FromUserID: from, ToUserID: to,
		Status: "pending", LegacyStatus: "pending",
		CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour),
	}
}

// accept marks the request at p.Requests[i] accepted and appends its
// connection, as the Pair grain does.
func accept(p *storage.Pair, i int, connID string, when time.Time) {
	r := &p.Requests[i]
	r.Status, r.LegacyStatus, r.ResolvedAt, r.ConnectionID = "accepted", "accepted", ptr(when), connID
	p.Connections = append(p.Connections, storage.Connection{
		ID: connID, RequestID: r.ID, SenderID: r.FromUserID, ReceiverID: r.ToUserID,
		Status: "accepted", CreatedAt: r.CreatedAt, AcceptedAt: when,
	})
}

// seedPair is a pair of u1 and u2 with request req_1 accepted as conn_1.
func seedPair() *storage.Pair {
	p := newPair("u1", "u2")
	p.Requests = []storage.Request{pendingRequest("req_1", "u1", "u2", t0)}
	accept(p, 0, "conn_1", at(time.Minute))
	return p
}

func getPair(t *testing.T, s storage.Store, id string) *storage.Pair {
	t.Helper()
	p, err := s.Pairs().Get(t.Context(), id)
	must(t, err)
	return p
}

func pairsOf(t *testing.T, s storage.Store, user string) []string {
	t.Helper()
	ids, err := s.Pairs().Of(t.Context(), user)
	must(t, err)
	if ids == nil {
		t.Fatalf("Of(%s) = nil, want an empty slice", user)
	}
	return sorted(ids)
}

func wantPairOf(t *testing.T, s storage.Store, what, id, pairID string) {
	t.Helper()
	var got string
	var err error
	switch what {
	case "request":
		got, err = s.Pairs().ByRequest(t.Context(), id)
	case "connection":
		got, err = s.Pairs().ByConnection(t.Context(), id)
	default:
		t.Fatalf("wantPairOf: unknown kind %q", what)
	}
	must(t, err)
	wantEqual(t, fmt.Sprintf("pair of %s %s", what, id), got, pairID)
}

var pairCases = []testCase{
	{"save then get round-trips every field", func(t *testing.T, s storage.Store) {
		// UserA need not sort first: the id is order-independent.
		full := &storage.Pair{
			ID: storage.PairID("zed", "amy"), UserA: "zed", UserB: "amy",
			Requests: []storage.Request{
				{
					ID: "req_1", FromUserID: "zed", ToUserID: "amy",
					Status: "closed", LegacyStatus: "cancelled", ClosureReason: ptr("sender_cancelled"),
					CreatedAt: t0, ExpiresAt: at(24 * time.Hour), ResolvedAt: ptr(at(time.Minute)),
				},
				{
					ID: "req_2", FromUserID: "amy", ToUserID: "zed",
					Status: "accepted", LegacyStatus: "accepted",
					CreatedAt: at(time.Hour), ExpiresAt: at(25 * time.Hour), ResolvedAt: ptr(at(2 * time.Hour)),
					ConnectionID: "conn_1",
				},
				pendingRequest("req_3", "zed", "amy", at(5*time.Hour)), // nil pointers, no connection
			},
			Connections: []storage.Connection{
				{
					ID: "conn_1", RequestID: "req_2", SenderID: "amy", ReceiverID: "zed",
					Status: "closed", CreatedAt: at(time.Hour), AcceptedAt: at(2 * time.Hour),
					ClosedAt: ptr(at(3 * time.Hour)), ClosureReason: ptr("user_closed"), ClosedByUserID: ptr("zed"),
					ConnectedLocation: &storage.LatLng{Lat: 52.520008, Lng: -13.404954},
				},
				{
					ID: "conn_2", RequestID: "req_x", SenderID: "zed", ReceiverID: "amy",
					Status: "accepted", CreatedAt: at(4 * time.Hour), AcceptedAt: at(4 * time.Hour),
				},
			},
		}
		empty := newPair("u1", "u2")
		for _, p := range []*storage.Pair{full, empty} {
			must(t, s.Pairs().Save(t.Context(), p))
			wantEqual(t, "Get "+p.ID, getPair(t, s, p.ID), p)
		}
		got := getPair(t, s, full.ID)
		if r := got.Requests[2]; r.ClosureReason != nil || r.ResolvedAt != nil {
			t.Fatalf("unset request fields came back set: %s", show(r))
		}
		if c := got.Connections[1]; c.ClosedAt != nil || c.ClosureReason != nil || c.ClosedByUserID != nil || c.ConnectedLocation != nil {
			t.Fatalf("unset connection fields came back set: %s", show(c))
		}
		// The result is a copy: changing it changes nothing stored.
		got.Requests[0].Status = "mutated"
		wantEqual(t, "Get after mutating a result", getPair(t, s, full.ID), full)
	}},
	{"get of an unknown pair is ErrNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.Pairs().Get(t.Context(), storage.PairID("a", "b"))
		wantIs(t, "Get", err, storage.ErrNotFound)
		// The other order of the same users is the same pair.
		must(t, s.Pairs().Save(t.Context(), newPair("b", "a")))
		_, err = s.Pairs().Get(t.Context(), storage.PairID("a", "b"))
		must(t, err)
	}},
	{"of lists the pairs of both users and nothing for a stranger", func(t *testing.T, s storage.Store) {
		for _, p := range []*storage.Pair{newPair("a", "b"), newPair("c", "a"), newPair("b", "c"), newPair("c2", "d")} {
			must(t, s.Pairs().Save(t.Context(), p))
		}
		ab, ac, bc := storage.PairID("a", "b"), storage.PairID("a", "c"), storage.PairID("b", "c")
		wantEqual(t, "Of(a)", pairsOf(t, s, "a"), sorted([]string{ab, ac}))
		wantEqual(t, "Of(b)", pairsOf(t, s, "b"), sorted([]string{ab, bc}))
		// c is a prefix of c2: Of(c) must not list c2's pair.
		wantEqual(t, "Of(c)", pairsOf(t, s, "c"), sorted([]string{ac, bc}))
		wantEqual(t, "Of(c2)", pairsOf(t, s, "c2"), []string{storage.PairID("c2", "d")})
		wantEqual(t, "Of(stranger)", pairsOf(t, s, "stranger"), []string{})
	}},
	{"by request and by connection follow a growing pair", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		p := newPair("a", "b")
		must(t, s.Pairs().Save(ctx, p))
		_, err := s.Pairs().ByRequest(ctx, "req_1")
		wantIs(t, "ByRequest before the request", err, storage.ErrNotFound)

		p.Requests = append(p.Requests, pendingRequest("req_1", "a", "b", t0))
		must(t, s.Pairs().Save(ctx, p))
		wantPairOf(t, s, "request", "req_1", p.ID)
		_, err = s.Pairs().ByConnection(ctx, "conn_1")
		wantIs(t, "ByConnection before the connection", err, storage.ErrNotFound)

		accept(p, 0, "conn_1", at(time.Minute))
		must(t, s.Pairs().Save(ctx, p))
		wantPairOf(t, s, "request", "req_1", p.ID)
		wantPairOf(t, s, "connection", "conn_1", p.ID)

		p.Requests = append(p.Requests, pendingRequest("req_2", "b", "a", at(time.Hour)))
		must(t, s.Pairs().Save(ctx, p))
		for _, id := range []string{"req_1", "req_2"} {
			wantPairOf(t, s, "request", id, p.ID)
		}
		wantPairOf(t, s, "connection", "conn_1", p.ID)
		wantEqual(t, "Get", getPair(t, s, p.ID), p)
		wantEqual(t, "Of(a)", pairsOf(t, s, "a"), []string{p.ID})

		// Ids of one kind do not leak into the other index.
		_, err = s.Pairs().ByConnection(ctx, "req_1")
		wantIs(t, "ByConnection(request id)", err, storage.ErrNotFound)
		_, err = s.Pairs().ByRequest(ctx, "conn_1")
		wantIs(t, "ByRequest(connection id)", err, storage.ErrNotFound)
	}},
	{"save is idempotent", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		p := newPair("a", "b")
		p.Requests = append(p.Requests, pendingRequest("req_1", "a", "b", t0))
		accept(p, 0, "conn_1", at(time.Minute))
		for range 3 {
			must(t, s.Pairs().Save(ctx, p))
		}
		wantEqual(t, "Get", getPair(t, s, p.ID), p)
		wantEqual(t, "Of(a)", pairsOf(t, s, "a"), []string{p.ID})
		wantEqual(t, "Of(b)", pairsOf(t, s, "b"), []string{p.ID})
		wantPairOf(t, s, "request", "req_1", p.ID)
		wantPairOf(t, s, "connection", "conn_1", p.ID)
		// A re-Save with changed fields replaces the record.
		p.Connections[0].Status, p.Connections[0].ClosedAt = "closed", ptr(at(time.Hour))
		must(t, s.Pairs().Save(ctx, p))
		wantEqual(t, "Get after update", getPair(t, s, p.ID), p)
	}},
	{"an id indexed under another pair is ErrConflict", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		ab := newPair("a", "b")
		ab.Requests = append(ab.Requests, pendingRequest("req_1", "a", "b", t0))
		accept(ab, 0, "conn_1", at(time.Minute))
		must(t, s.Pairs().Save(ctx, ab))

		reqTaken := newPair("a", "c")
		reqTaken.Requests = append(reqTaken.Requests, pendingRequest("req_1", "a", "c", t0))
		wantIs(t, "Save reusing a request id", s.Pairs().Save(ctx, reqTaken), storage.ErrConflict)

		connTaken := newPair("a", "c")
		connTaken.Requests = append(connTaken.Requests, pendingRequest("req_2", "a", "c", t0))
		accept(connTaken, 0, "conn_1", at(time.Minute))
		wantIs(t, "Save reusing a connection id", s.Pairs().Save(ctx, connTaken), storage.ErrConflict)

		// Nothing of the refused saves was written.
		_, err := s.Pairs().Get(ctx, storage.PairID("a", "c"))
		wantIs(t, "Get of the refused pair", err, storage.ErrNotFound)
		_, err = s.Pairs().ByRequest(ctx, "req_2")
		wantIs(t, "ByRequest(req_2)", err, storage.ErrNotFound)
		wantPairOf(t, s, "request", "req_1", ab.ID)
		wantPairOf(t, s, "connection", "conn_1", ab.ID)
		wantEqual(t, "Of(c)", pairsOf(t, s, "c"), []string{})
	}},
	{"invalid pairs and empty ids are rejected", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		with := func(edit func(p *storage.Pair)) *storage.Pair {
			p := newPair("a", "b")
			p.Requests = []storage.Request{pendingRequest("req_1", "a", "b", t0)}
			accept(p, 0, "conn_1", at(time.Minute))
			edit(p)
			return p
		}
		invalid := map[string]*storage.Pair{
			"nil pair":                               nil,
			"empty pair id":                          with(func(p *storage.Pair) { p.ID = "" }),
			"pair id in the wrong order":             with(func(p *storage.Pair) { p.ID = "b|a" }),
			"pair id of other users":                 with(func(p *storage.Pair) { p.ID = storage.PairID("a", "c") }),
			"empty user a":                           {ID: storage.PairID("", "b"), UserB: "b"},
			"empty user b":                           {ID: storage.PairID("a", ""), UserA: "a"},
			"same user twice":                        {ID: storage.PairID("a", "a"), UserA: "a", UserB: "a"},
			"request without id":                     with(func(p *storage.Pair) { p.Requests[0].ID = "" }),
			"request from a stranger":                with(func(p *storage.Pair) { p.Requests[0].FromUserID = "c" }),
			"request to a stranger":                  with(func(p *storage.Pair) { p.Requests[0].ToUserID = "c" }),
			"request to oneself":                     with(func(p *storage.Pair) { p.Requests[0].ToUserID = "a" }),
			"request without users":                  with(func(p *storage.Pair) { p.Requests[0].FromUserID, p.Requests[0].ToUserID = "", "" }),
			"request id twice":                       with(func(p *storage.Pair) { p.Requests = append(p.Requests, p.Requests[0]) }),
			"connection without id":                  with(func(p *storage.Pair) { p.Connections[0].ID = "" }),
			"connection from a stranger":             with(func(p *storage.Pair) { p.Connections[0].SenderID = "c" }),
			"connection to a stranger":               with(func(p *storage.Pair) { p.Connections[0].ReceiverID = "c" }),
			"connection to oneself":                  with(func(p *storage.Pair) { p.Connections[0].ReceiverID = "a" }),
			"connection id twice":                    with(func(p *storage.Pair) { p.Connections = append(p.Connections, p.Connections[0]) }),
			"user ids that make a pair id ambiguous": {ID: storage.PairID("a|b", "c"), UserA: "a|b", UserB: "c"},
		}
		for name, p := range invalid {
			wantErr(t, "Save with "+name, s.Pairs().Save(ctx, p))
		}
		// Nothing was written by the refused saves.
		for _, u := range []string{"a", "b", "c", "a|b"} {
			wantEqual(t, "Of("+u+") after refused saves", pairsOf(t, s, u), []string{})
		}
		for _, id := range []string{storage.PairID("a", "b"), storage.PairID("a", "c"), storage.PairID("a|b", "c")} {
			_, err := s.Pairs().Get(ctx, id)
			wantIs(t, "Get("+id+") after refused saves", err, storage.ErrNotFound)
		}
		_, err := s.Pairs().ByRequest(ctx, "req_1")
		wantIs(t, "ByRequest after refused saves", err, storage.ErrNotFound)
		_, err = s.Pairs().ByConnection(ctx, "conn_1")
		wantIs(t, "ByConnection after refused saves", err, storage.ErrNotFound)

		for name, err := range map[string]error{
			"Get(\"\")":          func() error { _, err := s.Pairs().Get(ctx, ""); return err }(),
			"Of(\"\")":           func() error { _, err := s.Pairs().Of(ctx, ""); return err }(),
			"ByRequest(\"\")":    func() error { _, err := s.Pairs().ByRequest(ctx, ""); return err }(),
			"ByConnection(\"\")": func() error { _, err := s.Pairs().ByConnection(ctx, ""); return err }(),
		} {
			wantErr(t, name, err)
		}
	}},
	{"calls after close are ErrClosed", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		p := newPair("a", "b")
		p.Requests = []storage.Request{pendingRequest("req_1", "a", "b", t0)}
		accept(p, 0, "conn_1", at(time.Minute))
		must(t, s.Pairs().Save(ctx, p))
		must(t, s.Close())
		wantIs(t, "Save", s.Pairs().Save(ctx, p), storage.ErrClosed)
		_, err := s.Pairs().Get(ctx, p.ID)
		wantIs(t, "Get", err, storage.ErrClosed)
		_, err = s.Pairs().Of(ctx, "a")
		wantIs(t, "Of", err, storage.ErrClosed)
		_, err = s.Pairs().ByRequest(ctx, "req_1")
		wantIs(t, "ByRequest", err, storage.ErrClosed)
		_, err = s.Pairs().ByConnection(ctx, "conn_1")
		wantIs(t, "ByConnection", err, storage.ErrClosed)
	}},
	{"concurrent saves of different pairs all land", func(t *testing.T, s storage.Store) {
		// Every pair shares the hub user, so all writers touch its index.
		const n = 32
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make([]error, n)
		want := make([]string, n)
		for i := range n {
			u := fmt.Sprintf("u%02d", i)
			want[i] = storage.PairID("hub", u)
			wg.Go(func() {
				p := newPair("hub", u)
				p.Requests = []storage.Request{pendingRequest("req_"+u, u, "hub", t0)}
				accept(p, 0, "conn_"+u, at(time.Minute))
				errs[i] = s.Pairs().Save(ctx, p)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Save %d: %v", i, err)
			}
		}
		wantEqual(t, "Of(hub)", pairsOf(t, s, "hub"), sorted(want))
		for i := range n {
			u := fmt.Sprintf("u%02d", i)
			wantEqual(t, "Of("+u+")", pairsOf(t, s, u), []string{want[i]})
			wantPairOf(t, s, "request", "req_"+u, want[i])
			wantPairOf(t, s, "connection", "conn_"+u, want[i])
			if got := getPair(t, s, want[i]); len(got.Requests) != 1 || len(got.Connections) != 1 {
				t.Fatalf("pair %s: %s", want[i], show(got))
			}
		}
	}},
}
