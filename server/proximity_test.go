package server_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// pairUp connects a and b and returns the connection id.
func pairUp(t testing.TB, a, b member) string {
	t.Helper()
	req := send(t, a, b)
	b.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	conn := b.ws.ExpectReply("connection.request.accept", "acc").Map(t)["connection"].(map[string]any)
	a.ws.ExpectPush("connection.request.accept", 5*time.Second)
	return conn["connectionId"].(string)
}

// phone simulates one participant's device: it advertises its own token
// (the test hands it to the partner, as a BLE scan would), follows
// rotations and heartbeats with the partner's token.
type phone struct {
	member
	conn       string
	token      string // own current token
	rotations  int
	milestones []map[string]any
	updates    int // proximity.session.updated pushed while active
	acc        int // accumulatedSeconds of the last heartbeat ack
	seq        int
}

func newPhone(t testing.TB, m member, conn string) *phone {
	t.Helper()
	res := m.Do(http.MethodPost, "/connections/"+conn+"/proximity/token", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("token: %d %s", res.Status, res.Body)
	}
	tok := res.JSON(t)
	if tok["connectionId"] != conn || len(tok["token"].(string)) != 8 || tok["expiresAt"] == nil {
		t.Fatalf("token = %v", tok)
	}
	return &phone{member: m, conn: conn, token: tok["token"].(string)}
}

func (p *phone) scan(typ string, partner *phone, rssi int) string {
	p.seq++
	id := fmt.Sprintf("%s-%d", typ, p.seq)
	p.ws.Send(typ, map[string]any{"connectionId": p.conn, "token": partner.token, "rssi": rssi}, id)
	return id
}

// drain handles what arrived: rotations, milestones and heartbeat acks.
// Any error frame fails the test.
func (p *phone) drain(t *testing.T) {
	t.Helper()
	for f := p.ws.TryNext(time.Millisecond); f != nil; f = p.ws.TryNext(time.Millisecond) {
		switch f.Type {
		case "proximity.token.rotate":
			m := f.Map(t)
			if m["connectionId"] != p.conn || m["token"] == p.token {
				t.Fatalf("rotate = %v", m)
			}
			p.token = m["token"].(string)
			p.rotations++
		case "proximity.milestone.reached":
			p.milestones = append(p.milestones, f.Map(t))
		case "proximity.session.updated":
			if f.Map(t)["sessionActive"] == true {
				p.updates++
			}
		case "proximity.heartbeat":
			p.acc = int(f.Map(t)["accumulatedSeconds"].(float64))
		case "error":
			t.Fatalf("%s got error %s", p.ID, f.Raw)
		}
	}
}

// beat sends one heartbeat from each phone with the partner's current
// token and waits for both answers before the next round, so that two
// heartbeats of one phone never reach the server closer together than the
// caller's pause, however the test machine is loaded (the server answers a
// second one within a second of server time rate_limited, and at 60× a
// second is 17 ms real). Any error answer fails the test.
func beat(t *testing.T, a, b *phone, rssiA, rssiB int) {
	t.Helper()
	ida := a.scan("proximity.heartbeat", b, rssiA)
	idb := b.scan("proximity.heartbeat", a, rssiB)
	for _, w := range []struct {
		p  *phone
		id string
	}{{a, ida}, {b, idb}} {
		f := w.p.ws.ExpectReplyAny(w.id)
		if f.Type != "proximity.heartbeat" {
			t.Fatalf("%s heartbeat answered %s", w.p.ID, f.Raw)
		}
		w.p.acc = int(f.Map(t)["accumulatedSeconds"].(float64))
	}
}

func summary(t testing.TB, m member, conn string) map[string]any {
	t.Helper()
	res := m.Do(http.MethodGet, "/connections/"+conn+"/proximity/summary", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("summary: %d %s", res.Status, res.Body)
	}
	return res.JSON(t)
}

func num(v any) int { f, _ := v.(float64); return int(f) }

func ints(v any) []int {
	var out []int
	for _, x := range v.([]any) {
		out = append(out, num(x))
	}
	return out
}

// handshake runs the two-sided start and returns when the run is active.
func handshake(t *testing.T, a, b *phone) {
	t.Helper()
	id := a.scan("proximity.session.start", b, -68)
	ack := a.ws.ExpectReply("proximity.session.start", id).Map(t)
	if ack["sessionActive"] != false || ack["yourTokenReceived"] != true || ack["waitingForPartner"] != true {
		t.Fatalf("one-sided ack = %v", ack)
	}
	id = b.scan("proximity.session.start", a, -70)
	ack = b.ws.ExpectReply("proximity.session.start", id).Map(t)
	if ack["sessionActive"] != true || ack["waitingForPartner"] != false {
		t.Fatalf("second ack = %v", ack)
	}
	for _, p := range []*phone{a, b} {
		if c := p.ws.ExpectPush("proximity.partner.confirmed", 5*time.Second).Map(t); c["connectionId"] != p.conn {
			t.Fatalf("confirmed = %v", c)
		}
		if u := p.ws.ExpectPush("proximity.session.updated", 5*time.Second).Map(t); u["sessionActive"] != true || u["status"] != "active" {
			t.Fatalf("updated = %v", u)
		}
	}
}

// TestProximityToFirstMilestone runs two phones on a 60× clock through the
// handshake, heartbeats and token rotations to the 5-minute milestone, then
// checks the summary and bootstrap against the time the test measured.
func TestProximityToFirstMilestone(t *testing.T) {
	const speed = 60
	srv := servertest.Start(t, func(c *config.Config) {
		c.ClockSpeed = speed
		c.AccessTTL = time.Hour // 1 real minute at 60×
		// 15 s of server time is 250 ms here: a test stalled that long on a
		// busy CI machine would pause the run and miss the tolerance.
		c.HeartbeatTimeout = time.Minute
		// The replaced token stays valid until it expires: rotating 2 min
		// before a 3 min expiry gives the partner 2 s real to pick up the
		// new one (30 s by default, 0.5 s real here), and still rotates
		// every simulated minute.
		c.BLETokenTTL, c.BLETokenRotateBefore = 3*time.Minute, 2*time.Minute
		c.WSRate, c.WSBurst = 1000, 1000
	})
	a, b := joinAs(t, srv, "prox-a"), joinAs(t, srv, "prox-b")
	conn := pairUp(t, a, b)
	pa, pb := newPhone(t, a, conn), newPhone(t, b, conn)

	handshake(t, pa, pb)
	started := time.Now()

	// A repeated start is idempotent: same ack, no second confirmation.
	id := pa.scan("proximity.session.start", pb, -68)
	if ack := pa.ws.ExpectReply("proximity.session.start", id).Map(t); ack["sessionActive"] != true || ack["waitingForPartner"] != false {
		t.Fatalf("repeated start ack = %v", ack)
	}

	// Heartbeats every 50 ms real (3 s of server time) until both phones
	// hear of the 5-minute milestone.
	deadline := time.Now().Add(30 * time.Second)
	for len(pa.milestones) == 0 || len(pb.milestones) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no milestone after 30 s real; acc a=%d b=%d", pa.acc, pb.acc)
		}
		beat(t, pa, pb, -60, -61)
		time.Sleep(50 * time.Millisecond)
		pa.drain(t)
		pb.drain(t)
	}
	for _, p := range []*phone{pa, pb} {
		m := p.milestones[0]
		if len(p.milestones) != 1 || num(m["milestone"]) != 5 || num(m["giftTier"]) != 1 || m["connectionId"] != conn || m["message"] == "" {
			t.Fatalf("%s milestones = %v", p.ID, p.milestones)
		}
		if p.rotations < 2 {
			t.Errorf("%s saw %d rotations in 5 simulated minutes, want at least 2", p.ID, p.rotations)
		}
		// proximity_update_interval is 30 s: about ten periodic updates, and
		// never a burst (an update held behind the milestone's snapshot once
		// made every tick send another).
		if p.updates < 4 || p.updates > 20 {
			t.Errorf("%s got %d proximity.session.updated in 5 simulated minutes", p.ID, p.updates)
		}
	}

	// ±2 simulated seconds per minute of run, as the issue allows.
	check := func(what string, got int) {
		t.Helper()
		want := time.Since(started).Seconds() * speed
		if tol := 2 * want / 60; math.Abs(float64(got)-want) > tol+2 {
			t.Errorf("%s accumulatedSeconds = %d, want %.0f ± %.0f", what, got, want, tol)
		}
	}
	s := summary(t, a, conn)
	check("summary", num(s["accumulatedSeconds"]))
	if num(s["accumulatedMinutes"]) != num(s["accumulatedSeconds"])/60 || !slices.Equal(ints(s["unlockedMilestones"]), []int{5}) ||
		num(s["nextMilestone"]) != 15 || num(s["secondsUntilNext"]) != 15*60-num(s["accumulatedSeconds"]) {
		t.Errorf("summary = %v", s)
	}
	runs := s["sessions"].([]any)
	if len(runs) != 1 || runs[0].(map[string]any)["status"] != "active" || runs[0].(map[string]any)["startedAt"] == nil {
		t.Errorf("sessions = %v", runs)
	}

	a2 := a.User.Dial()
	boot := a2.Start()
	ps := boot["proximitySession"].(map[string]any)
	check("bootstrap", num(ps["accumulatedSeconds"]))
	if ps["connectionId"] != conn || ps["status"] != "active" || !slices.Equal(ints(ps["unlockedMilestones"]), []int{5}) ||
		len(ps["bleToken"].(string)) != 8 || ps["bleTokenExpiresAt"] == nil {
		t.Errorf("bootstrap proximitySession = %v", ps)
	}
	ac := boot["activeConnections"].([]any)[0].(map[string]any)
	if m := num(ac["accumulatedMinutes"]); m < 5 || m > 6 || num(ac["nextMilestoneMinutes"]) != 15 {
		t.Errorf("connection together-time = %v / %v", ac["accumulatedMinutes"], ac["nextMilestoneMinutes"])
	}

	// proximity.session.end pauses: the ender gets the session as its
	// answer, the partner gets it pushed.
	pa.drain(t)
	pb.drain(t)
	a.ws.Send("proximity.session.end", map[string]any{"connectionId": conn}, "end")
	u := a.ws.ExpectReply("proximity.session.updated", "end").Map(t)
	if u["sessionActive"] != false || u["status"] != "paused" || num(u["gracePeriodSeconds"]) != 30 || num(u["currentSessionSeconds"]) < 290 {
		t.Fatalf("end answer = %v", u)
	}
	pushed := b.ws.ExpectPushWhere("proximity.session.updated", 5*time.Second, func(f *servertest.Frame) bool {
		return f.Map(t)["sessionActive"] == false
	}).Map(t)
	if pushed["status"] != "paused" {
		t.Fatalf("partner's update = %v", pushed)
	}
	// Heartbeats of both resume the same run within the grace period.
	pa.scan("proximity.heartbeat", pb, -60)
	pb.scan("proximity.heartbeat", pa, -60)
	b.ws.ExpectPushWhere("proximity.session.updated", 5*time.Second, func(f *servertest.Frame) bool {
		return f.Map(t)["sessionActive"] == true
	})
	if runs := summary(t, b, conn)["sessions"].([]any); len(runs) != 1 {
		t.Fatalf("resume started a new run: %v", runs)
	}
}

// TestProximityAuthorization: a stranger gets forbidden on every action and
// endpoint; unknown connections are not_found; a closed connection ends the
// session and retires its tokens.
func TestProximityAuthorization(t *testing.T) {
	srv := servertest.Start(t)
	a, b, c := joinAs(t, srv, "own-a"), joinAs(t, srv, "own-b"), joinAs(t, srv, "stranger")
	conn := pairUp(t, a, b)
	pa, pb := newPhone(t, a, conn), newPhone(t, b, conn)

	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/connections/" + conn + "/proximity/token"},
		{http.MethodGet, "/connections/" + conn + "/proximity/summary"},
	} {
		if res := c.Do(tc.method, tc.path, nil); res.Status != http.StatusForbidden || res.Code() != "forbidden" {
			t.Errorf("stranger %s %s: %d %s", tc.method, tc.path, res.Status, res.Body)
		}
		if res := a.Do(tc.method, "/connections/conn_nope/proximity/"+tc.path[len(tc.path)-7:], nil); res.Status != http.StatusNotFound {
			t.Errorf("unknown connection: %d %s", res.Status, res.Body)
		}
	}
	for i, typ := range []string{"proximity.session.start", "proximity.heartbeat", "proximity.session.end"} {
		id := fmt.Sprint("s", i)
		c.ws.Send(typ, map[string]any{"connectionId": conn, "token": pa.token, "rssi": -60}, id)
		if f := c.ws.ExpectReplyAny(id); f.ErrorCode() != "forbidden" {
			t.Errorf("stranger %s: %s", typ, f.Raw)
		}
	}

	// Malformed input is answered with the documented codes.
	for i, tc := range []struct {
		payload map[string]any
		code    string
	}{
		{map[string]any{"token": pb.token, "rssi": -60}, "invalid_payload"},
		{map[string]any{"connectionId": conn, "rssi": -60}, "invalid_payload"},
		{map[string]any{"connectionId": conn, "token": pb.token}, "invalid_payload"},
		{map[string]any{"connectionId": conn, "token": pb.token, "rssi": "loud"}, "invalid_payload"},
		{map[string]any{"connectionId": conn, "token": pb.token, "rssi": -60.5}, "invalid_payload"},
		{map[string]any{"connectionId": conn, "token": pb.token, "rssi": -20}, "rssi_out_of_range"},
		{map[string]any{"connectionId": conn, "token": "deadbeef", "rssi": -60}, "invalid_token"},
		{map[string]any{"connectionId": conn, "token": pa.token, "rssi": -60}, "invalid_token"}, // own token
		{map[string]any{"connectionId": "conn_nope", "token": pb.token, "rssi": -60}, "not_found"},
		{map[string]any{"connectionId": "user_x", "token": pb.token, "rssi": -60}, "not_found"},
	} {
		id := fmt.Sprint("bad", i)
		a.ws.Send("proximity.session.start", tc.payload, id)
		if f := a.ws.ExpectReplyAny(id); f.ErrorCode() != tc.code {
			t.Errorf("start %v: %s, want %s", tc.payload, f.Raw, tc.code)
		}
	}

	// Fresh GPS fixes 1 km apart make a scan implausible.
	d, e := joinAs(t, srv, "far-d"), joinAs(t, srv, "far-e")
	far := pairUp(t, d, e)
	pd, pe := newPhone(t, d, far), newPhone(t, e, far)
	locate(t, d.ws, 52.52, 13.40)
	locate(t, e.ws, 52.529, 13.40)
	id := pd.scan("proximity.session.start", pe, -60)
	if f := d.ws.ExpectReplyAny(id); f.ErrorCode() != "location_mismatch" {
		t.Errorf("start 1 km apart: %s", f.Raw)
	}

	// Closing the connection ends the session for both and retires tokens.
	handshake(t, pa, pb)
	a.ws.Send("connection.close", map[string]any{"connectionId": conn}, "close")
	a.ws.ExpectReply("connection.close", "close")
	for _, m := range []member{a, b} {
		m.ws.ExpectPushWhere("proximity.session.updated", 5*time.Second, func(f *servertest.Frame) bool {
			return f.Map(t)["status"] == "ended"
		})
	}
	id = pa.scan("proximity.heartbeat", pb, -60)
	if f := a.ws.ExpectReplyAny(id); f.ErrorCode() != "active_connection_required" {
		t.Errorf("heartbeat after close: %s", f.Raw)
	}
	if res := a.Do(http.MethodPost, "/connections/"+conn+"/proximity/token", nil); res.Code() != "active_connection_required" {
		t.Errorf("token after close: %d %s", res.Status, res.Body)
	}
	s := summary(t, b, conn) // the history stays readable to the pair
	if runs := s["sessions"].([]any); len(runs) != 1 || runs[0].(map[string]any)["status"] != "ended" {
		t.Errorf("summary after close = %v", s)
	}
}

// TestProximitySIGKILLDuringARun kills the server in an active run: after a
// restart the together-time is at most one snapshot interval short of the
// last acknowledged figure, and the milestone already reached never repeats.
func TestProximitySIGKILLDuringARun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	env := []string{"GISBI_CLOCK_SPEED=60", "GISBI_ACCESS_TTL=2h", "GISBI_WS_RATE=1000", "GISBI_WS_BURST=1000", "GISBI_HEARTBEAT_TIMEOUT=1m",
		"GISBI_BLE_TOKEN_TTL=3m", "GISBI_BLE_TOKEN_ROTATE_BEFORE=2m"} // see TestProximityToFirstMilestone
	p := servertest.StartProcess(t, dir, env...)
	join := func(base, handle string) member {
		u := servertest.LoginAt(t, base, "dev", handle)
		ws := u.Dial()
		ws.Start()
		return member{u, ws}
	}
	a, b := join(p.URL, "kill-a"), join(p.URL, "kill-b")
	conn := pairUp(t, a, b)
	pa, pb := newPhone(t, a, conn), newPhone(t, b, conn)
	handshake(t, pa, pb)

	// Past the 5-minute milestone (5 s real), then kill right after an ack.
	deadline := time.Now().Add(30 * time.Second)
	for pa.acc < 6*60 {
		if time.Now().After(deadline) {
			t.Fatalf("accumulated only %d s", pa.acc)
		}
		beat(t, pa, pb, -60, -60)
		time.Sleep(50 * time.Millisecond)
		pa.drain(t)
		pb.drain(t)
	}
	id := pa.scan("proximity.heartbeat", pb, -60)
	acked := num(pa.ws.ExpectReply("proximity.heartbeat", id).Map(t)["accumulatedSeconds"])
	p.Kill()
	if len(pa.milestones) != 1 || len(pb.milestones) != 1 {
		t.Fatalf("milestones before the crash: %v / %v", pa.milestones, pb.milestones)
	}

	p = servertest.StartProcess(t, dir, env...)
	a, b = join(p.URL, "kill-a"), join(p.URL, "kill-b")
	s := summary(t, a, conn)
	got := num(s["accumulatedSeconds"])
	// One snapshot interval (5 s) plus the write's own latency on a 60×
	// clock; and never more than the heartbeat timeout (60 s) beyond the ack.
	if got < acked-5-3 || got > acked+60 {
		t.Fatalf("after restart accumulatedSeconds = %d, last ack said %d", got, acked)
	}
	if !slices.Equal(ints(s["unlockedMilestones"]), []int{5}) {
		t.Fatalf("unlocked after restart = %v", s["unlockedMilestones"])
	}
	runs := s["sessions"].([]any)
	if len(runs) != 1 || runs[0].(map[string]any)["status"] != "ended" {
		t.Fatalf("the interrupted run = %v", runs)
	}

	// A new run continues the total and does not fire the 5-minute milestone again.
	pa, pb = newPhone(t, a, conn), newPhone(t, b, conn)
	handshake(t, pa, pb)
	for i := 0; i < 20; i++ {
		beat(t, pa, pb, -60, -60)
		time.Sleep(50 * time.Millisecond)
		pa.drain(t)
		pb.drain(t)
	}
	if len(pa.milestones)+len(pb.milestones) != 0 {
		t.Fatalf("milestones repeated after restart: %v %v", pa.milestones, pb.milestones)
	}
	if after := num(summary(t, b, conn)["accumulatedSeconds"]); after <= got {
		t.Fatalf("the new run added nothing: %d then %d", got, after)
	}
	raw, _ := json.Marshal(s)
	t.Logf("acked %d s before SIGKILL, %d s after restart: %s", acked, got, raw)
}
