package score_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gisbi/engine/actors/score"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

// reminders records the reminders the grain keeps.
type reminders struct {
	mu   sync.Mutex
	due  map[string]time.Time // name -> due
	sets int
}

func (r *reminders) Set(_ context.Context, rem storage.Reminder) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.due[rem.Kind+"/"+rem.Identity+"/"+rem.Name] = rem.DueAt
	r.sets++
	return nil
}

func (r *reminders) Delete(_ context.Context, kind, identity, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.due, kind+"/"+identity+"/"+name)
	return nil
}

func (r *reminders) get(name string) (time.Time, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.due[name], r.sets
}

// users stands in for the User grains: it hands over every frame the Score
// grain asks them to deliver.
func users(frames chan<- *grainpb.Deliver) *pcluster.Kind {
	return pcluster.NewKind(cluster.KindUser, actor.PropsFromProducer(func() actor.Actor {
		return actor.ReceiveFunc(func(ctx actor.Context) {
			if d, ok := ctx.Message().(*grainpb.Deliver); ok {
				frames <- d
			}
		})
	}))
}

func TestGrainDayAndReset(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 on Saturday 8 November 2025 in Kolkata.
	clk := clock.NewFake(time.Date(2025, 11, 8, 18, 0, 0, 0, time.UTC))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := store.Users().Create(ctx, &storage.User{ID: "user_a", Name: "a", Provider: "dev", Subject: "a", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	cat, err := score.NewCatalog(config.DefaultScoreCatalog())
	if err != nil {
		t.Fatal(err)
	}
	rems := &reminders{due: map[string]time.Time{}}
	frames := make(chan *grainpb.Deliver, 100)
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
		score.NewKind(score.Deps{Store: store, Clock: clk, Reminders: rems, Metrics: metrics.New(), Logger: logger,
			Rules: score.Rules{Catalog: cat, Loc: kolkata}}),
		users(frames),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)

	const day1, day2, day3 = "2025-11-07T18:30:00.000Z", "2025-11-08T18:30:00.000Z", "2025-11-09T18:30:00.000Z"
	const reset = cluster.KindScore + "/user_a/" + score.ReminderReset
	call := func(msg *grainpb.ScoreComplete) (protocol.Score, error) {
		t.Helper()
		var rep *grainpb.ScoreReply
		var err error
		if msg == nil {
			rep, err = cluster.Call[*grainpb.ScoreReply](ctx, node, cluster.KindScore, "user_a", &grainpb.ScoreGet{})
		} else {
			rep, err = cluster.Call[*grainpb.ScoreReply](ctx, node, cluster.KindScore, "user_a", msg)
		}
		if err != nil {
			t.Fatal(err)
		}
		var s protocol.Score
		if err := rep.Failure.Err(); err != nil {
			return s, err
		}
		if err := json.Unmarshal(rep.ScoreJson, &s); err != nil {
			t.Fatalf("score %s: %v", rep.ScoreJson, err)
		}
		return s, nil
	}
	pushed := func() protocol.Score {
		t.Helper()
		select {
		case d := <-frames:
			var f struct {
				Event string         `json:"event"`
				Data  protocol.Score `json:"data"`
			}
			if err := json.Unmarshal(d.LegacyFrame, &f); err != nil || f.Event != protocol.EventScoreUpdated || d.Type != protocol.EventScoreUpdated || len(d.WsFrame) != 0 {
				t.Fatalf("delivered %+v (%v)", d, err)
			}
			return f.Data
		case <-time.After(5 * time.Second):
			t.Fatal("no score-updated delivered")
			return protocol.Score{}
		}
	}
	value := func(s protocol.Score, typ string) int { return s.Action(typ).Value }
	stored := func() *storage.ScoreDay {
		t.Helper()
		d, err := store.Scores().Get(ctx, "user_a")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	// Nothing done: zeros, no record, no reminder.
	if s, err := call(nil); err != nil || s.Date != day1 || s.TotalScore != 0 {
		t.Fatalf("first read %+v %v", s, err)
	}
	if _, err := store.Scores().Get(ctx, "user_a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a read stored a day: %v", err)
	}
	if due, _ := rems.get(reset); !due.IsZero() {
		t.Fatalf("an idle user has a reset reminder at %v", due)
	}

	// A completion is stored, armed, answered and pushed.
	s, err := call(&grainpb.ScoreComplete{ActionType: "focus-video"})
	if err != nil || value(s, "focus-video") != 1 || s.ReelsSeen != 1 || s.Date != day1 {
		t.Fatalf("complete: %+v %v", s, err)
	}
	if p := pushed(); value(p, "focus-video") != 1 {
		t.Fatalf("pushed %+v", p)
	}
	if d := stored(); d.Counts["focus-video"] != 1 || protocol.FormatTime(d.Date) != day1 {
		t.Fatalf("stored %+v", d)
	}
	due, sets := rems.get(reset)
	if protocol.FormatTime(due) != day2 {
		t.Fatalf("reset due %v, want %s", due, day2)
	}
	// The same day needs no new reminder.
	if s, _ := call(&grainpb.ScoreComplete{ActionType: "focus-video"}); value(s, "focus-video") != 2 {
		t.Fatalf("second completion: %+v", s)
	}
	pushed()
	if _, again := rems.get(reset); again != sets {
		t.Fatalf("reminder set %d times for one day", again)
	}
	// Observations count the number seen. They gather in memory: a read
	// stores and pushes them first, so what it answers is stored.
	node.Send(cluster.KindScore, "user_a", &grainpb.ScoreObserve{ActionType: score.ActionSendDM, Count: 3})
	node.Send(cluster.KindScore, "user_a", &grainpb.ScoreObserve{ActionType: score.ActionSendDM, Count: 1})
	if s, _ := call(nil); value(s, score.ActionSendDM) != 4 {
		t.Fatalf("read after observations: %+v", s)
	}
	if p := pushed(); value(p, score.ActionSendDM) != 4 || p.TotalScore != 2 {
		t.Fatalf("observed: %+v", p)
	}
	if d := stored(); d.Counts[score.ActionSendDM] != 4 {
		t.Fatalf("stored after a read: %+v", d)
	}
	// Unread, they are stored and pushed together once ObserveEvery passed.
	node.Send(cluster.KindScore, "user_a", &grainpb.ScoreObserve{ActionType: score.ActionSendDM, Count: 1})
	node.Send(cluster.KindScore, "user_a", &grainpb.ScoreObserve{ActionType: score.ActionSendDM, Count: 1})
	// A refused completion is served after them and stores nothing.
	if _, err := call(&grainpb.ScoreComplete{ActionType: "skydiving"}); !isCode(err, protocol.CodeNotFound) {
		t.Fatalf("unknown action: %v", err)
	}
	if d := stored(); d.Counts[score.ActionSendDM] != 4 {
		t.Fatalf("observations stored before their interval: %+v", d)
	}
	clk.Advance(2 * time.Second)
	if p := pushed(); value(p, score.ActionSendDM) != 6 {
		t.Fatalf("gathered observations pushed as %+v", p)
	}
	if d := stored(); d.Counts[score.ActionSendDM] != 6 {
		t.Fatalf("gathered observations stored as %+v", d)
	}
	// Refusals change nothing and push nothing (the next push is the reset).
	if _, err := call(&grainpb.ScoreComplete{ActionType: score.ActionSendDM}); !isCode(err, protocol.CodeInvalidPayload) {
		t.Fatalf("client DM: %v", err)
	}
	if _, err := call(&grainpb.ScoreComplete{ActionType: "skydiving"}); !isCode(err, protocol.CodeNotFound) {
		t.Fatalf("unknown action: %v", err)
	}

	// Past midnight a read shows zeros at once; the store keeps the day
	// for the reset to find.
	clk.Advance(31 * time.Minute)
	if s, _ := call(nil); s.Date != day2 || s.TotalScore != 0 || s.ReelsSeen != 0 || s.Section("social").Day != "sunday" {
		t.Fatalf("read after midnight: %+v", s)
	}
	if d := stored(); protocol.FormatTime(d.Date) != day1 {
		t.Fatalf("a read stored the rolled-over day: %+v", d)
	}
	fire := func() {
		t.Helper()
		rep, err := cluster.Call[*grainpb.Ack](ctx, node, cluster.KindScore, "user_a", &grainpb.ReminderFired{Name: score.ReminderReset})
		if err != nil || rep.Failure != nil {
			t.Fatalf("fire: %v %v", err, rep.GetFailure())
		}
	}
	fire()
	if p := pushed(); p.Date != day2 || p.TotalScore != 0 || value(p, "focus-video") != 0 {
		t.Fatalf("reset pushed %+v", p)
	}
	if d := stored(); protocol.FormatTime(d.Date) != day2 || len(d.Counts) != 0 {
		t.Fatalf("reset stored %+v", d)
	}
	if due, _ := rems.get(reset); !due.IsZero() {
		t.Fatalf("the reset reminder outlived the reset: %v", due)
	}

	// Active after midnight before a late reset fires: the new day keeps
	// its own reset, and the late one resets nothing.
	clk.Advance(time.Hour)
	node.Send(cluster.KindScore, "user_a", &grainpb.ScoreObserve{ActionType: score.ActionNewFriend, Count: 1})
	if _, err := call(&grainpb.ScoreComplete{ActionType: "skydiving"}); !isCode(err, protocol.CodeNotFound) { // served after the observation
		t.Fatalf("unknown action: %v", err)
	}
	clk.Advance(2 * time.Second)
	if p := pushed(); p.Date != day2 || value(p, score.ActionNewFriend) != 1 {
		t.Fatalf("new day: %+v", p)
	}
	fire()
	if due, _ := rems.get(reset); protocol.FormatTime(due) != day3 {
		t.Fatalf("reset due %v after a late fire, want %s", due, day3)
	}
	if s, _ := call(&grainpb.ScoreComplete{ActionType: "journalism"}); value(s, score.ActionNewFriend) != 1 || value(s, "journalism") != 1 {
		t.Fatalf("the late fire reset the new day: %+v", s)
	}
	if p := pushed(); value(p, "journalism") != 1 || value(p, score.ActionNewFriend) != 1 {
		t.Fatalf("the push after a late fire was %+v, want the journal entry", p)
	}

	// A stray reminder name is dropped.
	rems.Set(ctx, storage.Reminder{Kind: cluster.KindScore, Identity: "user_a", Name: "stray"})
	if rep, err := cluster.Call[*grainpb.Ack](ctx, node, cluster.KindScore, "user_a", &grainpb.ReminderFired{Name: "stray"}); err != nil || rep.Failure != nil {
		t.Fatalf("stray: %v %v", err, rep.GetFailure())
	}
	if due, _ := rems.get(cluster.KindScore + "/user_a/stray"); !due.IsZero() {
		t.Fatal("a stray reminder was kept")
	}

	// Users who do not exist have no score.
	rep, err := cluster.Call[*grainpb.ScoreReply](ctx, node, cluster.KindScore, "ghost", &grainpb.ScoreGet{})
	if err != nil || !isCode(rep.Failure.Err(), protocol.CodeUserNotFound) {
		t.Fatalf("ghost: %v %v", err, rep.GetFailure())
	}
}

func isCode(err error, code protocol.Code) bool {
	pe, ok := protocol.AsError(err)
	return ok && pe.Code == code
}

// TestStaleGrainStops: the user's day was written by another activation
// (another node) since this grain loaded it. The grain's next write is
// refused: the caller is told to retry, nothing is pushed, and the grain
// stops, so the retry reaches a fresh grain that counts on from the newer
// day.
func TestStaleGrainStops(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	clk := clock.NewFake(time.Date(2025, 11, 8, 10, 0, 0, 0, time.UTC))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := store.Users().Create(ctx, &storage.User{ID: "user_a", Name: "a", Provider: "dev", Subject: "a", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	cat, err := score.NewCatalog(config.DefaultScoreCatalog())
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	frames := make(chan *grainpb.Deliver, 100)
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
		score.NewKind(score.Deps{Store: store, Clock: clk, Reminders: &reminders{due: map[string]time.Time{}}, Metrics: m, Logger: logger,
			Rules: score.Rules{Catalog: cat, Loc: time.UTC}}),
		users(frames),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	complete := func() *grainpb.ScoreReply {
		t.Helper()
		rep, err := cluster.Call[*grainpb.ScoreReply](ctx, node, cluster.KindScore, "user_a", &grainpb.ScoreComplete{ActionType: "focus-video"})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := complete(); rep.Failure != nil {
		t.Fatal(rep.Failure)
	}
	<-frames
	// Another activation counts two more and stores them.
	d, err := store.Scores().Get(ctx, "user_a")
	if err != nil {
		t.Fatal(err)
	}
	d.Counts["focus-video"] = 3
	if err := store.Scores().Put(ctx, d); err != nil {
		t.Fatal(err)
	}

	rep := complete()
	if !isCode(rep.Failure.Err(), protocol.CodeUnavailable) {
		t.Fatalf("stale grain answered %v (%s), want unavailable", rep.Failure, rep.ScoreJson)
	}
	select {
	case f := <-frames:
		t.Fatalf("stale grain pushed %s", f.LegacyFrame)
	case <-time.After(100 * time.Millisecond):
	}
	if got, _ := store.Scores().Get(ctx, "user_a"); got.Counts["focus-video"] != 3 || got.Version != d.Version {
		t.Fatalf("stored %+v after the refused write, want the other activation's", got)
	}
	if n := testutil.ToFloat64(m.StaleWrites.WithLabelValues(cluster.KindScore)); n != 1 {
		t.Fatalf("stale writes counted %v", n)
	}
	// The retry reaches a fresh grain, which counts on from the newer day.
	rep = complete()
	var s protocol.Score
	if rep.Failure != nil || json.Unmarshal(rep.ScoreJson, &s) != nil || s.Action("focus-video").Value != 4 {
		t.Fatalf("retry: %v %s, want focus-video at 4", rep.Failure, rep.ScoreJson)
	}
	if n := testutil.ToFloat64(m.GrainActivations.WithLabelValues(cluster.KindScore)); n != 2 {
		t.Fatalf("activations %v, want 2", n)
	}
}
