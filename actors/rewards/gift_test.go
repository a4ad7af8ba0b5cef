package rewards

import (
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

var t0 = time.Date(2026, 4, 20, 12, 0, 0, 0, time.UTC)

func testGift() storage.Gift {
	return storage.Gift{
		ID: "sgg_1", CampaignID: "camp_1", BrandID: "brand_1", PairID: "a|b", ConnectionID: "conn_1", UserA: "a", UserB: "b",
		TriggerType: protocol.TriggerConnectionAccepted, CodeTTL: 30 * time.Minute,
		Stage: storage.GiftGranted, CreatedAt: t0, ExpiresAt: t0.Add(72 * time.Hour),
	}
}

var met = Eligibility{RuleMet: true}

func codeOf(t *testing.T, err *protocol.Error) protocol.Code {
	t.Helper()
	if err == nil {
		return ""
	}
	return err.Code
}

func TestClaim(t *testing.T) {
	verified := testGift()
	_, _ = Claim(&verified, "a", met, "CODE2345", t0)
	redeemed := verified
	_, _ = Redeem(&redeemed, "CODE2345", true, t0)
	cancelled := testGift()
	Cancel(&cancelled, "blocked", t0)
	cases := []struct {
		name    string
		gift    storage.Gift
		e       Eligibility
		at      time.Time
		code    protocol.Code
		changed bool
		stage   string
	}{
		{"granted and met: verified", testGift(), met, t0.Add(time.Hour), "", true, storage.GiftVerified},
		{"rule not met", testGift(), Eligibility{}, t0, protocol.CodeGiftNotClaimable, false, storage.GiftGranted},
		{"past its expiry", testGift(), met, t0.Add(72 * time.Hour), protocol.CodeGiftNotClaimable, false, storage.GiftExpired},
		{"already verified: unchanged", verified, met, t0.Add(time.Minute), "", false, storage.GiftVerified},
		{"verified, code ran out: claimed again", verified, met, t0.Add(31 * time.Minute), "", true, storage.GiftVerified},
		{"redeemed", redeemed, met, t0, protocol.CodeAlreadyRedeemed, false, storage.GiftRedeemed},
		{"cancelled", cancelled, met, t0, protocol.CodeGiftNotClaimable, false, storage.GiftCancelled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.gift
			changed, perr := Claim(&g, "b", c.e, "NEWC0DE7", c.at)
			if codeOf(t, perr) != c.code || changed != c.changed || g.Stage != c.stage {
				t.Fatalf("Claim = %v, %v, stage %s; want %v, %q, %s", changed, perr, g.Stage, c.changed, c.code, c.stage)
			}
			if c.changed && (g.Code != "NEWC0DE7" || g.ClaimedBy != "b" || !g.CodeExpiresAt.Equal(c.at.Add(30*time.Minute))) {
				t.Fatalf("claimed gift: %+v", g)
			}
			if c.code == protocol.CodeGiftNotClaimable {
				if _, ok := perr.Details.(NotClaimableDetails); !ok {
					t.Fatalf("details = %T", perr.Details)
				}
			}
		})
	}
}

func TestCodeNeverOutlivesItsGift(t *testing.T) {
	g := testGift()
	at := g.ExpiresAt.Add(-10 * time.Minute)
	if _, perr := Claim(&g, "a", met, "ABCDEFGH", at); perr != nil {
		t.Fatal(perr)
	}
	if !g.CodeExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("code expires %v, gift %v", g.CodeExpiresAt, g.ExpiresAt)
	}
}

func TestRedeem(t *testing.T) {
	verified := testGift()
	_, _ = Claim(&verified, "a", met, "GOODC0DE", t0)
	active := verified
	active.RequireActiveProximityForClaim = true
	redeemed := verified
	_, _ = Redeem(&redeemed, "GOODC0DE", false, t0)
	cancelled := verified
	Cancel(&cancelled, "closed", t0)
	cases := []struct {
		name   string
		gift   storage.Gift
		code   string
		active bool
		at     time.Time
		want   protocol.Code
	}{
		{"verified, right code", verified, "GOODC0DE", false, t0.Add(time.Minute), ""},
		{"wrong code", verified, "OTHERC0D", false, t0, protocol.CodeCodeExpired},
		{"code ran out", verified, "GOODC0DE", false, t0.Add(30 * time.Minute), protocol.CodeCodeExpired},
		{"gift expired", verified, "GOODC0DE", false, t0.Add(72 * time.Hour), protocol.CodeCodeExpired},
		{"needs an active run, has none", active, "GOODC0DE", false, t0, protocol.CodeProximityRequired},
		{"needs an active run, has one", active, "GOODC0DE", true, t0, ""},
		{"twice", redeemed, "GOODC0DE", false, t0, protocol.CodeAlreadyRedeemed},
		{"cancelled", cancelled, "GOODC0DE", false, t0, protocol.CodeCodeExpired},
		{"never claimed", testGift(), "GOODC0DE", false, t0, protocol.CodeCodeExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.gift
			before := g
			changed, perr := Redeem(&g, c.code, c.active, c.at)
			if codeOf(t, perr) != c.want {
				t.Fatalf("Redeem = %v, want %q", perr, c.want)
			}
			if c.want == "" && (!changed || g.Stage != storage.GiftRedeemed || !g.RedeemedAt.Equal(c.at)) {
				t.Fatalf("redeemed gift: %+v", g)
			}
			if c.want != "" && (changed || g.Stage != before.Stage) {
				t.Fatalf("a refused redemption changed the gift: %+v", g)
			}
		})
	}
}

func TestTimersAndCancel(t *testing.T) {
	g := testGift()
	if Expire(&g, t0.Add(71*time.Hour)) || g.Stage != storage.GiftGranted {
		t.Fatal("expired early")
	}
	if !Expire(&g, t0.Add(72*time.Hour)) || g.Stage != storage.GiftExpired || g.EndReason != "expired" {
		t.Fatalf("not expired: %+v", g)
	}
	if Cancel(&g, "blocked", t0) || g.Stage != storage.GiftExpired {
		t.Fatal("an expired gift was cancelled")
	}

	v := testGift()
	_, _ = Claim(&v, "a", met, "CODE2345", t0)
	if ExpireCode(&v, t0.Add(29*time.Minute)) {
		t.Fatal("code expired early")
	}
	if !ExpireCode(&v, t0.Add(30*time.Minute)) || v.Stage != storage.GiftGranted || v.Code != "" || v.CodeExpiresAt != nil {
		t.Fatalf("code not expired: %+v", v)
	}

	r := testGift()
	_, _ = Claim(&r, "a", met, "CODE2345", t0)
	_, _ = Redeem(&r, "CODE2345", false, t0)
	if Cancel(&r, "closed", t0) || Expire(&r, t0.Add(100*time.Hour)) || r.Stage != storage.GiftRedeemed {
		t.Fatalf("a redeemed gift changed: %+v", r)
	}
}

func TestView(t *testing.T) {
	b := &storage.Brand{ID: "brand_1", Name: "Skyline Lounge", Slug: "skyline-lounge"}
	g := testGift()
	g.MinTotalTogetherMinutes = 10
	partner := protocol.User{ID: "b", Name: "Bola"}
	cases := []struct {
		name    string
		gift    func() storage.Gift
		facts   Facts
		viewer  Viewer
		history string
		status  string
	}{
		{"granted, rule unmet: pending", func() storage.Gift { return g }, Facts{}, Viewer{UserID: "a", Partner: partner}, "pending", "active"},
		{"granted, rule met: available", func() storage.Gift { return g }, Facts{Daily: days("2026-04-20", 10)}, Viewer{UserID: "a", Partner: partner}, "available", "active"},
		{"verified", func() storage.Gift {
			v := g
			_, _ = Claim(&v, "a", met, "CODE2345", t0)
			return v
		}, Facts{}, Viewer{}, "verified", "active"},
		{"cancelled: disqualified", func() storage.Gift {
			c := g
			Cancel(&c, "closed", t0)
			return c
		}, Facts{}, Viewer{UserID: "a", Partner: partner}, "disqualified", "cancelled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := View(c.gift(), b, c.facts, c.viewer, time.UTC, t0)
			if v.HistoryStatus != c.history || v.Status != c.status || v.LegacyStatus != c.status || v.GiftType != "sponsoredPairReward" {
				t.Fatalf("view: history %s status %s legacy %s", v.HistoryStatus, v.Status, v.LegacyStatus)
			}
			if v.VenueName == nil || *v.VenueName != "Skyline Lounge" {
				t.Fatalf("venueName = %v, want the brand's name", v.VenueName)
			}
			if c.viewer.UserID == "" {
				if v.PartnerUserID != nil || v.PartnerClaimableNow != nil {
					t.Fatal("the sponsor's view names a partner")
				}
			} else if *v.PartnerUserID != "b" || *v.PartnerName != "Bola" || *v.PartnerClaimableNow != *v.ClaimableNow {
				t.Fatalf("partner fields: %v %v", *v.PartnerUserID, *v.PartnerName)
			}
			if (v.RedemptionCode != nil) != (c.history == "verified") {
				t.Fatalf("redemptionCode = %v", v.RedemptionCode)
			}
			if v.VerificationContext.Today != "2026-04-20" || v.VerificationContext.DayTimezone != "UTC" {
				t.Fatalf("context: %+v", v.VerificationContext)
			}
		})
	}
}

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		c := newCode()
		if n, ok := NormalizeCode(c); !ok || n != c {
			t.Fatalf("newCode = %q, not a valid code", c)
		}
		if seen[c] {
			t.Fatalf("code %s drawn twice in 2000", c)
		}
		seen[c] = true
	}
	for in, want := range map[string]string{"abcd-efgh": "ABCDEFGH", " 2345 6789 ": "23456789", "ABCDEFG": "", "ABCDEFGO": "", "ABCDEFG1": ""} {
		got, ok := NormalizeCode(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestCursor(t *testing.T) {
	id := "sgg_01jabcdefghjkmnpqrstvwxyz0"
	got, err := DecodeCursor(EncodeCursor(id))
	if err != nil || got != id {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	for _, bad := range []string{"", "zzz", "!!!", EncodeCursor("user_1"), strings.Repeat("A", 200)} {
		if _, err := DecodeCursor(bad); err == nil {
			t.Errorf("DecodeCursor(%q) accepted", bad)
		}
	}
}
