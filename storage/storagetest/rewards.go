package storagetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

// keyHash is the hex SHA-256 of a made-up sponsor key, the form a brand
// stores.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func newBrand(id string, created time.Duration) *storage.Brand {
	return &storage.Brand{ID: id, Name: "Brand " + id, Slug: "slug-" + id, KeyHash: keyHash("key-" + id), CreatedAt: at(created)}
}

// newCampaign is an active campaign of brandID; stock nil is unlimited.
func newCampaign(id, brandID string, stock *int, created time.Duration) *storage.Campaign {
	return &storage.Campaign{
		ID: id, BrandID: brandID,
		Offer: storage.Offer{
			Title: "Two coffees", Description: "Two flat whites at the corner café", Terms: "One per pair",
			MinTotalTogetherMinutes: 60, MinDistinctQualifyingDays: 2,
		},
		TriggerType: "connectionAccepted", Stock: stock,
		RewardTTL: 14 * 24 * time.Hour, CodeTTL: 10 * time.Minute,
		Status: storage.CampaignActive, CreatedAt: at(created), UpdatedAt: at(created),
	}
}

// campaignFor stores a brand of its own and an active campaign id of it.
func campaignFor(t *testing.T, s storage.Store, id string, stock *int) *storage.Campaign {
	t.Helper()
	b := newBrand("brand_"+id, 0)
	must(t, s.Rewards().CreateBrand(t.Context(), b))
	c := newCampaign(id, b.ID, stock, time.Minute)
	must(t, s.Rewards().CreateCampaign(t.Context(), c))
	return c
}

// giftOf is gift id of campaign c for users a and b, granted at t0+created
// with a copy of the campaign's offer, as the Rewards grain builds it.
func giftOf(c *storage.Campaign, id, a, b string, created time.Duration) *storage.Gift {
	return &storage.Gift{
		ID: id, CampaignID: c.ID, BrandID: c.BrandID, PairID: storage.PairID(a, b),
		ConnectionID: "conn_" + id, UserA: a, UserB: b,
		TriggerType: c.TriggerType, MilestoneMinutes: c.MilestoneMinutes, Offer: c.Offer, CodeTTL: c.CodeTTL,
		Stage: storage.GiftGranted, CreatedAt: at(created), ExpiresAt: at(created + c.RewardTTL),
	}
}

func getCampaign(t *testing.T, s storage.Store, id string) *storage.Campaign {
	t.Helper()
	c, err := s.Rewards().GetCampaign(t.Context(), id)
	must(t, err)
	return c
}

func wantCounters(t *testing.T, s storage.Store, campaignID string, granted, redeemed int) {
	t.Helper()
	c := getCampaign(t, s, campaignID)
	if c.Granted != granted || c.Redeemed != redeemed {
		t.Fatalf("campaign %s counters granted=%d redeemed=%d, want %d and %d", campaignID, c.Granted, c.Redeemed, granted, redeemed)
	}
}

func getGift(t *testing.T, s storage.Store, id string) *storage.Gift {
	t.Helper()
	g, err := s.Rewards().GetGift(t.Context(), id)
	must(t, err)
	return g
}

func giftIDs(gs []storage.Gift) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.ID
	}
	return out
}

func giftsOfPair(t *testing.T, s storage.Store, pairID string) []storage.Gift {
	t.Helper()
	gs, err := s.Rewards().GiftsOfPair(t.Context(), pairID)
	must(t, err)
	if gs == nil {
		t.Fatalf("GiftsOfPair(%s) = nil, want an empty slice", pairID)
	}
	return gs
}

func giftsOfUser(t *testing.T, s storage.Store, user, before string, limit int) []storage.Gift {
	t.Helper()
	gs, err := s.Rewards().GiftsOfUser(t.Context(), user, before, limit)
	must(t, err)
	if gs == nil {
		t.Fatalf("GiftsOfUser(%s, %q, %d) = nil, want an empty slice", user, before, limit)
	}
	return gs
}

// grantAll grants the gifts concurrently, so a test with many of them
// shares group commits instead of waiting for one per gift.
func grantAll(t *testing.T, s storage.Store, gs []*storage.Gift) {
	t.Helper()
	errs := make([]error, len(gs))
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Go(func() { errs[i] = grantOne(t.Context(), s.Rewards(), g) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Grant %s: %v", gs[i].ID, err)
		}
	}
}

var rewardCases = []testCase{
	{"brands: create, get, by key hash, list oldest first", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		brands, err := s.Rewards().ListBrands(ctx)
		must(t, err)
		if brands == nil || len(brands) != 0 {
			t.Fatalf("ListBrands of an empty store = %s, want an empty slice", show(brands))
		}
		// Ids in the opposite order of creation: the list goes by CreatedAt.
		late, early := newBrand("brand_a", time.Hour), newBrand("brand_b", 0)
		late.Logo, late.Category = ptr("https://cdn.example/a.png"), ptr("café")
		for _, b := range []*storage.Brand{late, early} {
			must(t, s.Rewards().CreateBrand(ctx, b))
		}
		got, err := s.Rewards().GetBrand(ctx, late.ID)
		must(t, err)
		wantEqual(t, "GetBrand", got, late)
		got, err = s.Rewards().BrandByKeyHash(ctx, early.KeyHash)
		must(t, err)
		wantEqual(t, "BrandByKeyHash", got, early)
		brands, err = s.Rewards().ListBrands(ctx)
		must(t, err)
		wantEqual(t, "ListBrands", brands, []storage.Brand{*early, *late})

		// The result is a copy: changing it changes nothing stored.
		got.Name = "mutated"
		got, err = s.Rewards().GetBrand(ctx, early.ID)
		must(t, err)
		wantEqual(t, "GetBrand after mutating a result", got, early)

		_, err = s.Rewards().GetBrand(ctx, "brand_x")
		wantIs(t, "GetBrand of an unknown brand", err, storage.ErrNotFound)
		_, err = s.Rewards().BrandByKeyHash(ctx, keyHash("unknown key"))
		wantIs(t, "BrandByKeyHash of an unknown hash", err, storage.ErrNotFound)
	}},
	{"brands: id, slug and key hash are unique", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		first := newBrand("brand_1", 0)
		must(t, s.Rewards().CreateBrand(ctx, first))
		tests := []struct {
			name string
			edit func(b *storage.Brand)
		}{
			{"id", func(b *storage.Brand) { b.ID = first.ID }},
			{"slug", func(b *storage.Brand) { b.Slug = first.Slug }},
			{"key hash", func(b *storage.Brand) { b.KeyHash = first.KeyHash }},
		}
		for _, tt := range tests {
			b := newBrand("brand_2", time.Minute)
			tt.edit(b)
			wantIs(t, "CreateBrand with a taken "+tt.name, s.Rewards().CreateBrand(ctx, b), storage.ErrConflict)
			// Nothing of the refused brand was indexed.
			if b.ID != first.ID {
				_, err := s.Rewards().GetBrand(ctx, b.ID)
				wantIs(t, "GetBrand after a refused create ("+tt.name+")", err, storage.ErrNotFound)
			}
			if b.KeyHash != first.KeyHash {
				_, err := s.Rewards().BrandByKeyHash(ctx, b.KeyHash)
				wantIs(t, "BrandByKeyHash after a refused create ("+tt.name+")", err, storage.ErrNotFound)
			}
		}
		brands, err := s.Rewards().ListBrands(ctx)
		must(t, err)
		wantEqual(t, "ListBrands after refused creates", brands, []storage.Brand{*first})
		// The refused brand's slug and key were not claimed either.
		must(t, s.Rewards().CreateBrand(ctx, newBrand("brand_2", time.Minute)))
	}},
	{"campaigns: create, get, list oldest first, set status", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		wantIs(t, "CreateCampaign of an unknown brand",
			s.Rewards().CreateCampaign(ctx, newCampaign("camp_1", "brand_x", nil, 0)), storage.ErrNotFound)
		_, err := s.Rewards().GetCampaign(ctx, "camp_1")
		wantIs(t, "GetCampaign after a refused create", err, storage.ErrNotFound)
		campaigns, err := s.Rewards().ListCampaigns(ctx)
		must(t, err)
		if campaigns == nil || len(campaigns) != 0 {
			t.Fatalf("ListCampaigns of an empty store = %s, want an empty slice", show(campaigns))
		}

		must(t, s.Rewards().CreateBrand(ctx, newBrand("brand_1", 0)))
		full := newCampaign("camp_b", "brand_1", ptr(100), time.Minute)
		full.Offer.RewardImageURL, full.Offer.Tagline = ptr("https://cdn.example/r.png"), ptr("Better together")
		full.Offer.VenueName, full.Offer.VenueAddress = ptr("Corner Café"), ptr("1 Main St")
		full.Offer.MinDailyTogetherMinutes, full.Offer.RequireActiveProximityForClaim = ptr(15), true
		full.TriggerType, full.MilestoneMinutes = "proximityMilestone", ptr(120)
		full.StartsAt, full.EndsAt = ptr(at(time.Hour)), ptr(at(30*24*time.Hour))
		// Counters are the store's: what the caller sets is ignored.
		full.Granted, full.Redeemed = 5, 7
		must(t, s.Rewards().CreateCampaign(ctx, full))
		want := *full
		want.Granted, want.Redeemed = 0, 0
		wantEqual(t, "GetCampaign", getCampaign(t, s, full.ID), &want)

		// Created earlier but with a later id: the list goes by CreatedAt.
		early := newCampaign("camp_c", "brand_1", nil, 0)
		must(t, s.Rewards().CreateCampaign(ctx, early))
		wantIs(t, "CreateCampaign with a taken id",
			s.Rewards().CreateCampaign(ctx, newCampaign("camp_b", "brand_1", nil, time.Hour)), storage.ErrConflict)
		campaigns, err = s.Rewards().ListCampaigns(ctx)
		must(t, err)
		wantEqual(t, "ListCampaigns", campaigns, []storage.Campaign{*early, want})

		for _, status := range []string{storage.CampaignPaused, storage.CampaignEnded, storage.CampaignActive} {
			got, err := s.Rewards().SetCampaignStatus(ctx, full.ID, status, at(2*time.Hour))
			must(t, err)
			want.Status, want.UpdatedAt = status, at(2*time.Hour)
			wantEqual(t, "SetCampaignStatus("+status+")", got, &want)
			wantEqual(t, "GetCampaign after SetCampaignStatus("+status+")", getCampaign(t, s, full.ID), &want)
		}
		_, err = s.Rewards().SetCampaignStatus(ctx, "camp_x", storage.CampaignPaused, at(time.Hour))
		wantIs(t, "SetCampaignStatus of an unknown campaign", err, storage.ErrNotFound)
	}},
	{"grant: once per pair per campaign, in any stage", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		c1, c2 := campaignFor(t, s, "camp_1", nil), campaignFor(t, s, "camp_2", nil)
		first := giftOf(c1, "sgg_01", "a", "b", time.Hour)
		must(t, grantOne(ctx, s.Rewards(), first))
		wantEqual(t, "GetGift", getGift(t, s, first.ID), first)
		wantCounters(t, s, c1.ID, 1, 0)

		// Even after the first gift ends, the pair cannot get another; the
		// users in the other order are the same pair.
		for i, stage := range []string{storage.GiftGranted, storage.GiftCancelled, storage.GiftExpired} {
			if stage != storage.GiftGranted {
				ended := *first
				ended.Stage, ended.EndedAt, ended.EndReason = stage, ptr(at(2*time.Hour)), stage
				must(t, s.Rewards().PutGift(ctx, &ended))
				first.Version = ended.Version
			}
			again := giftOf(c1, fmt.Sprintf("sgg_1%d", i), "b", "a", 3*time.Hour)
			wantIs(t, "second Grant with the first "+stage, grantOne(ctx, s.Rewards(), again), storage.ErrConflict)
			_, err := s.Rewards().GetGift(ctx, again.ID)
			wantIs(t, "GetGift of a refused grant", err, storage.ErrNotFound)
		}
		wantCounters(t, s, c1.ID, 1, 0)

		// The same gift id again, for another pair, is a conflict too.
		wantIs(t, "Grant with a taken gift id", grantOne(ctx, s.Rewards(), giftOf(c1, first.ID, "a", "c", 0)), storage.ErrConflict)

		otherCampaign := giftOf(c2, "sgg_02", "a", "b", 4*time.Hour)
		must(t, grantOne(ctx, s.Rewards(), otherCampaign))
		otherPair := giftOf(c1, "sgg_03", "a", "c", 5*time.Hour)
		must(t, grantOne(ctx, s.Rewards(), otherPair))
		wantCounters(t, s, c1.ID, 2, 0)
		wantCounters(t, s, c2.ID, 1, 0)
		wantEqual(t, "GiftsOfPair(a|b)", giftIDs(giftsOfPair(t, s, storage.PairID("a", "b"))), []string{"sgg_01", "sgg_02"})
		wantEqual(t, "GiftsOfPair(a|c)", giftIDs(giftsOfPair(t, s, storage.PairID("a", "c"))), []string{"sgg_03"})

		wantIs(t, "Grant of an unknown campaign",
			grantOne(ctx, s.Rewards(), giftOf(newCampaign("camp_x", c1.BrandID, nil, 0), "sgg_04", "a", "d", 0)), storage.ErrNotFound)
	}},
	{"grant: a paused or ended campaign is exhausted", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		c := campaignFor(t, s, "camp_1", nil)
		tests := []struct {
			status string
			want   error
		}{
			{storage.CampaignPaused, storage.ErrExhausted},
			{storage.CampaignEnded, storage.ErrExhausted},
			{storage.CampaignActive, nil},
		}
		for i, tt := range tests {
			_, err := s.Rewards().SetCampaignStatus(ctx, c.ID, tt.status, at(time.Duration(i)*time.Hour))
			must(t, err)
			g := giftOf(c, fmt.Sprintf("sgg_%02d", i), "a", fmt.Sprint("b", i), time.Hour)
			err = grantOne(ctx, s.Rewards(), g)
			if tt.want == nil {
				must(t, err)
				continue
			}
			wantIs(t, "Grant on a "+tt.status+" campaign", err, tt.want)
			_, err = s.Rewards().GetGift(ctx, g.ID)
			wantIs(t, "GetGift of a refused grant", err, storage.ErrNotFound)
			wantEqual(t, "GiftsOfPair of a refused grant", giftsOfPair(t, s, g.PairID), []storage.Gift{})
		}
		wantCounters(t, s, c.ID, 1, 0)
	}},
	{"grant: several in one call, each with its timer, only the granted ones stored", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		open := campaignFor(t, s, "camp_a", nil)
		one := campaignFor(t, s, "camp_b", ptr(1))
		must(t, grantOne(ctx, s.Rewards(), giftOf(one, "sgg_00", "x", "y", 0)))
		timer := func(g string, due time.Duration) *storage.Reminder {
			r := rem("a|b", "expire:"+g, due)
			return &r
		}
		refused, err := s.Rewards().Grant(ctx, []storage.Grant{
			{Gift: giftOf(open, "sgg_01", "a", "b", 0), Timer: timer("sgg_01", time.Hour)},
			{Gift: giftOf(one, "sgg_02", "a", "b", 0), Timer: timer("sgg_02", 2*time.Hour)},
			{Gift: giftOf(open, "sgg_03", "a", "b", 0), Timer: timer("sgg_03", 3*time.Hour)},
		})
		must(t, err)
		wantIs(t, "grant of the first campaign", refused[0], nil)
		wantIs(t, "grant of the sold-out campaign", refused[1], storage.ErrExhausted)
		wantIs(t, "second grant of the first campaign in the same call", refused[2], storage.ErrConflict)
		wantEqual(t, "gifts of the pair", giftIDs(giftsOfPair(t, s, storage.PairID("a", "b"))), []string{"sgg_01"})
		wantCounters(t, s, open.ID, 1, 0)
		wantCounters(t, s, one.ID, 1, 0)
		got := due(t, s, 24*time.Hour, 10)
		wantEqual(t, "timers stored", len(got), 1)
		wantEqual(t, "the granted gift's timer", got[0].Name, "expire:sgg_01")

		refused, err = s.Rewards().Grant(ctx, []storage.Grant{{Gift: giftOf(one, "sgg_04", "c", "d", 0), Timer: timer("sgg_04", time.Hour)}})
		must(t, err)
		wantIs(t, "a call where every grant is refused", refused[0], storage.ErrExhausted)
		wantEqual(t, "timers after a refused call", len(due(t, s, 24*time.Hour, 10)), 1)
	}},
	{"grant: gifts without an id are named in commit order", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		c := campaignFor(t, s, "camp_1", nil)
		// Named concurrently, listed newest first: every id a later grant
		// got sorts above every id an earlier commit got, so a page read
		// between two commits never has a gift land behind its cursor.
		const n = 30
		gs := make([]*storage.Gift, n)
		for i := range gs {
			gs[i] = giftOf(c, "", "hub", fmt.Sprintf("u%02d", i), 0)
		}
		grantAll(t, s, gs)
		seen := map[string]bool{}
		for _, g := range gs {
			if !strings.HasPrefix(g.ID, "sgg_") || seen[g.ID] {
				t.Fatalf("Grant named a gift %q", g.ID)
			}
			seen[g.ID] = true
		}
		listed := giftIDs(giftsOfUser(t, s, "hub", "", n))
		if !slices.IsSortedFunc(listed, func(a, b string) int { return strings.Compare(b, a) }) || len(listed) != n {
			t.Fatalf("GiftsOfUser = %v", listed)
		}
		page := giftsOfUser(t, s, "hub", "", 1)
		later := giftOf(c, "", "hub", "late", 0)
		must(t, grantOne(ctx, s.Rewards(), later))
		if later.ID <= page[0].ID {
			t.Fatalf("a later grant was named %s, below the earlier %s", later.ID, page[0].ID)
		}
	}},
	{"grant: stock is never oversold, also under concurrency", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		none := campaignFor(t, s, "camp_0", ptr(0))
		wantIs(t, "Grant with stock 0", grantOne(ctx, s.Rewards(), giftOf(none, "sgg_x", "a", "b", 0)), storage.ErrExhausted)
		wantCounters(t, s, none.ID, 0, 0)

		c := campaignFor(t, s, "camp_3", ptr(3))
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = grantOne(ctx, s.Rewards(), giftOf(c, fmt.Sprintf("sgg_%02d", i), "hub", fmt.Sprintf("u%02d", i), 0))
			})
		}
		wg.Wait()
		var granted []string
		for i, err := range errs {
			id := fmt.Sprintf("sgg_%02d", i)
			switch {
			case err == nil:
				granted = append(granted, id)
				getGift(t, s, id)
			case errors.Is(err, storage.ErrExhausted):
				_, err := s.Rewards().GetGift(ctx, id)
				wantIs(t, "GetGift of "+id+", refused", err, storage.ErrNotFound)
			default:
				t.Fatalf("Grant %s: %v, want nil or ErrExhausted", id, err)
			}
		}
		if len(granted) != 3 {
			t.Fatalf("%d grants succeeded (%v), want exactly the stock of 3", len(granted), granted)
		}
		wantCounters(t, s, c.ID, 3, 0)
		slices.Reverse(granted)
		wantEqual(t, "GiftsOfUser(hub)", giftIDs(giftsOfUser(t, s, "hub", "", n)), granted)
	}},
	{"gift codes: indexed, unique, and old codes still find their gift", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		c := campaignFor(t, s, "camp_1", nil)
		g1, g2 := giftOf(c, "sgg_01", "a", "b", 0), giftOf(c, "sgg_02", "a", "c", time.Minute)
		grantAll(t, s, []*storage.Gift{g1, g2})
		_, err := s.Rewards().GiftByCode(ctx, "CODE-1")
		wantIs(t, "GiftByCode before any code", err, storage.ErrNotFound)

		v1 := *g1
		v1.Stage, v1.Code, v1.CodeExpiresAt, v1.ClaimedBy, v1.VerifiedAt = storage.GiftVerified, "CODE-1", ptr(at(10*time.Minute)), "a", ptr(at(time.Minute))
		must(t, s.Rewards().PutGift(ctx, &v1))
		got, err := s.Rewards().GiftByCode(ctx, "CODE-1")
		must(t, err)
		wantEqual(t, "GiftByCode(CODE-1)", got, &v1)
		must(t, s.Rewards().PutGift(ctx, &v1)) // its own code again is fine

		// Another gift's code: refused, and neither gift changes.
		v2 := *g2
		v2.Stage, v2.Code = storage.GiftVerified, "CODE-1"
		wantIs(t, "PutGift with another gift's code", s.Rewards().PutGift(ctx, &v2), storage.ErrConflict)
		wantEqual(t, "g2 after the refused put", getGift(t, s, g2.ID), g2)
		wantEqual(t, "g1 after the refused put", getGift(t, s, g1.ID), &v1)

		// A new code: both the old and the new one find the current gift,
		// and the old one stays taken.
		v1b := v1
		v1b.Code, v1b.CodeExpiresAt = "CODE-2", ptr(at(20*time.Minute))
		must(t, s.Rewards().PutGift(ctx, &v1b))
		for _, code := range []string{"CODE-1", "CODE-2"} {
			got, err := s.Rewards().GiftByCode(ctx, code)
			must(t, err)
			wantEqual(t, "GiftByCode("+code+") after the code changed", got, &v1b)
		}
		wantIs(t, "PutGift with a retired code", s.Rewards().PutGift(ctx, &v2), storage.ErrConflict)
		// Clearing the code on the gift keeps the index too.
		v1c := v1b
		v1c.Code, v1c.CodeExpiresAt = "", nil
		must(t, s.Rewards().PutGift(ctx, &v1c))
		got, err = s.Rewards().GiftByCode(ctx, "CODE-2")
		must(t, err)
		wantEqual(t, "GiftByCode(CODE-2) after the code was cleared", got, &v1c)

		// A code given at grant is indexed the same way.
		g3 := giftOf(c, "sgg_03", "a", "d", 2*time.Minute)
		g3.Code = "CODE-3"
		must(t, grantOne(ctx, s.Rewards(), g3))
		got, err = s.Rewards().GiftByCode(ctx, "CODE-3")
		must(t, err)
		wantEqual(t, "GiftByCode(CODE-3)", got, g3)
		g4 := giftOf(c, "sgg_04", "a", "e", 3*time.Minute)
		g4.Code = "CODE-1"
		wantIs(t, "Grant with a taken code", grantOne(ctx, s.Rewards(), g4), storage.ErrConflict)
		wantCounters(t, s, c.ID, 3, 0)
	}},
	{"put gift: unknown is not found, grant-time fields are fixed", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		c, other := campaignFor(t, s, "camp_1", nil), campaignFor(t, s, "camp_2", nil)
		g := giftOf(c, "sgg_01", "a", "b", 0)
		wantIs(t, "PutGift of an unknown gift", s.Rewards().PutGift(ctx, g), storage.ErrNotFound)
		must(t, grantOne(ctx, s.Rewards(), g))
		tests := []struct {
			name string
			edit func(g *storage.Gift)
		}{
			{"pair", func(g *storage.Gift) { g.PairID, g.UserA, g.UserB = storage.PairID("a", "c"), "a", "c" }},
			{"users in the same pair swapped", func(g *storage.Gift) { g.UserA, g.UserB = g.UserB, g.UserA }},
			{"campaign", func(g *storage.Gift) { g.CampaignID, g.BrandID = other.ID, other.BrandID }},
		}
		for _, tt := range tests {
			changed := *g
			changed.Stage = storage.GiftVerified
			tt.edit(&changed)
			wantErr(t, "PutGift changing the "+tt.name, s.Rewards().PutGift(ctx, &changed))
		}
		wantEqual(t, "GetGift after refused puts", getGift(t, s, g.ID), g)
		wantEqual(t, "GiftsOfPair(a|c)", giftsOfPair(t, s, storage.PairID("a", "c")), []storage.Gift{})
	}},
	{"redeemed counts once per gift", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		c := campaignFor(t, s, "camp_1", nil)
		g1, g2 := giftOf(c, "sgg_01", "a", "b", 0), giftOf(c, "sgg_02", "a", "c", 0)
		grantAll(t, s, []*storage.Gift{g1, g2})
		steps := []struct {
			gift     *storage.Gift
			stage    string
			redeemed int
		}{
			{g1, storage.GiftVerified, 0},
			{g1, storage.GiftRedeemed, 1},
			{g1, storage.GiftRedeemed, 1}, // a retried save
			{g2, storage.GiftRedeemed, 2}, // straight from granted
			{g2, storage.GiftRedeemed, 2},
		}
		for i, st := range steps {
			next := *st.gift
			next.Stage, next.Code = st.stage, "CODE-"+st.gift.ID
			if st.stage == storage.GiftRedeemed {
				next.RedeemedAt = ptr(at(time.Duration(i) * time.Minute))
			}
			must(t, s.Rewards().PutGift(ctx, &next))
			*st.gift = next
			wantCounters(t, s, c.ID, 2, st.redeemed)
		}
	}},
	{"gifts of a pair oldest first, of a user newest first, for both users", func(t *testing.T, s storage.Store) {
		c1, c2 := campaignFor(t, s, "camp_1", nil), campaignFor(t, s, "camp_2", nil)
		// "a2" has "a" as a prefix: a's list must not show a2's gifts.
		gifts := []*storage.Gift{
			giftOf(c1, "sgg_01", "a", "b", 0),
			giftOf(c1, "sgg_02", "c", "a", time.Minute),
			giftOf(c2, "sgg_03", "b", "a", 2*time.Minute),
			giftOf(c1, "sgg_04", "b", "c", 3*time.Minute),
			giftOf(c1, "sgg_05", "a2", "b", 4*time.Minute),
		}
		grantAll(t, s, gifts)
		tests := []struct {
			pair string
			want []string
		}{
			{storage.PairID("a", "b"), []string{"sgg_01", "sgg_03"}},
			{storage.PairID("a", "c"), []string{"sgg_02"}},
			{storage.PairID("b", "c"), []string{"sgg_04"}},
			{storage.PairID("a", "d"), []string{}},
		}
		for _, tt := range tests {
			wantEqual(t, "GiftsOfPair("+tt.pair+")", giftIDs(giftsOfPair(t, s, tt.pair)), tt.want)
		}
		users := []struct {
			user string
			want []string
		}{
			{"a", []string{"sgg_03", "sgg_02", "sgg_01"}},
			{"b", []string{"sgg_05", "sgg_04", "sgg_03", "sgg_01"}},
			{"c", []string{"sgg_04", "sgg_02"}},
			{"a2", []string{"sgg_05"}},
			{"stranger", []string{}},
		}
		for _, tt := range users {
			wantEqual(t, "GiftsOfUser("+tt.user+")", giftIDs(giftsOfUser(t, s, tt.user, "", 10)), tt.want)
		}
		wantEqual(t, "GiftsOfUser(b) limited", giftIDs(giftsOfUser(t, s, "b", "", 2)), []string{"sgg_05", "sgg_04"})
		wantEqual(t, "GiftsOfUser(b) before sgg_04", giftIDs(giftsOfUser(t, s, "b", "sgg_04", 10)), []string{"sgg_03", "sgg_01"})
		// The cursor need not be one of the user's gifts, or a gift at all.
		wantEqual(t, "GiftsOfUser(b) before sgg_02", giftIDs(giftsOfUser(t, s, "b", "sgg_02", 10)), []string{"sgg_01"})
		wantEqual(t, "GiftsOfUser(b) before sgg_035", giftIDs(giftsOfUser(t, s, "b", "sgg_035", 10)), []string{"sgg_03", "sgg_01"})
		wantEqual(t, "GiftsOfUser(b) before sgg_01", giftIDs(giftsOfUser(t, s, "b", "sgg_01", 10)), []string{})
		wantEqual(t, "GiftsOfUser(b) before sgg_99", giftIDs(giftsOfUser(t, s, "b", "sgg_99", 10)), []string{"sgg_05", "sgg_04", "sgg_03", "sgg_01"})
		// Both users see the same record.
		a, b := giftsOfUser(t, s, "a", "", 1), giftsOfUser(t, s, "b", "sgg_04", 1)
		wantEqual(t, "sgg_03 as a and as b see it", a, b)
		wantEqual(t, "sgg_03", a, []storage.Gift{*gifts[2]})
	}},
	{"gifts of a user page by cursor while gifts are granted", func(t *testing.T, s storage.Store) {
		c := campaignFor(t, s, "camp_1", nil)
		gift := func(i int) *storage.Gift {
			return giftOf(c, fmt.Sprintf("sgg_%03d", i), "hub", fmt.Sprintf("u%03d", i), time.Duration(i)*time.Minute)
		}
		var first []*storage.Gift
		for i := 1; i <= 25; i++ {
			first = append(first, gift(i))
		}
		grantAll(t, s, first)

		seen := map[string]int{}
		var order []string
		before := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("paging did not end: %v", order)
			}
			page := giftsOfUser(t, s, "hub", before, 7)
			if len(page) == 0 {
				break
			}
			for _, g := range page {
				seen[g.ID]++
				order = append(order, g.ID)
			}
			before = page[len(page)-1].ID
			// Newer gifts arrive between pages; they sort above every
			// cursor already handed out, so later pages never show them.
			if pages < 2 {
				grantAll(t, s, []*storage.Gift{gift(100 + 2*pages), gift(101 + 2*pages)})
			}
		}
		var want []string
		for i := 25; i >= 1; i-- {
			want = append(want, fmt.Sprintf("sgg_%03d", i))
		}
		wantEqual(t, "gifts listed page by page", order, want)
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("gift %s listed %d times", id, n)
			}
		}
		wantEqual(t, "first page after the grants", giftIDs(giftsOfUser(t, s, "hub", "", 5)),
			[]string{"sgg_103", "sgg_102", "sgg_101", "sgg_100", "sgg_025"})
	}},
	{"every field and time round-trips, results are copies", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		c := campaignFor(t, s, "camp_1", nil)
		g := giftOf(c, "sgg_01", "zed", "amy", 0)
		must(t, grantOne(ctx, s.Rewards(), g))
		full := *g
		full.MilestoneMinutes = ptr(90)
		full.Offer.VenueName, full.Offer.MinDailyTogetherMinutes = ptr("Corner Café"), ptr(10)
		full.Stage, full.Code, full.CodeExpiresAt, full.ClaimedBy = storage.GiftRedeemed, "CODE-Ω", ptr(at(11*time.Minute)), "amy"
		full.VerifiedAt, full.RedeemedAt = ptr(at(time.Minute)), ptr(at(2*time.Minute))
		full.EndedAt, full.EndReason = ptr(at(3*time.Minute)), "redeemed at the venue"
		must(t, s.Rewards().PutGift(ctx, &full))

		reads := map[string]func() (*storage.Gift, error){
			"GetGift":    func() (*storage.Gift, error) { return s.Rewards().GetGift(ctx, full.ID) },
			"GiftByCode": func() (*storage.Gift, error) { return s.Rewards().GiftByCode(ctx, full.Code) },
			"GiftsOfPair": func() (*storage.Gift, error) {
				gs, err := s.Rewards().GiftsOfPair(ctx, full.PairID)
				if err != nil || len(gs) != 1 {
					return nil, fmt.Errorf("%d gifts, %v", len(gs), err)
				}
				return &gs[0], nil
			},
			"GiftsOfUser": func() (*storage.Gift, error) {
				gs, err := s.Rewards().GiftsOfUser(ctx, "zed", "", 10)
				if err != nil || len(gs) != 1 {
					return nil, fmt.Errorf("%d gifts, %v", len(gs), err)
				}
				return &gs[0], nil
			},
		}
		for name, read := range reads {
			got, err := read()
			must(t, err)
			wantEqual(t, name, got, &full)
			*got.VerifiedAt = at(time.Hour)
			got.Offer.VenueName = ptr("mutated")
			again, err := read()
			must(t, err)
			wantEqual(t, name+" after mutating a result", again, &full)
		}
	}},
	{"invalid input is an error", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		c := campaignFor(t, s, "camp_1", nil)
		must(t, grantOne(ctx, s.Rewards(), giftOf(c, "sgg_01", "a", "b", 0)))
		r := s.Rewards()
		withGift := func(edit func(g *storage.Gift)) *storage.Gift {
			g := giftOf(c, "sgg_02", "a", "c", 0)
			edit(g)
			return g
		}
		errs := map[string]error{
			"CreateBrand(nil)":           r.CreateBrand(ctx, nil),
			"CreateBrand without id":     r.CreateBrand(ctx, &storage.Brand{Slug: "s", KeyHash: keyHash("k")}),
			"CreateBrand without slug":   r.CreateBrand(ctx, &storage.Brand{ID: "brand_x", KeyHash: keyHash("k")}),
			"CreateBrand without hash":   r.CreateBrand(ctx, &storage.Brand{ID: "brand_x", Slug: "s"}),
			"CreateCampaign(nil)":        r.CreateCampaign(ctx, nil),
			"CreateCampaign without id":  r.CreateCampaign(ctx, newCampaign("", c.BrandID, nil, 0)),
			"CreateCampaign w/o brand":   r.CreateCampaign(ctx, newCampaign("camp_x", "", nil, 0)),
			"Grant(nil)":                 grantOne(ctx, r, nil),
			"Grant without campaign":     grantOne(ctx, r, withGift(func(g *storage.Gift) { g.CampaignID = "" })),
			"Grant without pair":         grantOne(ctx, r, withGift(func(g *storage.Gift) { g.PairID = "" })),
			"Grant without user a":       grantOne(ctx, r, withGift(func(g *storage.Gift) { g.UserA = "" })),
			"Grant without user b":       grantOne(ctx, r, withGift(func(g *storage.Gift) { g.UserB = "" })),
			"Grant to a mismatched pair": grantOne(ctx, r, withGift(func(g *storage.Gift) { g.PairID = storage.PairID("a", "d") })),
			"PutGift(nil)":               r.PutGift(ctx, nil),
			"PutGift without id":         r.PutGift(ctx, withGift(func(g *storage.Gift) { g.ID = "" })),
		}
		for name, call := range map[string]func() error{
			"GetBrand(\"\")":            func() error { _, err := r.GetBrand(ctx, ""); return err },
			"BrandByKeyHash(\"\")":      func() error { _, err := r.BrandByKeyHash(ctx, ""); return err },
			"GetCampaign(\"\")":         func() error { _, err := r.GetCampaign(ctx, ""); return err },
			"SetCampaignStatus(\"\")":   func() error { _, err := r.SetCampaignStatus(ctx, "", storage.CampaignPaused, t0); return err },
			"GetGift(\"\")":             func() error { _, err := r.GetGift(ctx, ""); return err },
			"GiftByCode(\"\")":          func() error { _, err := r.GiftByCode(ctx, ""); return err },
			"GiftsOfPair(\"\")":         func() error { _, err := r.GiftsOfPair(ctx, ""); return err },
			"GiftsOfUser(\"\")":         func() error { _, err := r.GiftsOfUser(ctx, "", "", 10); return err },
			"GiftsOfUser limit 0":       func() error { _, err := r.GiftsOfUser(ctx, "a", "", 0); return err },
			"GiftsOfUser limit -1":      func() error { _, err := r.GiftsOfUser(ctx, "a", "", -1); return err },
			"SetCampaignStatus unknown": func() error { _, err := r.SetCampaignStatus(ctx, c.ID, "sleeping", t0); return err },
		} {
			errs[name] = call()
		}
		for name, err := range errs {
			wantErr(t, name, err)
			for _, sentinel := range []error{storage.ErrNotFound, storage.ErrConflict, storage.ErrExhausted} {
				if errors.Is(err, sentinel) {
					t.Fatalf("%s: err = %v, an input error must not look like %v", name, err, sentinel)
				}
			}
		}
		// Nothing of the refused calls was written.
		wantCounters(t, s, c.ID, 1, 0)
		wantEqual(t, "GiftsOfUser(a) after refused calls", giftIDs(giftsOfUser(t, s, "a", "", 10)), []string{"sgg_01"})
		wantEqual(t, "status after refused calls", getCampaign(t, s, c.ID).Status, storage.CampaignActive)
	}},
	{"calls after close or with a cancelled context fail", func(t *testing.T, s storage.Store) {
		c := campaignFor(t, s, "camp_1", nil)
		g := giftOf(c, "sgg_01", "a", "b", 0)
		must(t, grantOne(t.Context(), s.Rewards(), g))
		b := newBrand("brand_2", 0)
		ops := map[string]func(ctx context.Context) error{
			"CreateBrand":    func(ctx context.Context) error { return s.Rewards().CreateBrand(ctx, b) },
			"GetBrand":       func(ctx context.Context) error { _, err := s.Rewards().GetBrand(ctx, c.BrandID); return err },
			"BrandByKeyHash": func(ctx context.Context) error { _, err := s.Rewards().BrandByKeyHash(ctx, keyHash("x")); return err },
			"ListBrands":     func(ctx context.Context) error { _, err := s.Rewards().ListBrands(ctx); return err },
			"CreateCampaign": func(ctx context.Context) error {
				return s.Rewards().CreateCampaign(ctx, newCampaign("camp_2", c.BrandID, nil, 0))
			},
			"GetCampaign":   func(ctx context.Context) error { _, err := s.Rewards().GetCampaign(ctx, c.ID); return err },
			"ListCampaigns": func(ctx context.Context) error { _, err := s.Rewards().ListCampaigns(ctx); return err },
			"SetCampaignStatus": func(ctx context.Context) error {
				_, err := s.Rewards().SetCampaignStatus(ctx, c.ID, storage.CampaignPaused, t0)
				return err
			},
			"Grant":       func(ctx context.Context) error { return grantOne(ctx, s.Rewards(), giftOf(c, "sgg_02", "a", "c", 0)) },
			"PutGift":     func(ctx context.Context) error { return s.Rewards().PutGift(ctx, g) },
			"GetGift":     func(ctx context.Context) error { _, err := s.Rewards().GetGift(ctx, g.ID); return err },
			"GiftByCode":  func(ctx context.Context) error { _, err := s.Rewards().GiftByCode(ctx, "CODE"); return err },
			"GiftsOfPair": func(ctx context.Context) error { _, err := s.Rewards().GiftsOfPair(ctx, g.PairID); return err },
			"GiftsOfUser": func(ctx context.Context) error { _, err := s.Rewards().GiftsOfUser(ctx, "a", "", 10); return err },
		}
		cancelled, cancel := context.WithCancel(t.Context())
		cancel()
		for name, op := range ops {
			wantIs(t, name+" with a cancelled context", op(cancelled), context.Canceled)
		}
		must(t, s.Close())
		for name, op := range ops {
			wantIs(t, name+" after Close", op(t.Context()), storage.ErrClosed)
		}
	}},
}

// grantOne grants one gift without a timer and answers its outcome.
func grantOne(ctx context.Context, r storage.Rewards, g *storage.Gift) error {
	refused, err := r.Grant(ctx, []storage.Grant{{Gift: g}})
	if err != nil {
		return err
	}
	return refused[0]
}
