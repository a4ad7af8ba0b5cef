package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage/boltdb"
)

// Figures of TestStoreStallSparesNonWriters. The stall outlasts the
// deadline several times over, so a reader that waits on the store
// cannot pass by luck; the deadline leaves a loaded 2-core CI box (race
// detector, other packages testing beside) its margin over the
// milliseconds an answer takes. The stall stays under the 5 s call
// timeout, so the writers' answers say whether their writes committed.
const (
	stallFor       = 3500 * time.Millisecond
	readerDeadline = time.Second
)

// stallStore stalls srv's store until release is called: on bbolt every
// commit waits with the writer lock held (boltdb.Store.HoldCommits, as a
// hung fsync would); on PostgreSQL another connection holds every table of
// the server's schema in EXCLUSIVE mode, which blocks every write and no
// plain read.
func stallStore(t *testing.T, srv *servertest.Server) (release func()) {
	t.Helper()
	if st, ok := srv.Store.(*boltdb.Store); ok {
		// Released at the end whatever happens: a shutdown waits for
		// commits in flight.
		release := st.HoldCommits()
		t.Cleanup(release)
		return release
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.Config.Store)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	rows, err := tx.Query(ctx, `SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if rows.Close(); rows.Err() != nil || len(tables) == 0 {
		t.Fatalf("tables of the server's schema: %v %v", tables, rows.Err())
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(tables, ", ")+" IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		})
	}
	t.Cleanup(release)
	return release
}

// op is one request of the stall test and how long its answer took.
type op struct {
	kind    string
	sent    time.Time
	took    time.Duration // 0: never answered
	failure string        // the error answer, if any
}

type opLog struct {
	mu  sync.Mutex
	ops []op
}

func (l *opLog) add(o op) {
	l.mu.Lock()
	l.ops = append(l.ops, o)
	l.mu.Unlock()
}

// TestStoreStallSparesNonWriters stalls the store for 3.5 s while two
// users write (chat over the socket, profile over REST) and others only
// move on the radar, heartbeat a BLE session, type, ping their socket and
// read their profile over REST. Every answer to a non-writer sent during
// the stall must come within a second, while the writers' answers wait
// for the store and then report success.
func TestStoreStallSparesNonWriters(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) {
		c.WSRate, c.WSBurst = 1000, 1000
		c.HeartbeatTimeout = time.Minute // a slow CI box must not pause the run
		// A run's snapshot is written every second, so the BLE pair has
		// one waiting on the store through the stall.
		c.ProximitySnapshot = time.Second
	})
	// w1 writes to r1, who only reads and types back: they share the
	// pair grain that stores w1's messages. r3 has a conversation with w1
	// and opens a socket again and again.
	w1 := joinAs(t, srv, "stall-w1")
	w3 := srv.Login("stall-w3")
	r1, r2, r3 := joinAs(t, srv, "stall-r1"), joinAs(t, srv, "stall-r2"), joinAs(t, srv, "stall-r3")
	pairUp(t, w1, r1)
	pairUp(t, w1, r3)
	for i := range 5 {
		say(t, w1, r3, fmt.Sprint("before the stall ", i), fmt.Sprint("hello-", i))
	}
	conn := pairUp(t, r1, r2)
	walker := joinAs(t, srv, "stall-walker")
	for _, m := range []member{r1, r2} {
		m.ws.Send("presence.location_update", map[string]any{"lat": 48.8566, "lng": 2.3522}, "fix")
		m.ws.ExpectReply("presence.updated", "fix")
	}
	pa, pb := newPhone(t, r1, conn), newPhone(t, r2, conn)
	handshake(t, pa, pb)
	// Typing and pings get sockets of their own: a socket has one writer.
	typer := startWS(t, r1.User)

	readers, writers := &opLog{}, &opLog{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	// request sends frames of kind on ws every interval until stop, each
	// timed to its answer.
	request := func(log *opLog, ws *servertest.WS, kind string, interval time.Duration, payload func() any) {
		for i := 0; !stopped(stop); i++ {
			id := fmt.Sprintf("%s-%d", kind, i)
			o := op{kind: kind, sent: time.Now()}
			if !sendFrame(ws, kind, id, payload()) {
				return
			}
			f := ws.Take(func(f *servertest.Frame) bool { return f.RequestID == id }, 10*time.Second)
			if f != nil {
				o.took = time.Since(o.sent)
				if f.Type == "error" {
					o.failure = string(f.Raw)
				}
			}
			log.add(o)
			for ws.TryNext(0) != nil {
				// pushes: not what is measured
			}
			time.Sleep(interval)
		}
	}
	run(func() {
		request(readers, walker.ws, "presence.location_update", 100*time.Millisecond, func() any {
			return map[string]any{"lat": 48.8566, "lng": 2.3522}
		})
	})
	run(func() {
		request(readers, typer, "chat.typing", 100*time.Millisecond, func() any {
			return map[string]any{"recipientId": w1.ID, "isTyping": true}
		})
	})
	for _, p := range []struct{ self, partner *phone }{{pa, pb}, {pb, pa}} {
		run(func() {
			request(readers, p.self.ws, "proximity.heartbeat", 1100*time.Millisecond, func() any {
				return map[string]any{"connectionId": conn, "token": p.partner.token, "rssi": -60}
			})
		})
	}
	run(func() { pinger(t, stop, readers, r2.User) })
	for _, path := range []string{"/users/me", "/score", "/conversations", "/chats"} {
		run(func() {
			for !stopped(stop) {
				o := op{kind: "GET " + path, sent: time.Now()}
				status, body, err := tryREST(srv.URL, http.MethodGet, path, r1.AccessToken, nil)
				if err == nil {
					o.took = time.Since(o.sent)
					if status != http.StatusOK {
						o.failure = fmt.Sprintf("%d %s", status, body)
					}
				}
				readers.add(o)
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	fetcher := startWS(t, r1.User)
	run(func() {
		kinds := []string{"chat.history.fetch", "connection.history.fetch", "gift.history.fetch"}
		for i := 0; !stopped(stop); i++ {
			kind := kinds[i%len(kinds)]
			id := fmt.Sprint("fetch-", i)
			o := op{kind: kind, sent: time.Now()}
			if !sendFrame(fetcher, kind, id, map[string]any{}) {
				return
			}
			if f := fetcher.Take(func(f *servertest.Frame) bool { return f.RequestID == id }, 10*time.Second); f != nil {
				o.took = time.Since(o.sent)
				if f.Type == "error" {
					o.failure = string(f.Raw)
				}
			}
			readers.add(o)
			for fetcher.TryNext(0) != nil {
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	run(func() {
		for !stopped(stop) {
			o := op{kind: "session.start", sent: time.Now()}
			h := http.Header{}
			h.Set("Authorization", "Bearer "+r3.AccessToken)
			ws, _, err := servertest.DialWS(t, srv.URL, "/ws", h)
			if err == nil {
				if sendFrame(ws, "session.start", "start", map[string]any{}) {
					if f := ws.Take(func(f *servertest.Frame) bool { return f.Type == "session.bootstrap" || f.Type == "error" }, 10*time.Second); f != nil {
						o.took = time.Since(o.sent)
						if f.Type == "error" {
							o.failure = string(f.Raw)
						}
					}
				}
				ws.Close()
			}
			readers.add(o)
			time.Sleep(200 * time.Millisecond)
		}
	})
	// The writers: a chat stream and profile edits, one at a time each.
	run(func() {
		request(writers, w1.ws, "chat.message.created", 50*time.Millisecond, func() any {
			return map[string]any{"recipientId": r1.ID, "content": "while the store stalls"}
		})
	})
	run(func() {
		for i := 0; !stopped(stop); i++ {
			o := op{kind: "PATCH /users/profile", sent: time.Now()}
			status, body, err := tryREST(srv.URL, http.MethodPatch, "/users/profile", w3.AccessToken, map[string]any{"bio": fmt.Sprint("edit ", i)})
			if err == nil {
				o.took = time.Since(o.sent)
				if status != http.StatusOK {
					o.failure = fmt.Sprintf("%d %s", status, body)
				}
			}
			writers.add(o)
			time.Sleep(50 * time.Millisecond)
		}
	})

	time.Sleep(500 * time.Millisecond)
	stallStart := time.Now()
	release := stallStore(t, srv)
	time.Sleep(stallFor)
	release()
	stallEnd := time.Now()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	during := func(o op) bool { return !o.sent.Before(stallStart) && o.sent.Before(stallEnd) }
	perKind, outside := map[string][]time.Duration{}, map[string]time.Duration{}
	for _, o := range readers.ops {
		if !during(o) {
			outside[o.kind] = max(outside[o.kind], o.took)
			continue
		}
		switch {
		case o.took == 0:
			t.Errorf("%s sent %v into the stall: no answer", o.kind, o.sent.Sub(stallStart))
		case o.failure != "":
			t.Errorf("%s sent %v into the stall: %s", o.kind, o.sent.Sub(stallStart), o.failure)
		case o.took > readerDeadline:
			t.Errorf("%s sent %v into the stall: answered after %v", o.kind, o.sent.Sub(stallStart), o.took)
		}
		perKind[o.kind] = append(perKind[o.kind], o.took)
	}
	for _, kind := range []string{"presence.location_update", "chat.typing", "proximity.heartbeat", "ping", "session.start",
		"chat.history.fetch", "connection.history.fetch", "gift.history.fetch", "GET /users/me", "GET /score", "GET /conversations", "GET /chats"} {
		d := perKind[kind]
		if len(d) < 2 {
			t.Errorf("%s: %d requests sent during the stall, want at least 2", kind, len(d))
			continue
		}
		t.Logf("%-25s during the stall: %3d answers, slowest %v (outside it: %v)", kind, len(d), slices.Max(d).Round(100*time.Microsecond), outside[kind].Round(100*time.Microsecond))
	}
	// The stall was real: a write sent into it waited for its end, and
	// then every write was stored.
	var waited time.Duration
	for _, o := range writers.ops {
		if o.took == 0 || o.failure != "" {
			t.Errorf("%s sent %v after the stall began: %q, never stored", o.kind, o.sent.Sub(stallStart), o.failure)
		}
		if during(o) {
			waited = max(waited, o.took)
		}
	}
	if waited < stallFor/2 {
		t.Errorf("the slowest write sent during the stall took %v: the store did not stall", waited)
	}
	t.Logf("writers: %d writes, all stored; the slowest sent during the %v stall took %v", len(writers.ops), stallFor, waited)
}

// pinger sends a WebSocket ping every 100 ms on a socket of its own (the
// pong handler runs on the reader) and times each pong.
func pinger(t *testing.T, stop <-chan struct{}, log *opLog, u *servertest.User) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+u.AccessToken)
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(u.Base(), "http")+"/ws", h)
	if err != nil {
		t.Errorf("pinger: %v", err)
		return
	}
	defer c.Close()
	pongs := make(chan string, 16)
	c.SetPongHandler(func(data string) error { pongs <- data; return nil })
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for i := 0; !stopped(stop); i++ {
		o := op{kind: "ping", sent: time.Now()}
		want := fmt.Sprint(i)
		if err := c.WriteControl(websocket.PingMessage, []byte(want), time.Now().Add(time.Second)); err != nil {
			return
		}
		timeout := time.After(5 * time.Second)
	wait:
		for {
			select {
			case got := <-pongs:
				if got == want {
					o.took = time.Since(o.sent)
					break wait
				}
			case <-timeout:
				break wait
			}
		}
		log.add(o)
		time.Sleep(100 * time.Millisecond)
	}
}
