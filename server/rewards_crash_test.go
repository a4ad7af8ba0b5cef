package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/actors/rewards"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
)

// brandAt and campaignAt are brand and campaign for a server reached by
// URL only (a child process).
func brandAt(t testing.TB, base, name string) string {
	t.Helper()
	res := servertest.Do(t, base, http.MethodPost, "/admin/brands", testAdminToken, map[string]any{"name": name, "category": "lounge"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create brand: %d %s", res.Status, res.Body)
	}
	return res.JSON(t)["brandId"].(string)
}

func campaignAt(t testing.TB, base, brandID string, fields map[string]any) string {
	t.Helper()
	body := map[string]any{
		"brandId": brandID, "title": "Welcome Drinks", "description": "Two mocktails on the house",
		"terms": "Once per pair", "triggerType": "connectionAccepted",
		"minTotalTogetherMinutes": 0, "minDistinctQualifyingDays": 0, "requireActiveProximityForClaim": false,
		"rewardTtl": "72h", "codeTtl": "30m",
	}
	for k, v := range fields {
		body[k] = v
	}
	res := servertest.Do(t, base, http.MethodPost, "/admin/campaigns", testAdminToken, body)
	if res.Status != http.StatusCreated {
		t.Fatalf("create campaign: %d %s", res.Status, res.Body)
	}
	return res.JSON(t)["campaignId"].(string)
}

// campaignAdmin is the operator's view of a campaign.
func campaignAdmin(t testing.TB, base, id string) map[string]any {
	t.Helper()
	res := servertest.Do(t, base, http.MethodGet, "/admin/campaigns/"+id, testAdminToken, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("get campaign: %d %s", res.Status, res.Body)
	}
	return res.JSON(t)
}

// joinAt logs in at base and opens a started socket.
func joinAt(t testing.TB, base, handle string) member {
	t.Helper()
	u := servertest.LoginAt(t, base, "dev", handle)
	ws := u.Dial()
	ws.Start()
	return member{u, ws}
}

// giftsOf fetches ws's gift history and returns the gifts of campaign.
func giftsOf(t testing.TB, ws *servertest.WS, campaign string) []map[string]any {
	t.Helper()
	ws.Send("gift.history.fetch", map[string]any{"limit": 100}, "hist")
	h := ws.ExpectReply("gift.history.fetch", "hist").Map(t)
	if h["nextCursor"] != nil {
		t.Fatalf("history has more than 100 gifts: %v", h["nextCursor"])
	}
	var out []map[string]any
	for _, g := range h["sponsoredGifts"].([]any) {
		if m := g.(map[string]any); m["campaignId"] == campaign {
			out = append(out, m)
		}
	}
	return out
}

// giftIDs names gifts for a failure message: "giftId on connectionId".
func giftIDs(gs []map[string]any) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, fmt.Sprint(g["giftId"], " on ", g["connectionId"]))
	}
	return out
}

// writeFrame is WS.Send for goroutines other than the test's: it returns
// the error instead of failing the test.
func writeFrame(ws *servertest.WS, typ string, payload any, requestID string) error {
	if err := ws.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	return ws.Conn.WriteJSON(map[string]any{"type": typ, "requestId": requestID, "payload": payload})
}

// grantTrigger is the outbox entry an accept records: the reminder the
// Rewards grain of the pair deletes once it has handled the accept.
func grantTrigger(ctx context.Context, t testing.TB, rs storage.Reminders, pairID, connID string) *storage.Reminder {
	t.Helper()
	all, err := rs.Due(ctx, time.Now().Add(100*365*24*time.Hour), 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range all {
		if r := all[i]; r.Kind == cluster.KindRewards && r.Identity == pairID && r.Name == "grant:connectionAccepted:"+connID {
			return &r
		}
	}
	return nil
}

// pendingGrantTriggers counts the accepts whose outbox entry is still
// stored, over every pair.
func pendingGrantTriggers(ctx context.Context, t testing.TB, rs storage.Reminders) int {
	t.Helper()
	all, err := rs.Due(ctx, time.Now().Add(100*365*24*time.Hour), 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range all {
		if r.Kind == cluster.KindRewards && strings.HasPrefix(r.Name, "grant:") {
			n++
		}
	}
	return n
}

// waitTriggerHandled waits until the Rewards grain has handled (and so
// deleted) the accept's outbox entry.
func waitTriggerHandled(t testing.TB, srv *servertest.Server, pairID, connID string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for grantTrigger(context.Background(), t, srv.Store.Reminders(), pairID, connID) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the accept's grant trigger is still stored after %v", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storedRewards is what the database of a stopped server holds for one
// pair, one connection and one campaign.
type storedRewards struct {
	connStatus string
	gifts      []storage.Gift // of the campaign
	granted    int            // the campaign's counter
	trigger    *storage.Reminder
}

func readStored(t testing.TB, dir, pairID, connID, campaign string) storedRewards {
	t.Helper()
	ctx := context.Background()
	st := servertest.OpenStore(t, dir)
	defer st.Close()
	var out storedRewards
	p, err := st.Pairs().Get(ctx, pairID)
	if err != nil {
		t.Fatalf("pair %s: %v", pairID, err)
	}
	for _, c := range p.Connections {
		if c.ID == connID {
			out.connStatus = c.Status
		}
	}
	gs, err := st.Rewards().GiftsOfPair(ctx, pairID)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.CampaignID == campaign {
			out.gifts = append(out.gifts, g)
		}
	}
	c, err := st.Rewards().GetCampaign(ctx, campaign)
	if err != nil {
		t.Fatal(err)
	}
	out.granted = c.Granted
	out.trigger = grantTrigger(ctx, t, st.Reminders(), pairID, connID)
	return out
}

// TestRewardGrantOnceAcrossSIGKILL kills the server the moment B's accept
// is acknowledged. Whether or not the Pair grain's direct hand-over reached
// the Rewards grain before the kill, the pair ends up with exactly one gift
// of the campaign once the server is back, and restarting again (which
// replays any outbox entry still stored) grants no second one.
func TestRewardGrantOnceAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	env := []string{"GISBI_ADMIN_TOKEN=" + testAdminToken}
	p := servertest.StartProcess(t, dir, env...)
	camp := campaignAt(t, p.URL, brandAt(t, p.URL, "Harbour Bistro"), nil)
	a, b := joinAt(t, p.URL, "kill-a"), joinAt(t, p.URL, "kill-b")
	req := send(t, a, b)
	b.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	conn := b.ws.ExpectReply("connection.request.accept", "acc").Map(t)["connection"].(map[string]any)["connectionId"].(string)
	p.Kill()
	pairID := storage.PairID(a.ID, b.ID)

	// The acknowledged accept is stored, and with it either the gift or
	// the trigger that will grant it.
	st := readStored(t, dir, pairID, conn, camp)
	if st.connStatus != "accepted" {
		t.Fatalf("acknowledged accept lost: connection status %q", st.connStatus)
	}
	switch {
	case len(st.gifts) > 1 || st.granted != len(st.gifts):
		t.Fatalf("after SIGKILL: %d gifts, campaign counts %d", len(st.gifts), st.granted)
	case len(st.gifts) == 0 && st.trigger == nil:
		t.Fatal("accept stored with neither its gift nor its grant trigger: the gift is lost")
	case len(st.gifts) == 0:
		t.Logf("killed before the direct hand-over granted; trigger due %s", st.trigger.DueAt.Format(time.RFC3339Nano))
	case st.trigger != nil:
		t.Logf("killed after the direct hand-over granted but before it cleared the trigger")
	default:
		t.Logf("the direct hand-over granted and cleared the trigger before the kill")
	}

	// Restart until nothing is left that could grant: the gift is stored
	// and the trigger is gone. Each round is killed again, so a trigger
	// still stored after a grant is replayed by the next start-up.
	deadline := time.Now().Add(45 * time.Second)
	for round := 1; len(st.gifts) != 1 || st.trigger != nil; round++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d restarts: %d gifts, trigger stored: %v", round-1, len(st.gifts), st.trigger != nil)
		}
		p = servertest.StartProcess(t, dir, env...)
		for campaignAdmin(t, p.URL, camp)["granted"] != 1.0 {
			if time.Now().After(deadline) {
				t.Fatalf("no gift granted within the deadline (round %d)\n%s", round, p.ServerLog())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if st.trigger != nil {
			// The trigger fires at its due time; give it the chance.
			time.Sleep(time.Until(st.trigger.DueAt) + 300*time.Millisecond)
		}
		p.Kill()
		st = readStored(t, dir, pairID, conn, camp)
		if len(st.gifts) > 1 || st.granted != len(st.gifts) {
			t.Fatalf("round %d: %d gifts, campaign counts %d", round, len(st.gifts), st.granted)
		}
		t.Logf("round %d: %d gift, trigger stored: %v", round, len(st.gifts), st.trigger != nil)
	}
	gift := st.gifts[0]
	if gift.ConnectionID != conn || gift.Stage != storage.GiftGranted {
		t.Fatalf("gift: %+v", gift)
	}

	// What the users and the operator see, over two more starts.
	for range 2 {
		p = servertest.StartProcess(t, dir, env...)
		for _, handle := range []string{"kill-a", "kill-b"} {
			m := joinAt(t, p.URL, handle)
			gs := giftsOf(t, m.ws, camp)
			if len(gs) != 1 || gs[0]["giftId"] != gift.ID || gs[0]["connectionId"] != conn {
				t.Fatalf("%s's gifts of the campaign: %v, want only %s on %s", handle, giftIDs(gs), gift.ID, conn)
			}
			m.ws.Close()
		}
		if c := campaignAdmin(t, p.URL, camp); c["granted"] != 1.0 {
			t.Fatalf("campaign after restart: %v", c)
		}
		p.Kill()
	}
}

// TestRewardStockUnderConcurrentAccepts: 30 pairs accept at the same
// moment while a campaign has 5 gifts in stock. Exactly 5 pairs get one,
// none gets two, and the operator sees the stock used up.
func TestRewardStockUnderConcurrentAccepts(t *testing.T) {
	const pairs, stock = 30, 5
	srv := servertest.Start(t, withAdmin)
	brandID, _ := brand(t, srv, "Corner Bakery")
	camp := campaign(t, srv, brandID, map[string]any{"stock": stock})
	type duo struct {
		a, b member
		req  string
		conn string
	}
	ds := make([]duo, pairs)
	for i := range ds {
		a, b := joinAs(t, srv, fmt.Sprint("stock-a-", i)), joinAs(t, srv, fmt.Sprint("stock-b-", i))
		ds[i] = duo{a: a, b: b, req: send(t, a, b)}
	}

	start := make(chan struct{})
	errs := make([]error, pairs)
	var wg sync.WaitGroup
	for i := range ds {
		wg.Go(func() {
			<-start
			errs[i] = writeFrame(ds[i].b.ws, "connection.request.accept", map[string]any{"requestId": ds[i].req}, "acc")
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("pair %d: accept: %v", i, err)
		}
	}
	for i := range ds {
		ds[i].conn = ds[i].b.ws.ExpectReply("connection.request.accept", "acc").Map(t)["connection"].(map[string]any)["connectionId"].(string)
	}
	// Every accept's trigger handled (granted or refused).
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for pendingGrantTriggers(ctx, t, srv.Store.Reminders()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d grant triggers still pending", pendingGrantTriggers(ctx, t, srv.Store.Reminders()))
		}
		time.Sleep(20 * time.Millisecond)
	}

	winners, events := 0, 0
	for i, d := range ds {
		ga, gb := giftsOf(t, d.a.ws, camp), giftsOf(t, d.b.ws, camp)
		if len(ga) > 1 || len(ga) != len(gb) {
			t.Fatalf("pair %d: gifts %v / %v", i, giftIDs(ga), giftIDs(gb))
		}
		if len(ga) == 0 {
			continue
		}
		winners++
		if ga[0]["giftId"] != gb[0]["giftId"] || ga[0]["connectionId"] != d.conn {
			t.Fatalf("pair %d: gifts %v / %v", i, giftIDs(ga), giftIDs(gb))
		}
		for _, m := range []member{d.a, d.b} {
			f := m.ws.ExpectPush("gift.sponsored.granted", 5*time.Second).Map(t)
			if f["giftId"] != ga[0]["giftId"] {
				t.Fatalf("pair %d: granted event %v, history %v", i, f, ga[0])
			}
			events++
		}
	}
	// Any further granted event would already be queued: every grant ran
	// before its trigger was cleared and the history round trips above.
	for _, d := range ds {
		d.a.ws.NoFrame("gift.sponsored.granted", 0)
		d.b.ws.NoFrame("gift.sponsored.granted", 0)
	}
	c := srv.Do(http.MethodGet, "/admin/campaigns/"+camp, testAdminToken, nil).JSON(t)
	if winners != stock || events != 2*stock || c["granted"] != float64(stock) || c["remaining"] != 0.0 {
		t.Fatalf("%d pairs got a gift (%d granted events); campaign %v", winners, events, c)
	}
}

// TestRewardTriggerDeliveredTwice hands the Rewards grain an accept it has
// already granted: once on the live grain, and once at start-up to a fresh
// activation, as after a node that died between granting and clearing the
// trigger. Neither grants a second gift.
//
// The stored trigger is normally cleared by the direct hand-over itself,
// so the second delivery is recorded again through rewards.Triggers, the
// API the Pair grain uses.
func TestRewardTriggerDeliveredTwice(t *testing.T) {
	dir := t.TempDir()
	srv := servertest.StartIn(t, dir, withAdmin)
	brandID, _ := brand(t, srv, "Riverside Books")
	camp := campaign(t, srv, brandID, nil)
	a, b := joinAs(t, srv, "twice-a"), joinAs(t, srv, "twice-b")
	conn := pairUp(t, a, b)
	pairID := storage.PairID(a.ID, b.ID)
	gift := a.ws.ExpectPush("gift.sponsored.granted", 5*time.Second).Map(t)["giftId"]
	b.ws.ExpectPush("gift.sponsored.granted", 5*time.Second)
	waitTriggerHandled(t, srv, pairID, conn, 5*time.Second)

	once := func(srv *servertest.Server, a, b member, when string) {
		t.Helper()
		for _, m := range []member{a, b} {
			gs := giftsOf(t, m.ws, camp)
			if len(gs) != 1 || gs[0]["giftId"] != gift {
				t.Fatalf("%s: gifts of the campaign %v, want only %v", when, giftIDs(gs), gift)
			}
			m.ws.NoFrame("gift.sponsored.granted", 0) // a second one would be queued by now
		}
		if c := srv.Do(http.MethodGet, "/admin/campaigns/"+camp, testAdminToken, nil).JSON(t); c["granted"] != 1.0 {
			t.Fatalf("%s: campaign %v", when, c)
		}
	}

	// Again, due now, to the live grain.
	ctx := context.Background()
	if _, err := (rewards.Triggers{Reminders: srv.Reminders}).Accepted(ctx, pairID, conn, srv.Clock.Now().Add(-rewards.OutboxDelay)); err != nil {
		t.Fatal(err)
	}
	waitTriggerHandled(t, srv, pairID, conn, 10*time.Second)
	once(srv, a, b, "redelivered to the live grain")

	// Again, stored while the server is down: it fires at start-up.
	srv.Stop()
	st := servertest.OpenStore(t, dir)
	_, err := (rewards.Triggers{Reminders: st.Reminders()}).Accepted(ctx, pairID, conn, time.Now().Add(-rewards.OutboxDelay))
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	srv = servertest.StartIn(t, dir, withAdmin)
	waitTriggerHandled(t, srv, pairID, conn, 10*time.Second)
	once(srv, joinAs(t, srv, "twice-a"), joinAs(t, srv, "twice-b"), "redelivered at start-up")
}
