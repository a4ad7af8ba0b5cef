package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/boltdb"
)

// killSeedEnv replays a run of TestSIGKILLMixedLoad: the test logs the
// seed it drew, and GISBI_FAULT_SEED=<it> draws the same kill moments.
const killSeedEnv = "GISBI_FAULT_SEED"

// TestSIGKILLMixedLoad kills a server process with SIGKILL 20 times, each
// at a random moment of a mixed load (chat, connection requests and
// accepts, logins, radar location updates, BLE heartbeats), and restarts
// it on the same data each time. After every kill the store must open
// cleanly (bbolt: its consistency check passes) and hold everything the
// server acknowledged before the kill: every chat message whose ack a
// sender received, every connection request answered and every accept
// answered. No answer during the load may be `internal`.
func TestSIGKILLMixedLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server binary and kills it 20 times")
	}
	const kills = 20
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(killSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", killSeedEnv, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, killSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))

	dir := t.TempDir()
	env := []string{"GISBI_WS_RATE=100000", "GISBI_WS_BURST=100000", "GISBI_MAX_SOCKETS_PER_USER=50"}
	p := servertest.StartProcess(t, dir, env...)

	// The cast, set up once: chat pairs, radar walkers and BLE pairs. Tokens are signed with the key in dir, so they outlive
	// restarts.
	var chatters [][2]*servertest.User
	for i := range 3 {
		a, b := joinAt(t, p.URL, fmt.Sprint("kill-chat-a", i)), joinAt(t, p.URL, fmt.Sprint("kill-chat-b", i))
		pairUp(t, a, b)
		chatters = append(chatters, [2]*servertest.User{a.User, b.User})
	}
	var walkers []*servertest.User
	for i := range 3 {
		walkers = append(walkers, servertest.LoginAt(t, p.URL, "dev", fmt.Sprint("kill-walker-", i)))
	}
	type blePair struct {
		a, b *servertest.User
		conn string
	}
	var bles []blePair
	for i := range 2 {
		a, b := joinAt(t, p.URL, fmt.Sprint("kill-ble-a", i)), joinAt(t, p.URL, fmt.Sprint("kill-ble-b", i))
		bles = append(bles, blePair{a.User, b.User, pairUp(t, a, b)})
	}

	led := &ledger{msgs: map[string]string{}, chats: map[string]bool{}, requests: map[string]string{}, accepts: map[string]string{}, codes: map[string]int{}, checked: map[string]bool{}}
	var reopen, check []time.Duration
	for round := 1; round <= kills; round++ {
		base := p.URL
		at := func(u *servertest.User) *servertest.User { return u.At(base) }
		stop := make(chan struct{})
		var wg sync.WaitGroup
		run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }

		// Requesters are new each round: a user with hundreds of
		// connections would make every restart's bootstrap slower.
		var requesters []*servertest.User
		for i := range 3 {
			requesters = append(requesters, servertest.LoginAt(t, base, "dev", fmt.Sprintf("kill-requester-%d-%d", round, i)))
		}
		// Every socket opens at once, each started: the users come back
		// together, as phones do after a restart.
		var users []*servertest.User
		for _, c := range chatters {
			users = append(users, at(c[0]), at(c[1]))
		}
		for _, w := range walkers {
			users = append(users, at(w))
		}
		users = append(users, requesters...)
		for _, bp := range bles {
			users = append(users, at(bp.a), at(bp.b))
		}
		socks := startAll(t, users)

		for i, c := range chatters {
			a, b := at(c[0]), at(c[1])
			wa, wb := socks[2*i], socks[2*i+1]
			run(func() { led.chat(stop, wa, b.ID, fmt.Sprintf("r%d-c%d-a", round, i)) })
			run(func() { led.chat(stop, wb, a.ID, fmt.Sprintf("r%d-c%d-b", round, i)) })
		}
		socks = socks[2*len(chatters):]
		for i, ws := range socks[:len(walkers)] {
			run(func() { led.walk(stop, ws, fmt.Sprintf("r%d-w%d", round, i), float64(i)) })
		}
		socks = socks[len(walkers):]
		for i, r := range requesters {
			ws := socks[i]
			run(func() { led.request(stop, base, r, ws, fmt.Sprintf("r%d-q%d", round, i)) })
		}
		socks = socks[len(requesters):]
		for i, bp := range bles {
			a, b := at(bp.a), at(bp.b)
			wa, wb := socks[2*i], socks[2*i+1]
			run(func() { led.ble(stop, base, a, b, wa, wb, bp.conn, fmt.Sprintf("r%d-b%d", round, i)) })
		}

		// The kill comes anywhere from the first frames to 2 s of load.
		loadAt := time.Now()
		time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Second))))
		p.Kill()
		killAt := time.Now()
		close(stop)
		wg.Wait()

		// The store of the killed process opens cleanly and holds what
		// was acknowledged.
		led.verify(t, round, dir, round == kills, &check)
		t.Logf("kill %d after %v of load: %s", round, killAt.Sub(loadAt).Round(time.Millisecond), led.summary())

		start := time.Now()
		p = servertest.StartProcess(t, dir, env...)
		reopen = append(reopen, time.Since(start))
	}
	// Served again after the last kill: the last message each sender had
	// acknowledged reads back over REST.
	for _, c := range chatters {
		a := c[0].At(p.URL)
		if len(conversation(t, a, c[1].ID)) == 0 {
			t.Fatalf("no history between %s and %s after the last restart", a.ID, c[1].ID)
		}
	}
	led.mu.Lock()
	defer led.mu.Unlock()
	if led.internal != nil {
		t.Fatalf("answers coded internal during the load: %v", led.internal)
	}
	slices.Sort(reopen)
	slices.Sort(check)
	t.Logf("%d kills, seed %d: %d chat messages, %d requests, %d accepts acknowledged and found after the kills; error codes %v",
		kills, seed, len(led.msgs), len(led.requests), len(led.accepts), led.codes)
	t.Logf("restart to ready: median %v, max %v; store open+check after a kill: median %v, max %v",
		reopen[len(reopen)/2], reopen[len(reopen)-1], check[len(check)/2], check[len(check)-1])
}

// startWS opens a /ws socket as u and waits for its bootstrap.
func startWS(t *testing.T, u *servertest.User) *servertest.WS {
	t.Helper()
	ws := u.Dial()
	ws.Start()
	return ws
}

// startAll opens a started /ws socket for each user, all at once.
func startAll(t *testing.T, users []*servertest.User) []*servertest.WS {
	t.Helper()
	socks := make([]*servertest.WS, len(users))
	errs := make([]error, len(users))
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			h := http.Header{}
			h.Set("Authorization", "Bearer "+u.AccessToken)
			ws, _, err := servertest.DialWS(t, u.Base(), "/ws", h)
			if err != nil {
				errs[i] = err
				return
			}
			if !sendFrame(ws, "session.start", "start", map[string]any{}) ||
				ws.Take(func(f *servertest.Frame) bool { return f.Type == "session.bootstrap" }, 10*time.Second) == nil {
				errs[i] = fmt.Errorf("no bootstrap for %s", u.ID)
				return
			}
			socks[i] = ws
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return socks
}

// ledger is what the server acknowledged, across every round.
type ledger struct {
	mu       sync.Mutex
	msgs     map[string]string // message id → content, acknowledged
	chats    map[string]bool   // pair ids of the chat streams
	requests map[string]string // request id → pair id, acknowledged
	accepts  map[string]string // request id → pair id, accept acknowledged
	codes    map[string]int    // error codes answered
	internal []string          // raw answers coded internal

	// checked marks the requests and accepts an earlier verify found, so
	// each kill reads those acknowledged since the last one (and the last
	// kill all of them).
	checked map[string]bool
}

func (l *ledger) failed(raw []byte, code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.codes[code]++
	if code == "internal" && len(l.internal) < 10 {
		l.internal = append(l.internal, string(raw))
	}
}

func (l *ledger) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d messages, %d requests, %d accepts acknowledged so far, all stored", len(l.msgs), len(l.requests), len(l.accepts))
}

// answer waits for the frame answering id: nil once the socket is gone.
func answer(ws *servertest.WS, id string) *servertest.Frame {
	return ws.Take(func(f *servertest.Frame) bool { return f.RequestID == id }, 10*time.Second)
}

// send writes a frame, false once the socket is gone.
func sendFrame(ws *servertest.WS, typ, id string, payload any) bool {
	b, _ := json.Marshal(map[string]any{"type": typ, "requestId": id, "payload": payload})
	_ = ws.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return ws.Conn.WriteMessage(websocket.TextMessage, b) == nil
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// chat streams messages to peer with up to 4 unanswered, so the kill
// finds some in every stage: queued, committing, acknowledged.
func (l *ledger) chat(stop <-chan struct{}, ws *servertest.WS, peer, prefix string) {
	const window = 4
	slots := make(chan struct{}, window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f := ws.TryNext(time.Second)
			if f == nil {
				select {
				case <-ws.Done():
					return
				default:
					continue
				}
			}
			if f.RequestID == "" {
				continue
			}
			switch f.Type {
			case "chat.message.created":
				var m struct{ MessageID, Content, SenderID, RecipientID string }
				_ = json.Unmarshal(f.Payload, &m)
				l.mu.Lock()
				l.msgs[m.MessageID] = m.Content
				l.chats[storage.PairID(m.SenderID, m.RecipientID)] = true
				l.mu.Unlock()
			case "error":
				l.failed(f.Raw, f.ErrorCode())
			default:
				continue
			}
			<-slots
		}
	}()
	for i := 0; ; i++ {
		select {
		case slots <- struct{}{}:
		case <-stop:
			<-done
			return
		case <-done:
			return
		}
		content := fmt.Sprintf("%s-%d", prefix, i)
		if !sendFrame(ws, "chat.message.created", content, map[string]any{"recipientId": peer, "content": content}) {
			<-done
			return
		}
	}
}

// walk sends a location every 50 ms around a point.
func (l *ledger) walk(stop <-chan struct{}, ws *servertest.WS, prefix string, east float64) {
	for i := 0; !stopped(stop); i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		lat, lng := 48.8566+float64(i%20)*1e-4, 2.3522+east*1e-3
		if !sendFrame(ws, "presence.location_update", id, map[string]any{"lat": lat, "lng": lng}) {
			return
		}
		f := answer(ws, id)
		if f == nil {
			return
		}
		if f.Type == "error" {
			l.failed(f.Raw, f.ErrorCode())
		}
		for ws.TryNext(0) != nil {
			// radar pushes and the second answer: not what is tested
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// request has a fresh user log in (a write), sends it a connection
// request over the socket and has it accept over REST, again and again.
func (l *ledger) request(stop <-chan struct{}, base string, r *servertest.User, ws *servertest.WS, prefix string) {
	for i := 0; !stopped(stop); i++ {
		status, body, err := tryREST(base, http.MethodPost, "/auth/social-login", "", map[string]string{"provider": "dev", "idToken": fmt.Sprintf("kill-target-%s-%d", prefix, i)})
		if err != nil {
			return
		}
		var login struct {
			AccessToken string `json:"accessToken"`
			User        struct{ ID string }
		}
		if status != http.StatusOK || json.Unmarshal(body, &login) != nil {
			l.failed(body, restCode(body))
			continue
		}
		target := login.User.ID
		id := fmt.Sprintf("%s-%d", prefix, i)
		if !sendFrame(ws, "connection.request.send", id, map[string]any{"userId": target}) {
			return
		}
		f := answer(ws, id)
		if f == nil {
			return
		}
		if f.Type == "error" {
			l.failed(f.Raw, f.ErrorCode())
			continue
		}
		var sent struct {
			Request struct{ RequestID string }
		}
		_ = json.Unmarshal(f.Payload, &sent)
		pairID := storage.PairID(r.ID, target)
		l.mu.Lock()
		l.requests[sent.Request.RequestID] = pairID
		l.mu.Unlock()
		status, body, err = tryREST(base, http.MethodPost, "/connections/"+r.ID+"/accept", login.AccessToken, nil)
		if err != nil {
			return
		}
		if status != http.StatusOK {
			l.failed(body, restCode(body))
			continue
		}
		l.mu.Lock()
		l.accepts[sent.Request.RequestID] = pairID
		l.mu.Unlock()
	}
}

// ble runs a proximity session between two phones: fresh tokens over
// REST, the two-sided start, then a heartbeat each per 1.1 s, following
// token rotations. Refusals (a token from before the restart) are counted;
// only `internal` fails the test.
func (l *ledger) ble(stop <-chan struct{}, base string, a, b *servertest.User, wa, wb *servertest.WS, conn, prefix string) {
	token := func(u *servertest.User) (string, bool) {
		status, body, err := tryREST(base, http.MethodPost, "/connections/"+conn+"/proximity/token", u.AccessToken, nil)
		if err != nil {
			return "", false
		}
		var tok struct{ Token string }
		if status != http.StatusOK || json.Unmarshal(body, &tok) != nil {
			l.failed(body, restCode(body))
			return "", false
		}
		return tok.Token, true
	}
	ta, ok := token(a)
	if !ok {
		return
	}
	tb, ok := token(b)
	if !ok {
		return
	}
	// scan sends typ as ws with the partner's token and reads the answer,
	// picking up a rotation of the sender's own token on the way.
	scan := func(ws *servertest.WS, typ, id, partner string, own *string) bool {
		if !sendFrame(ws, typ, id, map[string]any{"connectionId": conn, "token": partner, "rssi": -60}) {
			return false
		}
		f := answer(ws, id)
		if f == nil {
			return false
		}
		if f.Type == "error" {
			l.failed(f.Raw, f.ErrorCode())
		}
		for f := ws.TryNext(0); f != nil; f = ws.TryNext(0) {
			if f.Type == "proximity.token.rotate" {
				var m struct{ Token string }
				_ = json.Unmarshal(f.Payload, &m)
				*own = m.Token
			}
		}
		return true
	}
	if !scan(wa, "proximity.session.start", prefix+"-sa", tb, &ta) || !scan(wb, "proximity.session.start", prefix+"-sb", ta, &tb) {
		return
	}
	for i := 0; !stopped(stop); i++ {
		if !scan(wa, "proximity.heartbeat", fmt.Sprintf("%s-ha%d", prefix, i), tb, &ta) ||
			!scan(wb, "proximity.heartbeat", fmt.Sprintf("%s-hb%d", prefix, i), ta, &tb) {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(1100 * time.Millisecond):
		}
	}
}

// verify opens the killed server's store and checks it holds every chat
// message acknowledged, and the requests and accepts acknowledged since
// the last verify (all of them when all is set); on bbolt the file must
// also pass its check.
func (l *ledger) verify(t *testing.T, round int, dir string, all bool, took *[]time.Duration) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	st := servertest.OpenStore(t, dir)
	defer st.Close()
	if b, ok := st.(*boltdb.Store); ok {
		if err := b.Check(ctx); err != nil {
			t.Fatalf("kill %d: %v", round, err)
		}
	}
	*took = append(*took, time.Since(start))
	l.mu.Lock()
	defer l.mu.Unlock()
	skip := func(id string) bool {
		if !all && l.checked[id] {
			return true
		}
		l.checked[id] = true
		return false
	}
	// Every conversation whole: no gap in its numbers, no message twice.
	stored := map[string]string{}
	for pairID := range l.chats {
		var next uint64
		seen := map[string]bool{}
		for before := uint64(0); ; {
			page, err := st.Messages().Page(ctx, pairID, before, 1000)
			if err != nil {
				t.Fatalf("kill %d: history of %s: %v", round, pairID, err)
			}
			for _, m := range page {
				if next != 0 && m.Seq != next-1 || seen[m.Content] {
					t.Fatalf("kill %d: %s: message %d (%q) follows %d, or is there twice", round, pairID, m.Seq, m.Content, next)
				}
				next, seen[m.Content], stored[m.ID] = m.Seq, true, m.Content
			}
			if len(page) == 0 || next == 1 {
				break
			}
			before = next
		}
		if next > 1 {
			t.Fatalf("kill %d: %s: history starts at %d", round, pairID, next)
		}
	}
	for id, content := range l.msgs {
		if stored[id] != content {
			t.Fatalf("kill %d: message %s (%q) acknowledged, then read back as %q", round, id, content, stored[id])
		}
	}
	pairs := map[string]*storage.Pair{}
	get := func(id string) *storage.Pair {
		if p, ok := pairs[id]; ok {
			return p
		}
		p, err := st.Pairs().Get(ctx, id)
		if err != nil {
			t.Fatalf("kill %d: pair %s: %v", round, id, err)
		}
		pairs[id] = p
		return p
	}
	for req, pairID := range l.requests {
		if skip(req) {
			continue
		}
		if !slices.ContainsFunc(get(pairID).Requests, func(r storage.Request) bool { return r.ID == req }) {
			t.Fatalf("kill %d: request %s acknowledged, not stored in %s", round, req, pairID)
		}
	}
	for req, pairID := range l.accepts {
		if skip("accept " + req) {
			continue
		}
		p := get(pairID)
		if !slices.ContainsFunc(p.Connections, func(c storage.Connection) bool { return c.RequestID == req && c.Status == "accepted" }) {
			t.Fatalf("kill %d: accept of %s acknowledged, no accepted connection in %+v", round, req, p)
		}
	}
}

// tryREST is servertest.Do without failing the test: the load's
// goroutines meet a killed server and must just stop.
func tryREST(base, method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

func restCode(body []byte) string {
	var e struct{ Code string }
	_ = json.Unmarshal(body, &e)
	if e.Code == "" {
		return "?"
	}
	return e.Code
}
