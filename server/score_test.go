package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
)

// scoreOf decodes a score: a REST answer or a score-updated event's data.
func scoreOf(t testing.TB, raw []byte) protocol.Score {
	t.Helper()
	var s protocol.Score
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("not a score: %v: %s", err, raw)
	}
	return s
}

func getScore(t testing.TB, u *servertest.User) protocol.Score {
	t.Helper()
	res := u.Do(http.MethodGet, "/score", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /score: %d %s", res.Status, res.Body)
	}
	return scoreOf(t, res.Body)
}

func completeAction(t testing.TB, u *servertest.User, typ string) protocol.Score {
	t.Helper()
	res := u.Do(http.MethodPost, "/score/actions/"+typ, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("POST /score/actions/%s: %d %s", typ, res.Status, res.Body)
	}
	return scoreOf(t, res.Body)
}

// scoreUpdated waits for the next score-updated event on a legacy socket.
func scoreUpdated(t testing.TB, w *servertest.WS, within time.Duration) protocol.Score {
	t.Helper()
	return scoreOf(t, w.ExpectPushWhere(protocol.EventScoreUpdated, within, func(*servertest.Frame) bool { return true }).Payload)
}

// scoreUntil takes score-updated events until one satisfies ok: a burst
// of chat messages may be counted in one change or several.
func scoreUntil(t testing.TB, w *servertest.WS, ok func(protocol.Score) bool) protocol.Score {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s := scoreUpdated(t, w, time.Until(deadline)); ok(s) {
			return s
		}
	}
	t.Fatal("no matching score-updated")
	return protocol.Score{}
}

func value(s protocol.Score, typ string) int {
	if a := s.Action(typ); a != nil {
		return a.Value
	}
	return -1
}

// scoreReminders lists the Score grains' stored reminders.
func scoreReminders(t testing.TB, srv *servertest.Server) []storage.Reminder {
	t.Helper()
	due, err := srv.Store.Reminders().Due(t.Context(), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.Reminder
	for _, r := range due {
		if r.Kind == cluster.KindScore {
			out = append(out, r)
		}
	}
	return out
}

// The actions the server sees complete themselves for the right users,
// however they were done, and each change reaches the user's legacy
// sockets as score-updated.
func TestScoreObservedActions(t *testing.T) {
	srv := servertest.Start(t)
	a, b := joinBoth(t, srv, "score-a"), joinBoth(t, srv, "score-b")

	// A request sent over /ws: a meet-me request for its sender only.
	a.ws.Send("connection.request.send", map[string]any{"userId": b.ID}, "snd")
	req := a.ws.ExpectReply("connection.request.send", "snd").Map(t)["request"].(map[string]any)["requestId"].(string)
	if s := scoreUpdated(t, a.old, waitEvent); value(s, "create-meetme-request") != 1 || s.TotalScore != 1 {
		t.Fatalf("sender's score after a request: %+v", s)
	}
	if s := getScore(t, b.User); value(s, "create-meetme-request") != 0 || s.TotalScore != 0 {
		t.Fatalf("receiver's score after a request: %+v", s)
	}

	// An accept: a new friend for both.
	b.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	b.ws.ExpectReply("connection.request.accept", "acc")
	for _, m := range []legacyMember{a, b} {
		if s := scoreUpdated(t, m.old, waitEvent); value(s, "add-new-friend") != 1 {
			t.Fatalf("%s's score after the accept: %+v", m.ID, s)
		}
	}

	// Messages: a DM for their sender, counted once each.
	for i, text := range []string{"hi", "there"} {
		id := "m" + string(rune('0'+i))
		a.ws.Send("chat.message.created", map[string]any{"recipientId": b.ID, "content": text}, id)
		a.ws.ExpectReply("chat.message.created", id)
	}
	scoreUntil(t, a.old, func(s protocol.Score) bool { return value(s, "send-dm-message") == 2 })
	got := getScore(t, a.User)
	if value(got, "send-dm-message") != 2 || value(got, "create-meetme-request") != 1 || value(got, "add-new-friend") != 1 ||
		got.TotalScore != 3 || got.Section("social").Score != 0.75 || got.Section("mindfulness").Score != 0 {
		t.Fatalf("sender's score after two messages: %+v", got)
	}
	if s := getScore(t, b.User); value(s, "send-dm-message") != 0 || value(s, "add-new-friend") != 1 || s.TotalScore != 1 {
		t.Fatalf("recipient's score after two messages: %+v", s)
	}

	// A request over the REST of spec 002 counts the same.
	c := srv.Login("score-c")
	cw := c.DialLegacy()
	if res := b.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": "up for a walk"}); res.Status != http.StatusOK {
		t.Fatalf("vibe: %d %s", res.Status, res.Body)
	}
	if res := c.Do(http.MethodPost, "/connections/"+b.ID, nil); res.Status != http.StatusOK {
		t.Fatalf("REST request: %d %s", res.Status, res.Body)
	}
	if s := scoreUpdated(t, cw, waitEvent); value(s, "create-meetme-request") != 1 {
		t.Fatalf("score after a REST request: %+v", s)
	}
}

// Client-side actions are completed over REST; the server's own actions
// and unknown ones are refused without a change or a push.
func TestScoreClientActions(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("score-client")
	w := u.DialLegacy()

	before := time.Now().UTC()
	first := u.Do(http.MethodPost, "/score/actions/focus-video", nil)
	after := time.Now().UTC()
	if first.Status != http.StatusOK {
		t.Fatalf("complete: %d %s", first.Status, first.Body)
	}
	body := string(first.Body)
	if !strings.HasPrefix(body, `{"date":"`) || strings.Index(body, `"social":`) > strings.Index(body, `"mindfulness":`) {
		t.Fatalf("answer out of the spec's order: %s", body)
	}
	s := scoreOf(t, first.Body)
	// Today in UTC, the default day zone (the request may straddle midnight).
	midnight := func(t time.Time) string { return t.Format("2006-01-02") + "T00:00:00.000Z" }
	if s.Date != midnight(before) && s.Date != midnight(after) {
		t.Fatalf("date %s, want %s", s.Date, midnight(after))
	}
	date, err := time.Parse(time.RFC3339, s.Date)
	if err != nil {
		t.Fatal(err)
	}
	if a := s.Action("focus-video"); a.Value != 1 || !a.Completed || a.StartAt == nil || *a.StartAt != 8 || s.ReelsSeen != 1 || s.TotalScore != 1 {
		t.Fatalf("after one focus video: %s", first.Body)
	}
	for _, sec := range s.Sections {
		if sec.Day != strings.ToLower(date.Weekday().String()) {
			t.Fatalf("section %s day %q on %s", sec.Name, sec.Day, s.Date)
		}
	}
	if p := scoreUpdated(t, w, waitEvent); value(p, "focus-video") != 1 || p.Date != s.Date {
		t.Fatalf("pushed %+v", p)
	}

	s = completeAction(t, u, "focus-video")
	if value(s, "focus-video") != 2 || s.ReelsSeen != 2 || s.TotalScore != 1 {
		t.Fatalf("after the same video again: %+v", s)
	}
	scoreUpdated(t, w, waitEvent)
	s = completeAction(t, u, "journalism")
	if value(s, "journalism") != 1 || s.ReelsSeen != 2 || s.TotalScore != 2 || s.Section("mindfulness").Score != 0.5 {
		t.Fatalf("after a journal entry: %+v", s)
	}
	scoreUpdated(t, w, waitEvent)

	for _, c := range []struct {
		path   string
		token  string
		status int
		code   string
		detail string
	}{
		{"/score/actions/send-dm-message", u.AccessToken, 400, "invalid_payload", "this action completes itself"},
		{"/score/actions/add-new-friend", u.AccessToken, 400, "invalid_payload", "this action completes itself"},
		{"/score/actions/skydiving", u.AccessToken, 404, "not_found", ""},
		{"/score/actions/focus-video", "", 401, "unauthorized", ""},
	} {
		res := srv.Do(http.MethodPost, c.path, c.token, nil)
		if res.Status != c.status || res.Code() != c.code || !strings.Contains(string(res.Body), c.detail) {
			t.Errorf("POST %s: %d %s, want %d %s", c.path, res.Status, res.Body, c.status, c.code)
		}
	}
	if res := srv.Do(http.MethodGet, "/score", "", nil); res.Status != 401 {
		t.Errorf("GET /score without a token: %d", res.Status)
	}
	if got := getScore(t, u); value(got, "focus-video") != 2 || value(got, "journalism") != 1 || got.TotalScore != 2 {
		t.Fatalf("score after the refusals: %+v", got)
	}
	// The refusals pushed nothing: the next event is the next change.
	completeAction(t, u, "mindful-comment-reply")
	if p := scoreUpdated(t, w, waitEvent); value(p, "mindful-comment-reply") != 1 || p.TotalScore != 3 {
		t.Fatalf("the event after the refusals: %+v", p)
	}

	// Someone who only looks has no record and no reminder.
	idle := srv.Login("score-idle")
	if s := getScore(t, idle); s.TotalScore != 0 || value(s, "focus-video") != 0 {
		t.Fatalf("idle user: %+v", s)
	}
	if rs := scoreReminders(t, srv); len(rs) != 1 || rs[0].Identity != u.ID || rs[0].Name != "reset" {
		t.Fatalf("reset reminders %+v, want only the active user's", rs)
	}
}

// The day resets at midnight of the day zone, here Asia/Kolkata
// (UTC+05:30), on a clock started 5 minutes before it and running 60
// times faster: the legacy socket hears zeros and the next date, GET
// /score answers the same, and no reset reminder is left behind.
func TestScoreResetsAtMidnightInKolkata(t *testing.T) {
	const (
		start    = "2025-11-08T18:25:00Z" // 23:55 in Kolkata, Saturday 8 November
		today    = "2025-11-07T18:30:00.000Z"
		tomorrow = "2025-11-08T18:30:00.000Z"
	)
	srv := servertest.Start(t, func(c *config.Config) {
		c.DayTimezone, c.ClockStart, c.ClockSpeed = "Asia/Kolkata", start, 60
	})
	u := srv.Login("night-owl")
	w := u.DialLegacy()

	s := completeAction(t, u, "journalism")
	if s.Date != today {
		t.Fatalf("completed on %s, want %s: the server took over 5 real seconds (300 clock seconds) to get here", s.Date, today)
	}
	if s.Section("social").Day != "saturday" || value(s, "journalism") != 1 {
		t.Fatalf("before midnight: %+v", s)
	}
	if p := scoreUpdated(t, w, waitEvent); p.Date != today || value(p, "journalism") != 1 {
		t.Fatalf("completion pushed %+v", p)
	}
	if rs := scoreReminders(t, srv); len(rs) != 1 || protocol.FormatTime(rs[0].DueAt) != tomorrow || rs[0].Identity != u.ID {
		t.Fatalf("reset reminders %+v, want one at %s", rs, tomorrow)
	}

	reset := scoreUpdated(t, w, 30*time.Second)
	if reset.Date != tomorrow || reset.TotalScore != 0 || reset.ReelsSeen != 0 || value(reset, "journalism") != 0 ||
		reset.Section("mindfulness").Score != 0 || reset.Section("social").Day != "sunday" {
		t.Fatalf("reset pushed %+v", reset)
	}
	if got := getScore(t, u); got.Date != tomorrow || got.TotalScore != 0 || value(got, "journalism") != 0 {
		t.Fatalf("GET /score after midnight: %+v", got)
	}
	if rs := scoreReminders(t, srv); len(rs) != 0 {
		t.Fatalf("reminders left after the reset: %+v", rs)
	}
}

// The day survives a restart, its reset reminder too; a restart after
// midnight shows the new day's zeros.
func TestScoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	at := func(start string) servertest.Option {
		return func(c *config.Config) { c.ClockStart = start }
	}
	srv := servertest.StartIn(t, dir, at("2026-03-14T12:00:00Z"))
	u := srv.Login("keeper")
	completeAction(t, u, "focus-video")
	completeAction(t, u, "journalism")
	srv.Stop()

	srv = servertest.StartIn(t, dir, at("2026-03-14T12:00:00Z"))
	u = srv.Login("keeper")
	s := getScore(t, u)
	if s.Date != "2026-03-14T00:00:00.000Z" || value(s, "focus-video") != 1 || value(s, "journalism") != 1 || s.TotalScore != 2 {
		t.Fatalf("after a restart: %+v", s)
	}
	if rs := scoreReminders(t, srv); len(rs) != 1 || protocol.FormatTime(rs[0].DueAt) != "2026-03-15T00:00:00.000Z" {
		t.Fatalf("reset reminders after a restart: %+v", rs)
	}
	srv.Stop()

	srv = servertest.StartIn(t, dir, at("2026-03-15T00:00:01Z"))
	u = srv.Login("keeper")
	if s := getScore(t, u); s.Date != "2026-03-15T00:00:00.000Z" || s.TotalScore != 0 || value(s, "focus-video") != 0 {
		t.Fatalf("after a restart past midnight: %+v", s)
	}
}

// A catalog file replaces the built-in catalog.
func TestScoreCatalogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	catalog := "sections:\n  - name: daily\n    actions:\n      - {type: walk, label: Take a walk, startAt: 7}\n      - {type: send-dm-message, label: Write to someone}\n"
	if err := os.WriteFile(path, []byte(catalog), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, func(c *config.Config) { c.ScoreCatalogFile = path })
	u := srv.Login("walker")
	s := completeAction(t, u, "walk")
	if len(s.Sections) != 1 || s.Sections[0].Name != "daily" || s.Sections[0].Score != 0.5 || value(s, "walk") != 1 || s.TotalScore != 1 {
		t.Fatalf("custom catalog: %+v", s)
	}
	if res := u.Do(http.MethodPost, "/score/actions/focus-video", nil); res.Status != http.StatusNotFound {
		t.Fatalf("an action of the built-in catalog: %d %s", res.Status, res.Body)
	}
	if res := u.Do(http.MethodPost, "/score/actions/send-dm-message", nil); res.Status != http.StatusBadRequest {
		t.Fatalf("an observed action of the file: %d %s", res.Status, res.Body)
	}
}
