package server_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// The lifecycle of sponsored rewards end to end: real servers, sockets and
// HTTP. Helpers used here come from rewards_test.go (brand, campaign,
// withAdmin), proximity_test.go (pairUp, newPhone, handshake) and
// connections_test.go (joinAs, member).

// fastClock runs the server's clock speed× faster, with every other timer
// that would otherwise trip inside a few real seconds pushed out of the way:
// tokens and requests that outlive the test, BLE tokens that never rotate,
// a grace that never ends a paused run, and scans that keep a participant
// "seeing" for 12 simulated minutes, so a single handshake accrues up to 12
// minutes of together-time and no more.
func fastClock(speed float64) servertest.Option {
	return func(c *config.Config) {
		withAdmin(c)
		c.ClockSpeed = speed
		c.AccessTTL, c.RefreshTTL = 1000*time.Hour, 2000*time.Hour
		c.RequestTTL = 1000 * time.Hour
		c.BLETokenTTL = 1000 * time.Hour
		c.HeartbeatTimeout = 12 * time.Minute
		c.ProximityGrace = 1000 * time.Hour
		c.ProximityUpdateInterval = time.Hour
		c.ProximitySnapshot = time.Minute
		c.WSRate, c.WSBurst = 1000, 1000
	}
}

// giftPush waits for a pushed gift frame of typ about giftID (any when "")
// in stage (any when "").
func giftPush(t testing.TB, m member, typ, giftID, stage string) map[string]any {
	t.Helper()
	return m.ws.ExpectPushWhere(typ, 10*time.Second, func(f *servertest.Frame) bool {
		g := f.Map(t)
		return (giftID == "" || g["giftId"] == giftID) && (stage == "" || g["claimStage"] == stage)
	}).Map(t)
}

// grantOf waits for the gift.sponsored.granted of a campaign.
func grantOf(t testing.TB, m member, campaignID string) map[string]any {
	t.Helper()
	return m.ws.ExpectPushWhere("gift.sponsored.granted", 10*time.Second, func(f *servertest.Frame) bool {
		return f.Map(t)["campaignId"] == campaignID
	}).Map(t)
}

var reqSeq int

func nextID(prefix string) string {
	reqSeq++
	return fmt.Sprintf("%s-%d", prefix, reqSeq)
}

// claimGift sends gift.claim and returns whatever answers it.
func claimGift(t testing.TB, m member, payload map[string]any) *servertest.Frame {
	t.Helper()
	id := nextID("claim")
	m.ws.Send("gift.claim", payload, id)
	return m.ws.ExpectReplyAny(id)
}

// mustClaim claims a gift and expects it verified.
func mustClaim(t testing.TB, m member, giftID string) map[string]any {
	t.Helper()
	f := claimGift(t, m, map[string]any{"giftId": giftID})
	if f.Type != "gift.claim" {
		t.Fatalf("claim %s: %s", giftID, f.Raw)
	}
	g := f.Map(t)
	if g["claimStage"] != "verified" || g["historyStatus"] != "verified" || g["status"] != "active" {
		t.Fatalf("claimed gift: %v", g)
	}
	if code, _ := g["redemptionCode"].(string); len(code) != 8 || g["codeExpiresAt"] == nil || g["claimedAt"] == nil {
		t.Fatalf("claimed gift without a code: %v", g)
	}
	return g
}

// historyPage sends gift.history.fetch and returns whatever answers it.
func historyPage(t testing.TB, m member, payload map[string]any) *servertest.Frame {
	t.Helper()
	id := nextID("hist")
	if payload == nil {
		payload = map[string]any{}
	}
	m.ws.Send("gift.history.fetch", payload, id)
	return m.ws.ExpectReplyAny(id)
}

// giftsOf is a user's history page as a list of gifts.
func historyGifts(t testing.TB, m member, payload map[string]any) (gifts []map[string]any, next any) {
	t.Helper()
	f := historyPage(t, m, payload)
	if f.Type != "gift.history.fetch" {
		t.Fatalf("history %v: %s", payload, f.Raw)
	}
	h := f.Map(t)
	for _, g := range h["sponsoredGifts"].([]any) {
		gifts = append(gifts, g.(map[string]any))
	}
	return gifts, h["nextCursor"]
}

// giftByID finds a gift in a user's first history page.
func giftByID(t testing.TB, m member, giftID string) map[string]any {
	t.Helper()
	gifts, _ := historyGifts(t, m, map[string]any{"limit": 100})
	for _, g := range gifts {
		if g["giftId"] == giftID {
			return g
		}
	}
	t.Fatalf("gift %s not in %s's history (%d gifts)", giftID, m.ID, len(gifts))
	return nil
}

func sponsorCall(t testing.TB, srv *servertest.Server, method, code, key string) *servertest.Response {
	t.Helper()
	path := "/sponsor/redemptions/" + code
	if method == http.MethodPost {
		path += "/redeem"
	}
	return servertest.Do(t, srv.URL, method, path, key, nil)
}

func details(t testing.TB, f *servertest.Frame) map[string]any {
	t.Helper()
	d, _ := f.Map(t)["details"].(map[string]any)
	if d == nil {
		t.Fatalf("%s has no details", f.Raw)
	}
	return d
}

func parseTime(t testing.TB, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return at
}

// metric reads one sample of /metrics, 0 when it is absent.
func metric(t testing.TB, srv *servertest.Server, name, label, value string) float64 {
	t.Helper()
	res := srv.Do(http.MethodGet, "/metrics", "", nil)
	want := fmt.Sprintf(`%s{%s="%s"} `, name, label, value)
	for _, line := range strings.Split(string(res.Body), "\n") {
		if rest, ok := strings.CutPrefix(line, want); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

func admin(t testing.TB, srv *servertest.Server, method, path string, body any) *servertest.Response {
	t.Helper()
	return srv.Do(method, path, testAdminToken, body)
}

// TestRewardMilestoneGrant: a proximityMilestone campaign grants when the
// pair's together-time crosses its milestone, once, and a campaign of a
// later milestone waits for its own.
func TestRewardMilestoneGrant(t *testing.T) {
	srv := servertest.Start(t, fastClock(600))
	brandID, _ := brand(t, srv, "Milestone Bar")
	five := campaign(t, srv, brandID, map[string]any{"triggerType": "proximityMilestone", "milestoneMinutes": 5, "title": "Five together"})
	fifteen := campaign(t, srv, brandID, map[string]any{"triggerType": "proximityMilestone", "milestoneMinutes": 15, "title": "Fifteen together"})
	a, b := joinAs(t, srv, "ms-a"), joinAs(t, srv, "ms-b")
	conn := pairUp(t, a, b)

	// The handshake's scans keep both seeing for 12 simulated minutes: the
	// run crosses 5 but cannot reach 15 without another scan.
	pa, pb := newPhone(t, a, conn), newPhone(t, b, conn)
	handshake(t, pa, pb)
	var gift string
	for _, m := range []member{a, b} {
		g := m.ws.ExpectPush("gift.sponsored.granted", 10*time.Second).Map(t)
		if g["campaignId"] != five || g["triggerType"] != "proximityMilestone" || num(g["milestoneMinutes"]) != 5 ||
			g["connectionId"] != conn || g["claimStage"] != "granted" || g["title"] != "Five together" {
			t.Fatalf("%s: granted at 5 minutes: %v", m.ID, g)
		}
		if gift == "" {
			gift = g["giftId"].(string)
		} else if g["giftId"] != gift {
			t.Fatalf("the two users were told of different gifts: %s / %s", gift, g["giftId"])
		}
	}
	// Every campaign the trigger matches is granted in the same pass, before
	// anyone hears of it: by now a wrong 15-minute grant would be stored.
	if gifts, _ := historyGifts(t, a, nil); len(gifts) != 1 || gifts[0]["campaignId"] != five {
		t.Fatalf("history after 5 minutes: %v", gifts)
	}

	// One more scan each: the run goes on past 15 minutes.
	for _, p := range []*phone{pa, pb} {
		other := pb
		if p == pb {
			other = pa
		}
		id := p.scan("proximity.heartbeat", other, -60)
		if f := p.ws.ExpectReplyAny(id); f.Type != "proximity.heartbeat" {
			t.Fatalf("heartbeat: %s", f.Raw)
		}
	}
	for _, m := range []member{a, b} {
		g := m.ws.ExpectPush("gift.sponsored.granted", 10*time.Second).Map(t)
		if g["campaignId"] != fifteen || num(g["milestoneMinutes"]) != 15 || g["giftId"] == gift {
			t.Fatalf("%s: granted at 15 minutes: %v", m.ID, g)
		}
	}
	gifts, _ := historyGifts(t, b, nil)
	if len(gifts) != 2 || gifts[0]["campaignId"] != fifteen || gifts[1]["campaignId"] != five {
		t.Fatalf("history after 15 minutes: %v", gifts)
	}
	for _, c := range []string{five, fifteen} {
		if v := admin(t, srv, http.MethodGet, "/admin/campaigns/"+c, nil).JSON(t); num(v["granted"]) != 1 {
			t.Fatalf("campaign %s: %v", c, v)
		}
	}
}

// TestRewardClaimNeedsTogetherTime: a gift whose rule is not met yet is
// pending and refused with its risk signals; once the pair has been
// together long enough it is available and the claim verifies it.
func TestRewardClaimNeedsTogetherTime(t *testing.T) {
	srv := servertest.Start(t, fastClock(600))
	brandID, _ := brand(t, srv, "Patience Cafe")
	camp := campaign(t, srv, brandID, map[string]any{"minTotalTogetherMinutes": 5, "minDistinctQualifyingDays": 1})
	a, b := joinAs(t, srv, "wait-a"), joinAs(t, srv, "wait-b")
	conn := pairUp(t, a, b)
	g := grantOf(t, a, camp)
	grantOf(t, b, camp)
	gift := g["giftId"].(string)
	if g["historyStatus"] != "pending" || g["claimableNow"] != false || g["partnerClaimableNow"] != false ||
		num(g["requiredTogetherMinutes"]) != 5 || num(g["requiredQualifyingDays"]) != 1 || num(g["qualifyingTogetherMinutes"]) != 0 {
		t.Fatalf("granted before any together-time: %v", g)
	}

	f := claimGift(t, a, map[string]any{"giftId": gift})
	if f.ErrorCode() != "gift_not_claimable" {
		t.Fatalf("claim right after accept: %s", f.Raw)
	}
	d := details(t, f)
	risk, _ := d["riskSignals"].(map[string]any)
	if risk == nil || risk["insufficientTogetherTime"] != true || risk["insufficientQualifyingDays"] != true ||
		num(d["requiredTogetherMinutes"]) != 5 || num(d["qualifyingTogetherMinutes"]) != 0 {
		t.Fatalf("gift_not_claimable details: %v", d)
	}
	if h := giftByID(t, a, gift); h["historyStatus"] != "pending" || h["claimStage"] != "granted" {
		t.Fatalf("history before together-time: %v", h)
	}

	// Together past five minutes (the milestone says when).
	pa, pb := newPhone(t, a, conn), newPhone(t, b, conn)
	handshake(t, pa, pb)
	a.ws.ExpectPushWhere("proximity.milestone.reached", 10*time.Second, func(f *servertest.Frame) bool { return num(f.Map(t)["milestone"]) == 5 })
	var h map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; {
		h = giftByID(t, b, gift)
		if h["historyStatus"] == "available" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gift never became available: %v", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h["claimableNow"] != true || h["partnerClaimableNow"] != true || num(h["qualifyingTogetherMinutes"]) < 5 || num(h["qualifyingDaysCount"]) < 1 {
		t.Fatalf("available gift: %v", h)
	}
	if r := h["riskSignals"].(map[string]any); r["insufficientTogetherTime"] != false || r["insufficientQualifyingDays"] != false {
		t.Fatalf("risk once the rule is met: %v", r)
	}

	if before, now := num(g["sponsorConfidenceScore"]), num(h["sponsorConfidenceScore"]); before < 0 || now > 100 || now <= before {
		t.Fatalf("sponsorConfidenceScore %d when granted, %d once the rule is met", before, now)
	}

	// The claimer's socket gets the answer; its other socket and the
	// partner get the update.
	other := member{a.User, a.User.Dial()}
	other.ws.Start()
	claimed := mustClaim(t, a, gift)
	if num(claimed["qualifyingTogetherMinutes"]) < 5 || claimed["partnerUserId"] != b.ID {
		t.Fatalf("claimed: %v", claimed)
	}
	up := giftPush(t, b, "gift.sponsored.updated", gift, "verified")
	if up["redemptionCode"] != claimed["redemptionCode"] || up["partnerUserId"] != a.ID {
		t.Fatalf("partner's update: %v", up)
	}
	if up := giftPush(t, other, "gift.sponsored.updated", gift, "verified"); up["redemptionCode"] != claimed["redemptionCode"] {
		t.Fatalf("claimer's other socket: %v", up)
	}
	a.ws.NoFrame("gift.sponsored.updated", 100*time.Millisecond)
	// The partner claiming the verified gift is told its code, unchanged.
	if again := mustClaim(t, b, gift); again["redemptionCode"] != claimed["redemptionCode"] {
		t.Fatalf("second claim changed the code: %v", again)
	}
	other.ws.NoFrame("gift.sponsored.updated", 100*time.Millisecond)
	if h := giftByID(t, a, gift); h["historyStatus"] != "verified" || h["redemptionCode"] != claimed["redemptionCode"] {
		t.Fatalf("history after the claim: %v", h)
	}
}

// TestRewardActiveProximityRule: a gift that requires an active run is
// claimed and redeemed only while the pair is together.
func TestRewardActiveProximityRule(t *testing.T) {
	srv := servertest.Start(t, withAdmin, func(c *config.Config) {
		c.WSRate, c.WSBurst = 1000, 1000
		c.ProximityGrace = time.Hour
		c.HeartbeatTimeout = time.Minute
	})
	brandID, key := brand(t, srv, "Together Only")
	camp := campaign(t, srv, brandID, map[string]any{"requireActiveProximityForClaim": true})
	a, b := joinAs(t, srv, "live-a"), joinAs(t, srv, "live-b")
	conn := pairUp(t, a, b)
	g := grantOf(t, a, camp)
	grantOf(t, b, camp)
	gift := g["giftId"].(string)
	if g["historyStatus"] != "pending" || g["claimableNow"] != false || g["requireActiveProximityForClaim"] != true {
		t.Fatalf("granted without a run: %v", g)
	}

	f := claimGift(t, a, map[string]any{"giftId": gift})
	if f.ErrorCode() != "gift_not_claimable" {
		t.Fatalf("claim without a run: %s", f.Raw)
	}
	if r := details(t, f)["riskSignals"].(map[string]any); r["notActiveNow"] != true || r["insufficientTogetherTime"] != false {
		t.Fatalf("risk without a run: %v", r)
	}

	pa, pb := newPhone(t, a, conn), newPhone(t, b, conn)
	handshake(t, pa, pb)
	claimed := mustClaim(t, a, gift)
	code := claimed["redemptionCode"].(string)
	if claimed["verificationContext"].(map[string]any)["proximityActive"] != true || claimed["riskSignals"].(map[string]any)["notActiveNow"] != false {
		t.Fatalf("claimed while together: %v", claimed)
	}
	giftPush(t, b, "gift.sponsored.updated", gift, "verified")

	// Both stop seeing each other: the run pauses.
	for _, m := range []member{a, b} {
		id := nextID("end")
		m.ws.Send("proximity.session.end", map[string]any{"connectionId": conn}, id)
		if u := m.ws.ExpectReply("proximity.session.updated", id).Map(t); u["sessionActive"] != false {
			t.Fatalf("end: %v", u)
		}
	}
	res := sponsorCall(t, srv, http.MethodPost, code, key)
	if res.Status != http.StatusConflict || res.Code() != "proximity_required" {
		t.Fatalf("redeem while apart: %d %s", res.Status, res.Body)
	}
	if res := sponsorCall(t, srv, http.MethodGet, code, key); res.Status != http.StatusOK {
		t.Fatalf("lookup while apart: %d %s", res.Status, res.Body)
	} else if v := res.JSON(t); v["claimStage"] != "verified" || v["partnerUserId"] != nil || v["verificationContext"].(map[string]any)["proximityActive"] != false {
		t.Fatalf("lookup while apart: %v", v)
	}

	// Together again: the same run resumes and the venue can redeem.
	pa.scan("proximity.heartbeat", pb, -60)
	pb.scan("proximity.heartbeat", pa, -60)
	b.ws.ExpectPushWhere("proximity.session.updated", 5*time.Second, func(f *servertest.Frame) bool { return f.Map(t)["sessionActive"] == true })
	res = sponsorCall(t, srv, http.MethodPost, code, key)
	if res.Status != http.StatusOK || res.JSON(t)["claimStage"] != "redeemed" {
		t.Fatalf("redeem while together: %d %s", res.Status, res.Body)
	}
	for _, m := range []member{a, b} {
		if u := giftPush(t, m, "gift.sponsored.updated", gift, "redeemed"); u["historyStatus"] != "claimed" || u["status"] != "redeemed" || u["redeemedAt"] == nil {
			t.Fatalf("%s: redeemed update: %v", m.ID, u)
		}
	}
}

// TestRewardCodeExpiry: a code that runs out unredeemed returns the gift to
// granted; the venue is told the old code expired, and a new claim draws a
// new code.
func TestRewardCodeExpiry(t *testing.T) {
	srv := servertest.Start(t, fastClock(60)) // a 1-minute code lasts 1 s
	brandID, key := brand(t, srv, "Quick Codes")
	camp := campaign(t, srv, brandID, map[string]any{"codeTtl": "1m"})
	a, b := joinAs(t, srv, "code-a"), joinAs(t, srv, "code-b")
	pairUp(t, a, b)
	gift := grantOf(t, a, camp)["giftId"].(string)
	grantOf(t, b, camp)

	claimed := mustClaim(t, a, gift)
	code := claimed["redemptionCode"].(string)
	if d := parseTime(t, claimed["codeExpiresAt"]).Sub(parseTime(t, claimed["claimedAt"])); d != time.Minute {
		t.Fatalf("codeExpiresAt - claimedAt = %v, want codeTtl 1m: %v", d, claimed)
	}
	giftPush(t, b, "gift.sponsored.updated", gift, "verified")

	for _, m := range []member{a, b} {
		u := giftPush(t, m, "gift.sponsored.updated", gift, "granted")
		if u["redemptionCode"] != nil || u["codeExpiresAt"] != nil || u["historyStatus"] != "available" || u["status"] != "active" {
			t.Fatalf("%s: gift back to granted: %v", m.ID, u)
		}
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if res := sponsorCall(t, srv, method, code, key); res.Status != http.StatusGone || res.Code() != "code_expired" {
			t.Fatalf("%s expired code: %d %s", method, res.Status, res.Body)
		}
	}

	again := mustClaim(t, b, gift)
	code2 := again["redemptionCode"].(string)
	if code2 == code {
		t.Fatalf("a new claim reused the expired code %s", code)
	}
	giftPush(t, a, "gift.sponsored.updated", gift, "verified")
	if res := sponsorCall(t, srv, http.MethodGet, code2, key); res.Status != http.StatusOK || res.JSON(t)["redemptionCode"] != code2 {
		t.Fatalf("lookup of the new code: %d %s", res.Status, res.Body)
	}
	if res := sponsorCall(t, srv, http.MethodGet, code, key); res.Status != http.StatusGone || res.Code() != "code_expired" {
		t.Fatalf("old code after a new claim: %d %s", res.Status, res.Body)
	}
}

// TestRewardGiftExpiryAcrossRestart: a gift's expiry is a durable reminder:
// granted on one server, it expires on the next one started on the same
// data, telling the users who are online, and the campaign still counts it.
//
// The dev clock is anchored to wall time when a server starts, so a
// restarted fast clock starts behind where the old one stopped; the expiry,
// due in simulated time, therefore falls due after the restart however long
// the server was down (a gift due while the server is down would take a
// real minute, rewardTtl's minimum, to arrange).
func TestRewardGiftExpiryAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	srv := servertest.StartIn(t, dir, fastClock(60))
	brandID, _ := brand(t, srv, "Short Lived")
	camp := campaign(t, srv, brandID, map[string]any{"rewardTtl": "2m"})
	a, b := joinAs(t, srv, "exp-a"), joinAs(t, srv, "exp-b")
	pairUp(t, a, b)
	g := grantOf(t, a, camp)
	grantOf(t, b, camp)
	gift := g["giftId"].(string)
	expiresAt := parseTime(t, g["expiresAt"])
	if d := expiresAt.Sub(parseTime(t, g["createdAt"])); d != 2*time.Minute {
		t.Fatalf("expiresAt - createdAt = %v, want rewardTtl 2m", d)
	}
	srv.Stop()
	if !srv.Clock.Now().Before(expiresAt) {
		t.Fatalf("setup: the gift expired before the server stopped")
	}

	srv = servertest.StartIn(t, dir, fastClock(60))
	a2, b2 := joinAs(t, srv, "exp-a"), joinAs(t, srv, "exp-b")
	if a2.ID != a.ID || b2.ID != b.ID {
		t.Fatalf("users changed across the restart")
	}
	if !srv.Clock.Now().Before(expiresAt) {
		t.Fatalf("setup: the gift fell due before its users reconnected; the push cannot be awaited")
	}
	for _, m := range []member{a2, b2} {
		u := giftPush(t, m, "gift.sponsored.updated", gift, "expired")
		if u["status"] != "expired" || u["legacyStatus"] != "expired" || u["historyStatus"] != "disqualified" || u["claimableNow"] != false {
			t.Fatalf("%s: expired update: %v", m.ID, u)
		}
	}
	if h := giftByID(t, a2, gift); h["claimStage"] != "expired" || h["historyStatus"] != "disqualified" {
		t.Fatalf("history after expiry: %v", h)
	}
	if f := claimGift(t, b2, map[string]any{"giftId": gift}); f.ErrorCode() != "gift_not_claimable" {
		t.Fatalf("claim of an expired gift: %s", f.Raw)
	}
	c := admin(t, srv, http.MethodGet, "/admin/campaigns/"+camp, nil).JSON(t)
	if num(c["granted"]) != 1 || num(c["redeemed"]) != 0 {
		t.Fatalf("campaign after expiry: %v", c)
	}
	if n := metric(t, srv, "gisbi_reward_expiries_total", "campaign", camp); n != 1 {
		t.Fatalf("expiries counted by the restarted server: %v", n)
	}
}

// TestRewardCancelOnEnd: closing the connection, a block and a deleted
// account each cancel the pair's unredeemed gifts, granted or verified,
// telling both users (the one still there, for a deleted account); a gift
// already redeemed stays redeemed.
func TestRewardCancelOnEnd(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	brandID, key := brand(t, srv, "Fair Weather")
	redeemed := campaign(t, srv, brandID, map[string]any{"title": "Redeemed first"})
	verified := campaign(t, srv, brandID, map[string]any{"title": "Claimed, not redeemed"})
	granted := campaign(t, srv, brandID, map[string]any{"title": "Never claimed"})

	cases := []struct {
		name    string
		end     func(t *testing.T, a, b member, conn string)
		deleted bool // a's account is gone: only b is told
	}{
		{"close", func(t *testing.T, a, b member, conn string) {
			a.ws.Send("connection.close", map[string]any{"connectionId": conn}, "cls")
			a.ws.ExpectReply("connection.close", "cls")
		}, false},
		{"block", func(t *testing.T, a, b member, conn string) {
			b.ws.Send("safety.block", map[string]any{"blockedUserId": a.ID}, "blk")
			b.ws.ExpectReply("safety.block", "blk")
		}, false},
		{"delete account", func(t *testing.T, a, b member, conn string) {
			if res := a.Do(http.MethodPost, "/auth/delete-account", map[string]string{"reason": "bye"}); res.Status != http.StatusOK {
				t.Fatalf("delete: %d %s", res.Status, res.Body)
			}
		}, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := joinAs(t, srv, fmt.Sprintf("end-a%d", i)), joinAs(t, srv, fmt.Sprintf("end-b%d", i))
			conn := pairUp(t, a, b)
			gifts := map[string]string{}
			for _, c := range []string{redeemed, verified, granted} {
				gifts[c] = grantOf(t, a, c)["giftId"].(string)
				grantOf(t, b, c)
			}
			done := mustClaim(t, a, gifts[redeemed])["redemptionCode"].(string)
			if res := sponsorCall(t, srv, http.MethodPost, done, key); res.Status != http.StatusOK {
				t.Fatalf("redeem: %d %s", res.Status, res.Body)
			}
			giftPush(t, b, "gift.sponsored.updated", gifts[redeemed], "redeemed")
			held := mustClaim(t, b, gifts[verified])["redemptionCode"].(string)
			giftPush(t, a, "gift.sponsored.updated", gifts[verified], "verified")

			tc.end(t, a, b, conn)
			told := []member{a, b}
			if tc.deleted {
				told = []member{b}
			}
			for _, m := range told {
				for _, c := range []string{verified, granted} {
					u := giftPush(t, m, "gift.sponsored.updated", gifts[c], "cancelled")
					if u["status"] != "cancelled" || u["legacyStatus"] != "cancelled" || u["historyStatus"] != "disqualified" ||
						u["claimableNow"] != false || u["redemptionCode"] != nil || u["codeExpiresAt"] != nil {
						t.Fatalf("%s: cancelled update: %v", m.ID, u)
					}
				}
			}
			// The venue asks the pair's grain, after it handled the end.
			if res := sponsorCall(t, srv, http.MethodGet, done, key); res.Status != http.StatusOK || res.JSON(t)["claimStage"] != "redeemed" {
				t.Fatalf("redeemed gift after the end: %d %s", res.Status, res.Body)
			}
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				if res := sponsorCall(t, srv, method, held, key); res.Status != http.StatusGone || res.Code() != "code_expired" {
					t.Fatalf("%s the code of a cancelled gift: %d %s", method, res.Status, res.Body)
				}
			}
			for c, want := range map[string][2]string{redeemed: {"redeemed", "claimed"}, verified: {"cancelled", "disqualified"}, granted: {"cancelled", "disqualified"}} {
				if h := giftByID(t, b, gifts[c]); h["claimStage"] != want[0] || h["historyStatus"] != want[1] {
					t.Fatalf("history: %v, want %v", h, want)
				}
			}
			if f := claimGift(t, b, map[string]any{"giftId": gifts[granted]}); f.ErrorCode() != "gift_not_claimable" {
				t.Fatalf("claim of a cancelled gift: %s", f.Raw)
			}
		})
	}
	c := admin(t, srv, http.MethodGet, "/admin/campaigns/"+redeemed, nil).JSON(t)
	if num(c["granted"]) != 3 || num(c["redeemed"]) != 3 {
		t.Fatalf("campaign of the redeemed gifts: %v", c)
	}
	for _, camp := range []string{verified, granted} {
		if n := metric(t, srv, "gisbi_reward_cancellations_total", "campaign", camp); n != 3 {
			t.Fatalf("cancellations counted for %s: %v", camp, n)
		}
	}
}

// TestRewardSponsorIsolationAndBadInput: a brand sees only its own codes,
// and an unknown code reads the same whether it belongs to another brand
// or to nobody; keys are required; guessing is limited and counted; users
// touch only their own gifts; and nothing a client sends grants a gift.
func TestRewardSponsorIsolationAndBadInput(t *testing.T) {
	srv := servertest.Start(t, withAdmin, func(c *config.Config) { c.SponsorCodeMissesPerHour = 3 })
	brandID, key := brand(t, srv, "Own Codes")
	otherID, otherKey := brand(t, srv, "Other Codes")
	guesserID, guesserKey := brand(t, srv, "Guesser")
	camp := campaign(t, srv, brandID, nil)
	a, b := joinAs(t, srv, "iso-a"), joinAs(t, srv, "iso-b")
	c, d := joinAs(t, srv, "iso-c"), joinAs(t, srv, "iso-d")
	pairUp(t, a, b)
	gift := grantOf(t, a, camp)["giftId"].(string)
	grantOf(t, b, camp)
	pairUp(t, c, d)
	grantOf(t, c, camp)
	grantOf(t, d, camp)
	code := mustClaim(t, a, gift)["redemptionCode"].(string)
	giftPush(t, b, "gift.sponsored.updated", gift, "verified")

	// Another brand: its own code's 404, word for word.
	nobody := "ZZZZ2345"
	if nobody == code {
		nobody = "ZZZZ2346"
	}
	missing := sponsorCall(t, srv, http.MethodGet, nobody, otherKey)
	if missing.Status != http.StatusNotFound || missing.Code() != "not_found" {
		t.Fatalf("unknown code: %d %s", missing.Status, missing.Body)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		res := sponsorCall(t, srv, method, code, otherKey)
		if res.Status != http.StatusNotFound || string(res.Body) != string(missing.Body) {
			t.Fatalf("%s another brand's code: %d %s, want the unknown code's %s", method, res.Status, res.Body, missing.Body)
		}
	}
	if res := sponsorCall(t, srv, http.MethodGet, code, key); res.Status != http.StatusOK || res.JSON(t)["claimStage"] != "verified" {
		t.Fatalf("own code after another brand's tries: %d %s", res.Status, res.Body)
	}

	// Keys.
	for name, k := range map[string]string{"none": "", "short": "gsk_x", "wrong": "gsk_" + strings.Repeat("A", 43), "admin token": testAdminToken} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			if res := sponsorCall(t, srv, method, code, k); res.Status != http.StatusUnauthorized || res.Code() != "unauthorized" {
				t.Fatalf("%s key, %s: %d %s", name, method, res.Status, res.Body)
			}
		}
	}

	// Guessing: three unknown codes an hour, then every lookup is refused.
	for i, guess := range []string{"ABCDEFGH", "not-a-code-at-all", "HGFEDCBA"} {
		if res := sponsorCall(t, srv, http.MethodGet, guess, guesserKey); res.Status != http.StatusNotFound {
			t.Fatalf("guess %d: %d %s", i, res.Status, res.Body)
		}
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if res := sponsorCall(t, srv, method, "JKMNPQRS", guesserKey); res.Status != http.StatusTooManyRequests || res.Code() != "rate_limited" {
			t.Fatalf("%s past the allowance: %d %s", method, res.Status, res.Body)
		}
	}
	if n := metric(t, srv, "gisbi_reward_code_misses_total", "brand", guesserID); n != 3 {
		t.Fatalf("misses counted for the guesser: %v", n)
	}
	if n := metric(t, srv, "gisbi_reward_code_misses_total", "brand", otherID); n != 3 {
		t.Fatalf("misses counted for the other brand: %v", n)
	}
	// The brand that owns the code was never limited.
	if res := sponsorCall(t, srv, http.MethodGet, code, key); res.Status != http.StatusOK {
		t.Fatalf("own code: %d %s", res.Status, res.Body)
	}

	// Users and gifts.
	for _, tc := range []struct {
		who     member
		payload map[string]any
		code    string
	}{
		{c, map[string]any{"giftId": gift}, "forbidden"},
		{a, map[string]any{"giftId": "sgg_01hzzzzzzzzzzzzzzzzzzzzzzz"}, "not_found"},
		{a, map[string]any{"giftId": "not an id"}, "not_found"},
		{a, map[string]any{}, "invalid_payload"},
		{a, map[string]any{"giftId": 42}, "invalid_payload"},
	} {
		if f := claimGift(t, tc.who, tc.payload); f.ErrorCode() != tc.code {
			t.Fatalf("claim %v as %s: %s, want %s", tc.payload, tc.who.ID, f.Raw, tc.code)
		}
	}

	// Nothing a client sends grants a gift.
	forged := map[string]any{"giftId": "sgg_01hforgedforgedforgedforg", "campaignId": camp, "userAId": a.ID, "userBId": b.ID, "claimStage": "granted"}
	for typ, code := range map[string]string{
		"gift.sponsored.granted": "unknown_type",
		"gift.sponsored.updated": "unknown_type",
		"gift.grant":             "unknown_type",
		"gift.create":            "peer_gifts_disabled",
		"gift.redeem":            "peer_gifts_disabled",
	} {
		id := nextID("forge")
		a.ws.Send(typ, forged, id)
		if f := a.ws.ExpectReplyAny(id); f.ErrorCode() != code {
			t.Fatalf("%s: %s, want %s", typ, f.Raw, code)
		}
	}
	if gifts, _ := historyGifts(t, b, nil); len(gifts) != 1 || gifts[0]["giftId"] != gift {
		t.Fatalf("b's gifts after forged frames: %v", gifts)
	}
	b.ws.NoFrame("gift.sponsored.granted", 100*time.Millisecond)
	if v := admin(t, srv, http.MethodGet, "/admin/campaigns/"+camp, nil).JSON(t); num(v["granted"]) != 2 {
		t.Fatalf("campaign after forged frames: %v", v)
	}
}

// TestRewardOperatorAPI: the operator API validates every field by name,
// needs its token, and a campaign's status and stock decide what it grants.
func TestRewardOperatorAPI(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	brandID, _ := brand(t, srv, "Operator Lounge")
	valid := func() map[string]any {
		return map[string]any{
			"brandId": brandID, "title": "T", "description": "D", "terms": "", "triggerType": "connectionAccepted",
			"minTotalTogetherMinutes": 0, "minDistinctQualifyingDays": 0, "requireActiveProximityForClaim": false,
			"rewardTtl": "72h", "codeTtl": "30m",
		}
	}
	for _, tc := range []struct {
		name  string
		edit  map[string]any // nil value: delete the field
		field string         // named in the message
	}{
		{"no brandId", map[string]any{"brandId": nil}, "brandId"},
		{"no title", map[string]any{"title": nil}, "title"},
		{"blank title", map[string]any{"title": "   "}, "title"},
		{"no description", map[string]any{"description": nil}, "description"},
		{"no terms", map[string]any{"terms": nil}, "terms"},
		{"no triggerType", map[string]any{"triggerType": nil}, "triggerType"},
		{"bad triggerType", map[string]any{"triggerType": "birthday"}, "triggerType"},
		{"milestone without minutes", map[string]any{"triggerType": "proximityMilestone"}, "milestoneMinutes"},
		{"unconfigured milestone", map[string]any{"triggerType": "proximityMilestone", "milestoneMinutes": 7}, "milestoneMinutes"},
		{"minutes on accept", map[string]any{"milestoneMinutes": 5}, "milestoneMinutes"},
		{"no minTotal", map[string]any{"minTotalTogetherMinutes": nil}, "minTotalTogetherMinutes"},
		{"negative minTotal", map[string]any{"minTotalTogetherMinutes": -1}, "minTotalTogetherMinutes"},
		{"minTotal not a number", map[string]any{"minTotalTogetherMinutes": "five"}, "minTotalTogetherMinutes"},
		{"zero minDaily", map[string]any{"minDailyTogetherMinutes": 0}, "minDailyTogetherMinutes"},
		{"negative days", map[string]any{"minDistinctQualifyingDays": -1}, "minDistinctQualifyingDays"},
		{"no requireActive", map[string]any{"requireActiveProximityForClaim": nil}, "requireActiveProximityForClaim"},
		{"zero stock", map[string]any{"stock": 0}, "stock"},
		{"ends before it starts", map[string]any{"startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"}, "endsAt"},
		{"rewardTtl not a duration", map[string]any{"rewardTtl": "three days"}, "rewardTtl"},
		{"no rewardTtl", map[string]any{"rewardTtl": nil}, "rewardTtl"},
		{"codeTtl too short", map[string]any{"codeTtl": "30s"}, "codeTtl"},
		{"bad image", map[string]any{"rewardImageUrl": "ftp://x/y.png"}, "rewardImageUrl"},
		{"unknown field", map[string]any{"colour": "red"}, "colour"},
	} {
		body := valid()
		for k, v := range tc.edit {
			if v == nil {
				delete(body, k)
			} else {
				body[k] = v
			}
		}
		res := admin(t, srv, http.MethodPost, "/admin/campaigns", body)
		if res.Status != http.StatusBadRequest || res.Code() != "invalid_payload" {
			t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
			continue
		}
		if msg, _ := res.JSON(t)["detail"].(string); !strings.Contains(msg, tc.field) {
			t.Errorf("%s: message %q does not name %s", tc.name, msg, tc.field)
		}
	}
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"brand without a name", map[string]any{"slug": "x"}, "invalid_payload"},
		{"brand with a bad slug", map[string]any{"name": "X", "slug": "Not A Slug"}, "invalid_payload"},
		{"brand with an unknown field", map[string]any{"name": "X", "key": "mine"}, "invalid_payload"},
		{"brand that is not an object", []any{"X"}, "invalid_payload"},
	} {
		if res := admin(t, srv, http.MethodPost, "/admin/brands", tc.body); res.Status != http.StatusBadRequest || res.Code() != tc.code {
			t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
		}
	}
	unknown := valid()
	unknown["brandId"] = "brand_01hzzzzzzzzzzzzzzzzzzzzzzz"
	if res := admin(t, srv, http.MethodPost, "/admin/campaigns", unknown); res.Status != http.StatusNotFound || res.Code() != "not_found" {
		t.Errorf("unknown brand: %d %s", res.Status, res.Body)
	}
	if res := admin(t, srv, http.MethodGet, "/admin/campaigns/camp_nope", nil); res.Status != http.StatusNotFound {
		t.Errorf("unknown campaign: %d %s", res.Status, res.Body)
	}
	for _, tok := range []string{"", "operator-token-for-tests-but-wrong", "short"} {
		for _, r := range []struct{ method, path string }{
			{http.MethodPost, "/admin/brands"}, {http.MethodPost, "/admin/campaigns"}, {http.MethodGet, "/admin/campaigns"},
		} {
			if res := srv.Do(r.method, r.path, tok, valid()); res.Status != http.StatusUnauthorized || res.Code() != "unauthorized" {
				t.Errorf("token %q %s %s: %d %s", tok, r.method, r.path, res.Status, res.Body)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Status and stock. control grants on every accept, so each accept's
	// grant pass is known to be over once its gift arrives: whatever
	// else that pass granted is stored by then.
	control := campaign(t, srv, brandID, map[string]any{"title": "Always on"})
	paused := campaign(t, srv, brandID, map[string]any{"title": "Paused for a while"})
	one := campaign(t, srv, brandID, map[string]any{"title": "Only one", "stock": 1})
	if v := admin(t, srv, http.MethodGet, "/admin/campaigns/"+one, nil).JSON(t); num(v["remaining"]) != 1 || v["status"] != "active" || num(v["stock"]) != 1 {
		t.Fatalf("new campaign with stock: %v", v)
	}
	patch := func(id, status string) map[string]any {
		t.Helper()
		res := admin(t, srv, http.MethodPatch, "/admin/campaigns/"+id, map[string]any{"status": status})
		if res.Status != http.StatusOK {
			t.Fatalf("patch %s: %d %s", status, res.Status, res.Body)
		}
		return res.JSON(t)
	}
	if res := admin(t, srv, http.MethodPatch, "/admin/campaigns/"+paused, map[string]any{"status": "sleeping"}); res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "status") {
		t.Fatalf("patch to a bad status: %d %s", res.Status, res.Body)
	}
	if v := patch(paused, "paused"); v["status"] != "paused" {
		t.Fatalf("paused: %v", v)
	}

	campaignsOf := func(m member) map[string]bool {
		t.Helper()
		gifts, _ := historyGifts(t, m, nil)
		out := map[string]bool{}
		for _, g := range gifts {
			out[g["campaignId"].(string)] = true
		}
		return out
	}
	a, b := joinAs(t, srv, "op-a"), joinAs(t, srv, "op-b")
	pairUp(t, a, b)
	grantOf(t, a, control)
	if got := campaignsOf(a); len(got) != 2 || !got[control] || !got[one] {
		t.Fatalf("gifts while paused: %v", got)
	}

	if v := patch(paused, "active"); v["status"] != "active" {
		t.Fatalf("resumed: %v", v)
	}
	c, d := joinAs(t, srv, "op-c"), joinAs(t, srv, "op-d")
	pairUp(t, c, d)
	grantOf(t, c, control)
	grantOf(t, c, paused)
	if got := campaignsOf(d); len(got) != 2 || !got[control] || !got[paused] {
		t.Fatalf("gifts once resumed, stock gone: %v", got)
	}

	// An ended campaign is final.
	ended := campaign(t, srv, brandID, map[string]any{"title": "Over and done"})
	if v := patch(ended, "ended"); v["status"] != "ended" {
		t.Fatalf("ended: %v", v)
	}
	if res := admin(t, srv, http.MethodPatch, "/admin/campaigns/"+ended, map[string]any{"status": "active"}); res.Status != http.StatusBadRequest || res.Code() != "invalid_payload" {
		t.Fatalf("reviving an ended campaign: %d %s", res.Status, res.Body)
	}
	if res := admin(t, srv, http.MethodPatch, "/admin/campaigns/camp_nope", map[string]any{"status": "paused"}); res.Status != http.StatusNotFound {
		t.Fatalf("patching an unknown campaign: %d %s", res.Status, res.Body)
	}

	list := admin(t, srv, http.MethodGet, "/admin/campaigns", nil)
	if list.Status != http.StatusOK {
		t.Fatalf("list: %d %s", list.Status, list.Body)
	}
	byID := map[string]map[string]any{}
	for _, v := range list.JSON(t)["campaigns"].([]any) {
		m := v.(map[string]any)
		byID[m["campaignId"].(string)] = m
	}
	want := map[string]struct {
		granted   int
		remaining any
	}{control: {2, nil}, paused: {1, nil}, one: {1, 0.0}}
	if len(byID) != 4 || byID[ended]["status"] != "ended" {
		t.Fatalf("listed %d campaigns: %v", len(byID), byID)
	}
	for id, w := range want {
		v := byID[id]
		if v == nil || num(v["granted"]) != w.granted || v["remaining"] != w.remaining || v["status"] != "active" {
			t.Errorf("campaign %s: %v, want granted %d remaining %v", id, v, w.granted, w.remaining)
		}
	}
}

// TestRewardHistoryPaging: history pages newest first; following the
// cursors lists every gift exactly once while new gifts are granted, and
// the last page has no cursor. Bootstrap carries the first page.
func TestRewardHistoryPaging(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	brandID, _ := brand(t, srv, "Many Gifts")
	var camps []string
	for i := range 5 {
		camps = append(camps, campaign(t, srv, brandID, map[string]any{"title": fmt.Sprintf("Gift %d", i)}))
	}
	u := joinAs(t, srv, "popular")
	accept := func(handle string) {
		t.Helper()
		p := joinAs(t, srv, handle)
		pairUp(t, u, p)
		for _, c := range camps {
			grantOf(t, u, c)
		}
	}
	for i := range 5 {
		accept(fmt.Sprintf("friend-%d", i))
	}
	// 25 gifts.

	seen := map[string]bool{}
	var order []string
	var cursor any
	pages := 0
	for {
		payload := map[string]any{"limit": 10}
		if cursor != nil {
			payload["cursor"] = cursor
		}
		gifts, next := historyGifts(t, u, payload)
		pages++
		for _, g := range gifts {
			id := g["giftId"].(string)
			if seen[id] {
				t.Fatalf("gift %s listed twice", id)
			}
			seen[id] = true
			order = append(order, id)
		}
		if next == nil {
			if len(gifts) == 0 {
				t.Fatalf("the last page is empty: a cursor led nowhere")
			}
			break
		}
		if len(gifts) != 10 {
			t.Fatalf("page %d has %d gifts and a cursor", pages, len(gifts))
		}
		cursor = next
		if pages == 1 {
			accept("late-friend") // 5 newer gifts, granted mid-paging
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(order) != 25 || pages != 3 {
		t.Fatalf("paged %d gifts over %d pages, want the 25 there were when paging began, over 3", len(order), pages)
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] <= order[i] {
			t.Fatalf("not newest first at %d: %s then %s", i, order[i-1], order[i])
		}
	}
	all, next := historyGifts(t, u, map[string]any{"limit": 100})
	if len(all) != 30 || next != nil {
		t.Fatalf("all gifts: %d, next %v", len(all), next)
	}
	for i, g := range all[5:] {
		if g["giftId"] != order[i] {
			t.Fatalf("a full page disagrees with the paged order at %d", i)
		}
	}
	if def, next := historyGifts(t, u, nil); len(def) != 20 || next == nil {
		t.Fatalf("default page: %d gifts, next %v", len(def), next)
	}

	for _, p := range []map[string]any{
		{"cursor": "zzz"},
		{"cursor": base64.RawURLEncoding.EncodeToString([]byte("junk that is no cursor"))},
		{"cursor": base64.RawURLEncoding.EncodeToString([]byte("g1:user_01"))},
		{"cursor": strings.Repeat("a", 500)},
		{"limit": 0},
		{"limit": 101},
		{"limit": -1},
		{"limit": "ten"},
	} {
		if f := historyPage(t, u, p); f.ErrorCode() != "invalid_payload" {
			t.Errorf("history %v: %s", p, f.Raw)
		}
	}

	boot := u.Dial().Start()
	first, _ := boot["sponsoredGifts"].([]any)
	cur, _ := boot["sponsoredGiftsNextCursor"].(string)
	if len(first) != 20 || cur == "" {
		t.Fatalf("bootstrap: %d gifts, cursor %v", len(first), boot["sponsoredGiftsNextCursor"])
	}
	for i, g := range first {
		if g.(map[string]any)["giftId"] != all[i]["giftId"] {
			t.Fatalf("bootstrap gift %d is not the history's", i)
		}
	}
	rest, next := historyGifts(t, u, map[string]any{"cursor": cur, "limit": 20})
	if len(rest) != 10 || next != nil || rest[0]["giftId"] != all[20]["giftId"] {
		t.Fatalf("after the bootstrap's cursor: %d gifts, next %v", len(rest), next)
	}
}

// TestRewardGrantOncePerPairAndStock: a campaign's stock is never
// oversold when many pairs are accepted at once, campaigns outside their
// window grant nothing, and a pair that closes and connects again gets no
// second gift of a campaign it already had.
func TestRewardGrantOncePerPairAndStock(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	brandID, _ := brand(t, srv, "Scarce Goods")
	control := campaign(t, srv, brandID, map[string]any{"title": "Always on", "venueName": "The Annex"})
	scarce := campaign(t, srv, brandID, map[string]any{"title": "Three only", "stock": 3})
	later := campaign(t, srv, brandID, map[string]any{"title": "Not yet", "startsAt": time.Now().Add(time.Hour).Format(time.RFC3339)})
	over := campaign(t, srv, brandID, map[string]any{"title": "Over", "endsAt": time.Now().Add(-time.Hour).Format(time.RFC3339)})

	// Eight requests, then eight accepts sent without waiting: the grant
	// passes of eight pairs run at once.
	const n = 8
	var senders, accepters []member
	var reqs []string
	for i := range n {
		s, r := joinAs(t, srv, fmt.Sprintf("stock-s%d", i)), joinAs(t, srv, fmt.Sprintf("stock-r%d", i))
		senders, accepters = append(senders, s), append(accepters, r)
		reqs = append(reqs, send(t, s, r))
	}
	for i, r := range accepters {
		r.ws.Send("connection.request.accept", map[string]any{"requestId": reqs[i]}, "acc")
	}
	scarceGifts := 0
	for i, s := range senders {
		accepters[i].ws.ExpectReply("connection.request.accept", "acc")
		g := grantOf(t, s, control)
		if g["venueName"] != "The Annex" {
			t.Fatalf("venueName: %v", g["venueName"])
		}
		gifts, _ := historyGifts(t, s, nil)
		for _, g := range gifts {
			switch g["campaignId"] {
			case scarce:
				scarceGifts++
				if g["venueName"] != "Scarce Goods" {
					t.Fatalf("venueName without one set: %v, want the brand's name", g["venueName"])
				}
			case later, over:
				t.Fatalf("granted outside its window: %v", g)
			}
		}
	}
	if scarceGifts != 3 {
		t.Fatalf("%d gifts of a campaign with stock 3", scarceGifts)
	}
	if v := admin(t, srv, http.MethodGet, "/admin/campaigns/"+scarce, nil).JSON(t); num(v["granted"]) != 3 || num(v["remaining"]) != 0 {
		t.Fatalf("scarce campaign: %v", v)
	}
	for _, c := range []string{later, over} {
		if v := admin(t, srv, http.MethodGet, "/admin/campaigns/"+c, nil).JSON(t); num(v["granted"]) != 0 {
			t.Fatalf("campaign outside its window: %v", v)
		}
	}

	// The first pair closes (its gift is cancelled) and connects again: a
	// campaign created meanwhile grants, the one it had does not.
	a, b := senders[0], accepters[0]
	conn := b.ws.ExpectPush("gift.sponsored.granted", 5*time.Second).Map(t)["connectionId"].(string)
	a.ws.Send("connection.close", map[string]any{"connectionId": conn}, "cls")
	a.ws.ExpectReply("connection.close", "cls")
	giftPush(t, a, "gift.sponsored.updated", "", "cancelled")
	fresh := campaign(t, srv, brandID, map[string]any{"title": "Fresh"})
	conn2 := pairUp(t, a, b)
	if conn2 == conn {
		t.Fatalf("reconnected on the same connection %s", conn)
	}
	grantOf(t, a, fresh)
	gifts, _ := historyGifts(t, a, nil)
	count := map[any]int{}
	for _, g := range gifts {
		count[g["campaignId"]]++
	}
	if count[fresh] != 1 || count[control] != 1 {
		t.Fatalf("gifts after reconnecting: %v", count)
	}
	if v := admin(t, srv, http.MethodGet, "/admin/campaigns/"+control, nil).JSON(t); num(v["granted"]) != n {
		t.Fatalf("control campaign: %v", v)
	}
}
