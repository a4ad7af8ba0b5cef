package rewards_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gisbi/engine/actors/rewards"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

// timers is the reminders service as the grain sees it, over the store.
type timers struct{ storage.Reminders }

func (timers) Wake() {}

// TestStaleGrainStops: another activation of the pair's rewards (another
// node) wrote a gift since this grain loaded it. The grain's next write of
// it is refused: the reminder that asked is told to retry, nobody hears of
// the refused change, and the grain stops; the retry reaches a fresh grain
// that acts on the newer gift.
func TestStaleGrainStops(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	for _, id := range []string{"user_a", "user_b"} {
		if err := store.Users().Create(ctx, &storage.User{ID: id, Name: id, Provider: "dev", Subject: id, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	brand := &storage.Brand{ID: "brand_1", Name: "Corner Café", Slug: "corner", KeyHash: strings.Repeat("ab", 32), CreatedAt: t0}
	camp := &storage.Campaign{ID: "camp_1", BrandID: brand.ID, Offer: storage.Offer{Title: "Two coffees", Description: "d", Terms: "t"},
		TriggerType: protocol.TriggerConnectionAccepted, RewardTTL: time.Hour, CodeTTL: time.Minute, Status: storage.CampaignActive, CreatedAt: t0, UpdatedAt: t0}
	if err := store.Rewards().CreateBrand(ctx, brand); err != nil {
		t.Fatal(err)
	}
	if err := store.Rewards().CreateCampaign(ctx, camp); err != nil {
		t.Fatal(err)
	}
	pairID := storage.PairID("user_a", "user_b")
	gift := &storage.Gift{CampaignID: camp.ID, BrandID: brand.ID, PairID: pairID, ConnectionID: "conn_1", UserA: "user_a", UserB: "user_b",
		TriggerType: camp.TriggerType, Offer: camp.Offer, CodeTTL: camp.CodeTTL, Stage: storage.GiftGranted, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if refused, err := store.Rewards().Grant(ctx, []storage.Grant{{Gift: gift}}); err != nil || refused[0] != nil {
		t.Fatalf("grant: %v %v", err, refused)
	}

	var mu sync.Mutex
	var delivered []string
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New()
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
		rewards.NewKind(rewards.Deps{Store: store, Clock: clk, Reminders: timers{store.Reminders()}, Metrics: m, Logger: logger}),
		pcluster.NewKind(cluster.KindUser, actor.PropsFromProducer(func() actor.Actor {
			return actor.ReceiveFunc(func(c actor.Context) {
				if d, ok := c.Message().(*grainpb.Deliver); ok {
					mu.Lock()
					delivered = append(delivered, d.Type)
					mu.Unlock()
				}
			})
		})),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	fire := func() *grainpb.Ack {
		t.Helper()
		ack, err := cluster.Call[*grainpb.Ack](ctx, node, cluster.KindRewards, pairID, &grainpb.ReminderFired{Name: "expire:" + camp.ID})
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	// Activate: the gift is not due yet, so nothing changes.
	if ack := fire(); ack.Failure != nil {
		t.Fatal(ack.Failure)
	}

	// Another activation moves the gift on.
	other, err := store.Rewards().GetGift(ctx, gift.ID)
	if err != nil {
		t.Fatal(err)
	}
	other.EndReason = "written elsewhere"
	if err := store.Rewards().PutGift(ctx, other); err != nil {
		t.Fatal(err)
	}

	clk.Advance(2 * time.Hour) // due: the grain expires the gift, from its stale copy
	if ack := fire(); ack.Failure == nil || ack.Failure.Code != string(protocol.CodeUnavailable) {
		t.Fatalf("stale grain answered %v, want unavailable", ack.Failure)
	}
	if got, _ := store.Rewards().GetGift(ctx, gift.ID); got.Stage != storage.GiftGranted || got.Version != other.Version {
		t.Fatalf("stored %s v%d after the refused write, want the other activation's v%d", got.Stage, got.Version, other.Version)
	}
	if n := testutil.ToFloat64(m.StaleWrites.WithLabelValues(cluster.KindRewards)); n != 1 {
		t.Fatalf("stale writes counted %v", n)
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	if len(delivered) != 0 {
		t.Fatalf("the stale grain delivered %v", delivered)
	}
	mu.Unlock()

	// The retry reaches a fresh grain, which expires the newer gift.
	if ack := fire(); ack.Failure != nil {
		t.Fatalf("retry: %v", ack.Failure)
	}
	got, err := store.Rewards().GetGift(ctx, gift.ID)
	if err != nil || got.Stage != storage.GiftExpired || got.Version != other.Version+1 {
		t.Fatalf("after the retry: %+v %v, want expired at v%d", got, err, other.Version+1)
	}
	if n := testutil.ToFloat64(m.GrainActivations.WithLabelValues(cluster.KindRewards)); n != 2 {
		t.Fatalf("activations %v, want 2", n)
	}
}
