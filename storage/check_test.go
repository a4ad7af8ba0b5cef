package storage

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// testID is a store's id rule for the tests: CheckID with a small limit.
func testID(what, v string) error { return CheckID(what, v, 16) }

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		ok      bool
	}{
		{"plain", "u1", true},
		{"at the limit", strings.Repeat("a", 16), true},
		{"empty", "", false},
		{"over the limit", strings.Repeat("a", 17), false},
		{"NUL", "u\x001", false},
	} {
		t.Run(tc.name, func(t *testing.T) { wantValid(t, CheckID("id", tc.v, 16), tc.ok) })
	}
}

func TestCheckLimit(t *testing.T) {
	for _, tc := range []struct {
		limit int
		ok    bool
	}{{1, true}, {100, true}, {0, false}, {-1, false}} {
		wantValid(t, CheckLimit("page", tc.limit), tc.ok)
	}
}

func TestCheckPair(t *testing.T) {
	good := func() *Pair {
		return &Pair{
			ID: PairID("u1", "u2"), UserA: "u1", UserB: "u2",
			Requests:    []Request{{ID: "r1", FromUserID: "u1", ToUserID: "u2"}, {ID: "r2", FromUserID: "u2", ToUserID: "u1"}},
			Connections: []Connection{{ID: "c1", SenderID: "u2", ReceiverID: "u1"}},
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(p *Pair) *Pair
		valid bool
	}{
		{"valid", func(p *Pair) *Pair { return p }, true},
		{"no requests", func(p *Pair) *Pair { p.Requests, p.Connections = nil, nil; return p }, true},
		{"nil", func(*Pair) *Pair { return nil }, false},
		{"empty user", func(p *Pair) *Pair { p.UserA, p.ID = "", PairID("", "u2"); return p }, false},
		{"user too long", func(p *Pair) *Pair { p.UserA = strings.Repeat("a", 17); p.ID = PairID(p.UserA, "u2"); return p }, false},
		{"user with separator", func(p *Pair) *Pair { p.UserA, p.ID = "u|1", PairID("u|1", "u2"); return p }, false},
		{"same users", func(p *Pair) *Pair { p.UserB, p.ID = "u1", PairID("u1", "u1"); return p }, false},
		{"id not of its users", func(p *Pair) *Pair { p.ID = "u2|u1"; return p }, false},
		{"empty request id", func(p *Pair) *Pair { p.Requests[0].ID = ""; return p }, false},
		{"request twice", func(p *Pair) *Pair { p.Requests[1].ID = "r1"; return p }, false},
		{"request to a third user", func(p *Pair) *Pair { p.Requests[1].ToUserID = "u3"; return p }, false},
		{"bad connection id", func(p *Pair) *Pair { p.Connections[0].ID = "c\x00"; return p }, false},
		{"connection twice", func(p *Pair) *Pair { p.Connections = append(p.Connections, p.Connections[0]); return p }, false},
		{"connection to itself", func(p *Pair) *Pair { p.Connections[0].ReceiverID = "u2"; return p }, false},
		{"request and connection may share an id", func(p *Pair) *Pair { p.Connections[0].ID = "r1"; return p }, true},
	} {
		t.Run(tc.name, func(t *testing.T) { wantValid(t, CheckPair(tc.edit(good()), testID), tc.valid) })
	}
}

func TestCheckMessage(t *testing.T) {
	read := time.Unix(200, 0)
	good := func() *Message {
		return &Message{ID: "m1", PairID: PairID("u1", "u2"), Seq: 1, SenderID: "u2", RecipientID: "u1",
			Content: "hi", CreatedAt: time.Unix(100, 0)}
	}
	for _, tc := range []struct {
		name  string
		edit  func(m *Message) *Message
		valid bool
	}{
		{"valid", func(m *Message) *Message { return m }, true},
		{"nil", func(*Message) *Message { return nil }, false},
		{"empty id", func(m *Message) *Message { m.ID = ""; return m }, false},
		{"empty sender", func(m *Message) *Message { m.SenderID = ""; return m }, false},
		{"recipient too long", func(m *Message) *Message { m.RecipientID = strings.Repeat("a", 17); return m }, false},
		{"sender with separator", func(m *Message) *Message { m.SenderID = "u|2"; m.PairID = PairID("u|2", "u1"); return m }, false},
		{"to itself", func(m *Message) *Message { m.RecipientID = "u2"; m.PairID = PairID("u2", "u2"); return m }, false},
		{"wrong pair", func(m *Message) *Message { m.PairID = "u1|u3"; return m }, false},
		{"seq 0", func(m *Message) *Message { m.Seq = 0; return m }, false},
		{"no content", func(m *Message) *Message { m.Content = ""; return m }, false},
		{"no time", func(m *Message) *Message { m.CreatedAt = time.Time{}; return m }, false},
		{"already read", func(m *Message) *Message { m.ReadAt = &read; return m }, false},
	} {
		t.Run(tc.name, func(t *testing.T) { wantValid(t, CheckMessage(tc.edit(good()), testID), tc.valid) })
	}
}

func TestCheckBrand(t *testing.T) {
	hash := strings.Repeat("0a", 32)
	for _, tc := range []struct {
		name  string
		b     *Brand
		valid bool
	}{
		{"valid", &Brand{ID: "b1", Slug: "acme", KeyHash: hash}, true},
		{"nil", nil, false},
		{"empty id", &Brand{Slug: "acme", KeyHash: hash}, false},
		{"empty slug", &Brand{ID: "b1", KeyHash: hash}, false},
		{"short hash", &Brand{ID: "b1", Slug: "acme", KeyHash: hash[2:]}, false},
		{"uppercase hash", &Brand{ID: "b1", Slug: "acme", KeyHash: strings.ToUpper(hash)}, false},
		{"raw key", &Brand{ID: "b1", Slug: "acme", KeyHash: strings.Repeat("k", 64)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { wantValid(t, CheckBrand(tc.b, testID), tc.valid) })
	}
}

func TestCheckCampaign(t *testing.T) {
	zero, minus := 0, -1
	for _, tc := range []struct {
		name  string
		c     *Campaign
		valid bool
	}{
		{"valid", &Campaign{ID: "c1", BrandID: "b1", Status: CampaignActive}, true},
		{"out of stock", &Campaign{ID: "c1", BrandID: "b1", Status: CampaignPaused, Stock: &zero}, true},
		{"nil", nil, false},
		{"empty id", &Campaign{BrandID: "b1", Status: CampaignActive}, false},
		{"empty brand", &Campaign{ID: "c1", Status: CampaignActive}, false},
		{"unknown status", &Campaign{ID: "c1", BrandID: "b1", Status: "Active"}, false},
		{"negative stock", &Campaign{ID: "c1", BrandID: "b1", Status: CampaignEnded, Stock: &minus}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { wantValid(t, CheckCampaign(tc.c, testID), tc.valid) })
	}
}

func TestCheckGift(t *testing.T) {
	good := func() *Gift {
		return &Gift{ID: "g1", CampaignID: "c1", BrandID: "b1", PairID: PairID("u1", "u2"),
			UserA: "u1", UserB: "u2", Stage: GiftGranted}
	}
	for _, tc := range []struct {
		name  string
		edit  func(g *Gift) *Gift
		valid bool
	}{
		{"valid", func(g *Gift) *Gift { return g }, true},
		{"with a code", func(g *Gift) *Gift { g.Code = "CODE1"; return g }, true},
		{"nil", func(*Gift) *Gift { return nil }, false},
		{"empty id", func(g *Gift) *Gift { g.ID = ""; return g }, false},
		{"empty campaign", func(g *Gift) *Gift { g.CampaignID = ""; return g }, false},
		{"empty brand", func(g *Gift) *Gift { g.BrandID = ""; return g }, false},
		{"empty user", func(g *Gift) *Gift { g.UserB = ""; return g }, false},
		{"empty pair", func(g *Gift) *Gift { g.PairID = ""; return g }, false},
		{"user with separator", func(g *Gift) *Gift { g.UserA, g.PairID = "u|1", PairID("u|1", "u2"); return g }, false},
		{"same users", func(g *Gift) *Gift { g.UserB, g.PairID = "u1", PairID("u1", "u1"); return g }, false},
		{"pair of other users", func(g *Gift) *Gift { g.PairID = PairID("u1", "u3"); return g }, false},
		{"unknown stage", func(g *Gift) *Gift { g.Stage = "lost"; return g }, false},
		{"bad code", func(g *Gift) *Gift { g.Code = strings.Repeat("C", 17); return g }, false},
	} {
		t.Run(tc.name, func(t *testing.T) { wantValid(t, CheckGift(tc.edit(good()), testID), tc.valid) })
	}
}

func TestCheckReport(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     *Report
		valid bool
	}{
		{"valid", &Report{ID: "r1", ReporterID: "u1", ReportedUserID: "u2"}, true},
		{"nil", nil, false},
		{"empty id", &Report{ReporterID: "u1", ReportedUserID: "u2"}, false},
		{"empty reporter", &Report{ID: "r1", ReportedUserID: "u2"}, false},
		{"reported user with NUL", &Report{ID: "r1", ReporterID: "u1", ReportedUserID: "u\x002"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { wantValid(t, CheckReport(tc.r, testID), tc.valid) })
	}
}

func TestCheckReportUpdate(t *testing.T) {
	wantValid(t, CheckReportUpdate(&Report{ID: "r1"}, testID), true)
	wantValid(t, CheckReportUpdate(nil, testID), false)
	wantValid(t, CheckReportUpdate(&Report{ReporterID: "u1"}, testID), false)
}

func TestCheckUser(t *testing.T) {
	name, empty, long := "alice", "", strings.Repeat("a", 17)
	for _, tc := range []struct {
		name  string
		u     *User
		valid bool
	}{
		{"valid", &User{ID: "u1", Provider: "google", Subject: "s1", Username: &name}, true},
		{"no username", &User{ID: "u1", Provider: "google", Subject: "s1"}, true},
		{"empty username", &User{ID: "u1", Provider: "google", Subject: "s1", Username: &empty}, true},
		{"nil", nil, false},
		{"empty id", &User{Provider: "google", Subject: "s1"}, false},
		{"empty provider", &User{ID: "u1", Subject: "s1"}, false},
		{"empty subject", &User{ID: "u1", Provider: "google"}, false},
		{"username too long", &User{ID: "u1", Provider: "google", Subject: "s1", Username: &long}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { wantValid(t, CheckUser(tc.u, testID), tc.valid) })
	}
}

func TestCheckToken(t *testing.T) {
	next := &RefreshToken{ID: "t2", Family: "f1", UserID: "u1"}
	for _, tc := range []struct {
		name  string
		old   string
		next  *RefreshToken
		valid bool
	}{
		{"valid", "t1", next, true},
		{"nil next", "t1", nil, false},
		{"empty old id", "", next, false},
		{"same id", "t2", next, false},
		{"next without family", "t1", &RefreshToken{ID: "t2", UserID: "u1"}, false},
		{"next without user", "t1", &RefreshToken{ID: "t2", Family: "f1"}, false},
		{"next without id", "t1", &RefreshToken{Family: "f1", UserID: "u1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantValid(t, CheckRotation(tc.old, tc.next, testID), tc.valid)
			if tc.old != "" && (tc.next == nil || tc.next.ID != tc.old) {
				wantValid(t, CheckToken(tc.next, testID), tc.valid)
			}
		})
	}
}

func TestCheckReader(t *testing.T) {
	for _, tc := range []struct {
		name, pair, reader string
		valid              bool
	}{
		{"user a", "u1|u2", "u1", true},
		{"user b", "u1|u2", "u2", true},
		{"a third user", "u1|u2", "u3", false},
		{"empty reader", "u1|u2", "", false},
		{"no separator", "u1u2", "u1", false},
		{"empty user", "|u2", "u2", false},
		{"three users", "u1|u2|u3", "u1", false},
		{"unordered", "u2|u1", "u1", false},
		{"same user twice", "u1|u1", "u1", false},
	} {
		t.Run(tc.name, func(t *testing.T) { wantValid(t, CheckReader(tc.pair, tc.reader, testID), tc.valid) })
	}
}

// wantValid fails unless err is nil when valid, and wraps ErrInvalid when not.
func wantValid(t *testing.T, err error, valid bool) {
	t.Helper()
	switch {
	case valid && err != nil:
		t.Errorf("refused a valid input: %v", err)
	case !valid && err == nil:
		t.Error("accepted an invalid input")
	case !valid && !errors.Is(err, ErrInvalid):
		t.Errorf("error %v does not wrap ErrInvalid", err)
	}
}
