package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gisbi/engine/auth/authtest"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

const testAdminToken = "operator-token-for-tests"

func withAdmin(c *config.Config) { c.AdminToken = testAdminToken }

// brand creates a brand through the operator API and returns its id and
// sponsor key.
func brand(t testing.TB, srv *servertest.Server, name string) (id, key string) {
	t.Helper()
	res := srv.Do(http.MethodPost, "/admin/brands", testAdminToken, map[string]any{"name": name, "category": "lounge"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create brand: %d %s", res.Status, res.Body)
	}
	m := res.JSON(t)
	return m["brandId"].(string), m["sponsorKey"].(string)
}

// campaign creates a campaign for brandID with the given fields over a
// permissive default rule and returns its id.
func campaign(t testing.TB, srv *servertest.Server, brandID string, fields map[string]any) string {
	t.Helper()
	body := map[string]any{
		"brandId": brandID, "title": "Date Night Reward", "description": "Free appetizer and two mocktails",
		"terms": "Valid while stock lasts", "triggerType": "connectionAccepted",
		"minTotalTogetherMinutes": 0, "minDistinctQualifyingDays": 0, "requireActiveProximityForClaim": false,
		"rewardTtl": "72h", "codeTtl": "30m",
	}
	for k, v := range fields {
		if v == nil {
			delete(body, k)
			continue
		}
		body[k] = v
	}
	res := srv.Do(http.MethodPost, "/admin/campaigns", testAdminToken, body)
	if res.Status != http.StatusCreated {
		t.Fatalf("create campaign: %d %s", res.Status, res.Body)
	}
	return res.JSON(t)["campaignId"].(string)
}

func TestRewardGrantClaimRedeem(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	brandID, key := brand(t, srv, "Skyline Lounge")
	_, otherKey := brand(t, srv, "Northline Coffee")
	camp := campaign(t, srv, brandID, nil)
	a, b := joinAs(t, srv, "alpha"), joinAs(t, srv, "bravo")

	conn := pairUp(t, a, b)
	ga := a.ws.ExpectPush("gift.sponsored.granted", 5*time.Second).Map(t)
	gb := b.ws.ExpectPush("gift.sponsored.granted", 5*time.Second).Map(t)
	if ga["giftId"] != gb["giftId"] || ga["connectionId"] != conn || ga["campaignId"] != camp {
		t.Fatalf("granted: %v / %v", ga, gb)
	}
	if ga["partnerUserId"] != b.ID || gb["partnerUserId"] != a.ID || ga["claimStage"] != "granted" || ga["historyStatus"] != "available" {
		t.Fatalf("granted as seen: %v / %v", ga, gb)
	}
	gift := ga["giftId"].(string)

	a.ws.Send("gift.claim", map[string]any{"giftId": gift}, "c1")
	claimed := a.ws.ExpectReply("gift.claim", "c1").Map(t)
	code, _ := claimed["redemptionCode"].(string)
	if claimed["claimStage"] != "verified" || len(code) != 8 {
		t.Fatalf("claimed: %v", claimed)
	}
	up := b.ws.ExpectPush("gift.sponsored.updated", 5*time.Second).Map(t)
	if up["redemptionCode"] != code {
		t.Fatalf("partner's update: %v", up)
	}

	if res := servertest.Do(t, srv.URL, http.MethodGet, "/sponsor/redemptions/"+code, otherKey, nil); res.Status != http.StatusNotFound {
		t.Fatalf("other brand's lookup: %d %s", res.Status, res.Body)
	}
	res := servertest.Do(t, srv.URL, http.MethodGet, "/sponsor/redemptions/"+code, key, nil)
	if res.Status != http.StatusOK || res.JSON(t)["claimStage"] != "verified" {
		t.Fatalf("lookup: %d %s", res.Status, res.Body)
	}
	res = servertest.Do(t, srv.URL, http.MethodPost, "/sponsor/redemptions/"+code+"/redeem", key, nil)
	if res.Status != http.StatusOK || res.JSON(t)["claimStage"] != "redeemed" {
		t.Fatalf("redeem: %d %s", res.Status, res.Body)
	}
	res = servertest.Do(t, srv.URL, http.MethodPost, "/sponsor/redemptions/"+code+"/redeem", key, nil)
	if res.Status != http.StatusConflict || res.Code() != "already_redeemed" {
		t.Fatalf("redeem twice: %d %s", res.Status, res.Body)
	}
	a.ws.ExpectPushWhere("gift.sponsored.updated", 5*time.Second, func(f *servertest.Frame) bool { return f.Map(t)["claimStage"] == "redeemed" })

	a.ws.Send("gift.history.fetch", map[string]any{"limit": 10}, "h")
	h := a.ws.ExpectReply("gift.history.fetch", "h").Map(t)
	gifts := h["sponsoredGifts"].([]any)
	if len(gifts) != 1 || gifts[0].(map[string]any)["historyStatus"] != "claimed" || h["nextCursor"] != nil {
		t.Fatalf("history: %v", h)
	}
	c := srv.Do(http.MethodGet, "/admin/campaigns/"+camp, testAdminToken, nil).JSON(t)
	if c["granted"] != 1.0 || c["redeemed"] != 1.0 || c["remaining"] != nil {
		t.Fatalf("campaign: %v", c)
	}
}

// A user with no socket open hears of a new gift by push; the one online
// gets the event and no push.
func TestRewardGrantPushesOfflineUser(t *testing.T) {
	fcm := newFakeFCM(t)
	saPath, _ := authtest.WriteServiceAccount(t)
	srv := servertest.Start(t, withAdmin, func(c *config.Config) {
		c.FCMCredentialsFile = saPath
		c.FCMEndpoint = fcm.srv.URL
		c.FCMTokenURL = fcm.srv.URL + "/token"
		c.PushRetries = 0
	})
	brandID, _ := brand(t, srv, "Skyline Lounge")
	campaign(t, srv, brandID, map[string]any{"title": "Two mocktails"})
	a := joinAs(t, srv, "push-grant-a")
	b := srv.Login("push-grant-b") // never opens a socket
	for _, u := range []*servertest.User{a.User, b} {
		if res := u.Do(http.MethodPost, "/devices/register", map[string]string{"token": "tok-" + u.ID, "platform": "android"}); res.Status != 200 {
			t.Fatalf("register: %d %s", res.Status, res.Body)
		}
	}
	a.ws.Send("connection.request.send", map[string]any{"userId": b.ID}, "snd")
	a.ws.ExpectReply("connection.request.send", "snd")
	if res := b.Do(http.MethodPost, "/connections/"+a.ID+"/accept", nil); res.Status != http.StatusOK {
		t.Fatalf("accept over REST: %d %s", res.Status, res.Body)
	}
	a.ws.ExpectPush("gift.sponsored.granted", 5*time.Second)
	var grant map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for grant == nil && time.Now().Before(deadline) {
		for _, m := range fcm.messages() {
			if d, _ := m["data"].(map[string]any); d["kind"] == "reward" {
				grant = m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if grant == nil {
		t.Fatalf("no reward push; pushes: %v", fcm.messages())
	}
	n := grant["notification"].(map[string]any)
	if grant["token"] != "tok-"+b.ID || n["title"] != "Skyline Lounge: Two mocktails" || grant["data"].(map[string]any)["giftId"] == "" {
		t.Fatalf("reward push = %v", grant)
	}
	for _, m := range fcm.messages() {
		if m["token"] == "tok-"+a.ID && m["data"].(map[string]any)["kind"] == "reward" {
			t.Fatalf("the online user was pushed: %v", m)
		}
	}
}
