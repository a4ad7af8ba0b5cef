package boltdb

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/ids"
	"github.com/gisbi/engine/storage"
)

// Rewards layout (schema version 5):
//
//	brands                  brand id                 → Brand JSON
//	brands_by_slug          slug                     → brand id
//	brands_by_key           key hash                 → brand id
//	campaigns               campaign id              → Campaign JSON, counters included
//	gifts                   gift id                  → Gift JSON
//	gifts_by_pair_campaign  pair id \x00 campaign id → gift id
//	gifts_by_pair           pair id \x00 gift id     → ""
//	gifts_by_user           user id \x00 gift id     → "", for UserA and for UserB
//	gift_codes              code                     → gift id
//
// The counters live inside the campaign record, so Grant reads the stock,
// counts and stores the gift in one transaction; bbolt has one writer, so
// no two grants can both see the last unit of stock. Nothing in the gift
// indexes is ever deleted: gifts_by_pair_campaign keeps refusing a second
// gift after the first was cancelled or expired, and gift_codes keeps an old
// code pointing at its gift so a venue holding it can be told it expired.
//
// Gift ids are sgg_<ULID>, so the gift-id suffixes of gifts_by_pair and
// gifts_by_user are in grant order: GiftsOfPair is a forward prefix scan and
// GiftsOfUser walks back from its cursor, never reading the gifts it skips.
//
// Brands and campaigns are created by operators, a handful at a time, so
// their lists are whole-bucket scans sorted by CreatedAt.

type rewards struct{ s *Store }

type rewardBuckets struct {
	brands, brandsBySlug, brandsByKey            *bolt.Bucket
	campaigns                                    *bolt.Bucket
	gifts, byPairCampaign, byPair, byUser, codes *bolt.Bucket
}

func openRewards(tx *bolt.Tx) (rewardBuckets, error) {
	bs, err := buckets(tx,
		bucketBrands, bucketBrandsBySlug, bucketBrandsByKey,
		bucketCampaigns,
		bucketGifts, bucketGiftsByPairCampaign, bucketGiftsByPair, bucketGiftsByUser, bucketGiftCodes)
	if err != nil {
		return rewardBuckets{}, err
	}
	return rewardBuckets{
		brands: bs[0], brandsBySlug: bs[1], brandsByKey: bs[2],
		campaigns: bs[3],
		gifts:     bs[4], byPairCampaign: bs[5], byPair: bs[6], byUser: bs[7], codes: bs[8],
	}, nil
}

type bucketPut struct {
	b    *bolt.Bucket
	k, v []byte
}

// The record checks are the shared ones with bbolt's id rule.
func checkBrand(b *storage.Brand) error       { return storage.CheckBrand(b, checkID) }
func checkCampaign(c *storage.Campaign) error { return storage.CheckCampaign(c, checkID) }
func checkGift(g *storage.Gift) error         { return storage.CheckGift(g, checkID) }

func loadBrand(b *bolt.Bucket, id string) (*storage.Brand, error) {
	var br storage.Brand
	found, err := getJSON(b, []byte(id), &br)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("boltdb: brand %q: %w", id, storage.ErrNotFound)
	}
	return &br, nil
}

func loadCampaign(b *bolt.Bucket, id string) (*storage.Campaign, error) {
	var c storage.Campaign
	found, err := getJSON(b, []byte(id), &c)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("boltdb: campaign %q: %w", id, storage.ErrNotFound)
	}
	return &c, nil
}

func loadGift(b *bolt.Bucket, id string) (*storage.Gift, error) {
	var g storage.Gift
	found, err := getJSON(b, []byte(id), &g)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("boltdb: gift %q: %w", id, storage.ErrNotFound)
	}
	return &g, nil
}

// indexedGift loads the gift an index entry names; a missing one is damage,
// not ErrNotFound, since gifts are never deleted.
func indexedGift(b *bolt.Bucket, id, from string) (storage.Gift, error) {
	g, err := loadGift(b, id)
	if err != nil {
		return storage.Gift{}, fmt.Errorf("boltdb: %s names gift %q: %v", from, id, err)
	}
	return *g, nil
}

func (r rewards) CreateBrand(ctx context.Context, b *storage.Brand) error {
	if err := checkBrand(b); err != nil {
		return err
	}
	raw, err := marshal(b)
	if err != nil {
		return err
	}
	id, slug, hash := []byte(b.ID), []byte(b.Slug), []byte(b.KeyHash)
	return r.s.update(ctx, "rewards.create_brand", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		switch {
		case rb.brands.Get(id) != nil:
			return fmt.Errorf("boltdb: brand id %q is taken: %w", b.ID, storage.ErrConflict)
		case rb.brandsBySlug.Get(slug) != nil:
			return fmt.Errorf("boltdb: brand %q: slug %q is taken: %w", b.ID, b.Slug, storage.ErrConflict)
		case rb.brandsByKey.Get(hash) != nil:
			// The hash is not named: it identifies another brand's key.
			return fmt.Errorf("boltdb: brand %q: key hash is taken: %w", b.ID, storage.ErrConflict)
		}
		if err := rb.brandsBySlug.Put(slug, id); err != nil {
			return err
		}
		if err := rb.brandsByKey.Put(hash, id); err != nil {
			return err
		}
		return rb.brands.Put(id, raw)
	})
}

func (r rewards) GetBrand(ctx context.Context, id string) (*storage.Brand, error) {
	if err := checkID("brand id", id); err != nil {
		return nil, err
	}
	var out *storage.Brand
	err := r.s.view(ctx, "rewards.get_brand", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		out, err = loadBrand(rb.brands, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r rewards) BrandByKeyHash(ctx context.Context, hash string) (*storage.Brand, error) {
	if err := checkID("brand key hash", hash); err != nil {
		return nil, err
	}
	var out *storage.Brand
	err := r.s.view(ctx, "rewards.brand_by_key_hash", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		id := rb.brandsByKey.Get([]byte(hash))
		if id == nil {
			return fmt.Errorf("boltdb: no brand for this key hash: %w", storage.ErrNotFound)
		}
		out, err = loadBrand(rb.brands, string(id))
		if err != nil {
			return fmt.Errorf("boltdb: key hash index names brand %q: %v", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r rewards) ListBrands(ctx context.Context) ([]storage.Brand, error) {
	var out []storage.Brand
	err := r.s.view(ctx, "rewards.list_brands", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err == nil {
			out, err = decodeAll[storage.Brand](rb.brands)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	oldestFirst(out, func(b *storage.Brand) (time.Time, string) { return b.CreatedAt, b.ID })
	return out, nil
}

// decodeAll decodes every record of a bucket; never nil.
func decodeAll[T any](b *bolt.Bucket) ([]T, error) {
	out := []T{}
	err := b.ForEach(func(_, v []byte) error {
		var x T
		if err := jsonUnmarshal(v, &x); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// oldestFirst sorts records by creation; ties go by id so the order is
// total.
func oldestFirst[T any](xs []T, key func(*T) (time.Time, string)) {
	slices.SortFunc(xs, func(a, b T) int {
		ta, ia := key(&a)
		tb, ib := key(&b)
		return cmp.Or(ta.Compare(tb), strings.Compare(ia, ib))
	})
}

func (r rewards) CreateCampaign(ctx context.Context, c *storage.Campaign) error {
	if err := checkCampaign(c); err != nil {
		return err
	}
	// A copy, so the caller's struct is left as it was passed.
	stored := *c
	stored.Granted, stored.Redeemed = 0, 0
	raw, err := marshal(&stored)
	if err != nil {
		return err
	}
	id := []byte(c.ID)
	return r.s.update(ctx, "rewards.create_campaign", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		if rb.brands.Get([]byte(c.BrandID)) == nil {
			return fmt.Errorf("boltdb: campaign %q: brand %q: %w", c.ID, c.BrandID, storage.ErrNotFound)
		}
		if rb.campaigns.Get(id) != nil {
			return fmt.Errorf("boltdb: campaign id %q is taken: %w", c.ID, storage.ErrConflict)
		}
		return rb.campaigns.Put(id, raw)
	})
}

func (r rewards) GetCampaign(ctx context.Context, id string) (*storage.Campaign, error) {
	if err := checkID("campaign id", id); err != nil {
		return nil, err
	}
	var out *storage.Campaign
	err := r.s.view(ctx, "rewards.get_campaign", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		out, err = loadCampaign(rb.campaigns, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r rewards) ListCampaigns(ctx context.Context) ([]storage.Campaign, error) {
	var out []storage.Campaign
	err := r.s.view(ctx, "rewards.list_campaigns", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err == nil {
			out, err = decodeAll[storage.Campaign](rb.campaigns)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	oldestFirst(out, func(c *storage.Campaign) (time.Time, string) { return c.CreatedAt, c.ID })
	return out, nil
}

// SetCampaignStatus rewrites the record read in its own transaction, so a
// status change never overwrites counts a concurrent Grant made.
func (r rewards) SetCampaignStatus(ctx context.Context, id, status string, at time.Time) (*storage.Campaign, error) {
	if err := checkID("campaign id", id); err != nil {
		return nil, err
	}
	if err := storage.CheckStatus(status); err != nil {
		return nil, fmt.Errorf("boltdb: campaign %q: %w", id, err)
	}
	if at.IsZero() {
		return nil, fmt.Errorf("%w: campaign %q: status change time is zero", ErrInvalid, id)
	}
	var out *storage.Campaign
	err := r.s.update(ctx, "rewards.set_campaign_status", func(tx *bolt.Tx) error {
		out = nil
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		c, err := loadCampaign(rb.campaigns, id)
		if err != nil {
			return err
		}
		c.Status, c.UpdatedAt = status, at
		raw, err := marshal(c)
		if err != nil {
			return err
		}
		if err := rb.campaigns.Put([]byte(id), raw); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// grantRefusal says why g cannot be granted now (nil when it can) and
// returns its campaign. The order matters to a retrying grain: a pair that
// already holds the gift hears ErrConflict even once the campaign has run
// out, so it learns the grant it lost track of did land.
func grantRefusal(rb rewardBuckets, g *storage.Gift) (*storage.Campaign, error) {
	c, err := loadCampaign(rb.campaigns, g.CampaignID)
	if err != nil {
		return nil, fmt.Errorf("boltdb: grant gift %q: %w", g.ID, err)
	}
	if g.BrandID != c.BrandID {
		return nil, fmt.Errorf("%w: gift %q: brand %q, but campaign %q belongs to brand %q",
			ErrInvalid, g.ID, g.BrandID, c.ID, c.BrandID)
	}
	if held := rb.byPairCampaign.Get(join(g.PairID, g.CampaignID)); held != nil {
		return nil, fmt.Errorf("boltdb: pair %q already holds gift %q of campaign %q: %w", g.PairID, held, g.CampaignID, storage.ErrConflict)
	}
	if rb.gifts.Get([]byte(g.ID)) != nil {
		return nil, fmt.Errorf("boltdb: gift id %q is taken: %w", g.ID, storage.ErrConflict)
	}
	if g.Code != "" {
		if owner := rb.codes.Get([]byte(g.Code)); owner != nil {
			return nil, fmt.Errorf("boltdb: gift %q: code belongs to gift %q: %w", g.ID, owner, storage.ErrConflict)
		}
	}
	if c.Status != storage.CampaignActive {
		return nil, fmt.Errorf("boltdb: grant gift %q: campaign %q is %s: %w", g.ID, c.ID, c.Status, storage.ErrExhausted)
	}
	if c.Stock != nil && c.Granted >= *c.Stock {
		return nil, fmt.Errorf("boltdb: grant gift %q: campaign %q granted %d of %d: %w", g.ID, c.ID, c.Granted, *c.Stock, storage.ErrExhausted)
	}
	return c, nil
}

// Grant answers refusals from a read transaction when it can, so once a
// campaign runs out the flood of grants that follows costs no batch slot
// and no commit wait. The check is repeated in the write transaction, which
// is what makes it exact. There a refusal is recorded and the function
// returns nil instead of the error: nothing of that grant has been written
// by then, and an error would make bbolt roll back and re-run the whole
// batch without it, once per refused grant, when a campaign with many
// waiting grants runs out. A gift granted already redeemed counts on
// Redeemed too, so Redeemed stays the number of gifts that ever reached
// that stage.
func (r rewards) Grant(ctx context.Context, grants []storage.Grant) ([]error, error) {
	type prepared struct {
		assign             bool // the store names the gift, in the transaction
		timerKey, timerRaw []byte
	}
	prep := make([]prepared, len(grants))
	for i, gr := range grants {
		if gr.Gift != nil && gr.Gift.ID == "" {
			prep[i].assign = true
			gr.Gift.ID = ids.New("sgg") // checked now, replaced in the transaction
		}
		if err := checkGift(gr.Gift); err != nil {
			return nil, err
		}
		if t := gr.Timer; t != nil {
			var err error
			if prep[i].timerKey, err = reminderKey(t.Kind, t.Identity, t.Name); err != nil {
				return nil, err
			}
			tc := *t
			tc.ClaimedUntil = nil
			if prep[i].timerRaw, err = marshal(&tc); err != nil {
				return nil, err
			}
		}
	}
	refused := make([]error, len(grants))
	left := 0
	err := r.s.view(ctx, "rewards.grant", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		for i, gr := range grants {
			if _, refused[i] = grantRefusal(rb, gr.Gift); refused[i] == nil {
				left++
			}
		}
		return nil
	})
	if err != nil || left == 0 {
		return refused, err
	}
	early := append([]error(nil), refused...)
	err = r.s.update(ctx, "rewards.grant", func(tx *bolt.Tx) error {
		copy(refused, early)
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		for i, gr := range grants {
			if refused[i] != nil {
				continue
			}
			g := gr.Gift
			if prep[i].assign {
				// Minted inside the single writer's transaction, ids sort in
				// commit order: a reader paging a history by id never finds a
				// gift appear behind its cursor.
				g.ID = ids.New("sgg")
			}
			c, err := grantRefusal(rb, g)
			if err != nil {
				refused[i] = err
				continue
			}
			c.Granted++
			if g.Stage == storage.GiftRedeemed {
				c.Redeemed++
			}
			craw, err := marshal(c)
			if err != nil {
				return err
			}
			if err := rb.campaigns.Put([]byte(c.ID), craw); err != nil {
				return err
			}
			g.Version = 1
			raw, err := marshal(g)
			if err != nil {
				return err
			}
			id := []byte(g.ID)
			puts := []bucketPut{
				{rb.gifts, id, raw}, {rb.byPairCampaign, join(g.PairID, g.CampaignID), id},
				{rb.byPair, join(g.PairID, g.ID), []byte{}}, {rb.byUser, join(g.UserA, g.ID), []byte{}}, {rb.byUser, join(g.UserB, g.ID), []byte{}},
			}
			if g.Code != "" {
				puts = append(puts, bucketPut{rb.codes, []byte(g.Code), id})
			}
			for _, p := range puts {
				if err := p.b.Put(p.k, p.v); err != nil {
					return err
				}
			}
			if gr.Timer != nil {
				if err := putReminder(tx, prep[i].timerKey, prep[i].timerRaw, gr.Timer.DueAt); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return refused, nil
}

// PutGift checks everything before its first Put, so a refusal writes
// nothing. Only a move into redeemed counts, so putting a redeemed gift
// again (a retried save) does not count it twice.
func (r rewards) PutGift(ctx context.Context, g *storage.Gift) error {
	if err := checkGift(g); err != nil {
		return err
	}
	next := *g
	next.Version++
	raw, err := marshal(&next)
	if err != nil {
		return err
	}
	id := []byte(g.ID)
	err = r.s.update(ctx, "rewards.put_gift", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		old, err := loadGift(rb.gifts, g.ID)
		if err != nil {
			return err
		}
		if err := fence("gift "+g.ID, old.Version, g.Version); err != nil {
			return err
		}
		// These fields key the indexes written at grant, which PutGift
		// does not rewrite.
		for _, f := range []struct{ what, was, now string }{
			{"pair id", old.PairID, g.PairID},
			{"campaign id", old.CampaignID, g.CampaignID},
			{"brand id", old.BrandID, g.BrandID},
			{"user a", old.UserA, g.UserA},
			{"user b", old.UserB, g.UserB},
		} {
			if f.was != f.now {
				return fmt.Errorf("%w: gift %q: %s changed from %q to %q", ErrInvalid, g.ID, f.what, f.was, f.now)
			}
		}
		newCode := false
		if g.Code != "" {
			switch owner := rb.codes.Get([]byte(g.Code)); {
			case owner == nil:
				newCode = true
			case !bytes.Equal(owner, id):
				return fmt.Errorf("boltdb: gift %q: code belongs to gift %q: %w", g.ID, owner, storage.ErrConflict)
			}
		}
		if old.Stage != storage.GiftRedeemed && g.Stage == storage.GiftRedeemed {
			c, err := loadCampaign(rb.campaigns, g.CampaignID)
			if err != nil {
				return fmt.Errorf("boltdb: gift %q: %v", g.ID, err)
			}
			c.Redeemed++
			craw, err := marshal(c)
			if err != nil {
				return err
			}
			if err := rb.campaigns.Put([]byte(c.ID), craw); err != nil {
				return err
			}
		}
		if newCode {
			if err := rb.codes.Put([]byte(g.Code), id); err != nil {
				return err
			}
		}
		return rb.gifts.Put(id, raw)
	})
	if err == nil {
		g.Version = next.Version
	}
	return err
}

func (r rewards) GetGift(ctx context.Context, id string) (*storage.Gift, error) {
	if err := checkID("gift id", id); err != nil {
		return nil, err
	}
	var out *storage.Gift
	err := r.s.view(ctx, "rewards.get_gift", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		out, err = loadGift(rb.gifts, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r rewards) GiftByCode(ctx context.Context, code string) (*storage.Gift, error) {
	if err := checkID("gift code", code); err != nil {
		return nil, err
	}
	var out *storage.Gift
	err := r.s.view(ctx, "rewards.gift_by_code", func(tx *bolt.Tx) error {
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		id := rb.codes.Get([]byte(code))
		if id == nil {
			// The code is not named: whoever guesses codes should not
			// find them echoed in logs.
			return fmt.Errorf("boltdb: no gift for this code: %w", storage.ErrNotFound)
		}
		g, err := indexedGift(rb.gifts, string(id), "code index")
		if err != nil {
			return err
		}
		out = &g
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r rewards) GiftsOfPair(ctx context.Context, pairID string) ([]storage.Gift, error) {
	if err := checkPairID(pairID); err != nil {
		return nil, err
	}
	var out []storage.Gift
	err := r.s.view(ctx, "rewards.gifts_of_pair", func(tx *bolt.Tx) error {
		out = []storage.Gift{}
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		return scanPrefix(rb.byPair, prefix(pairID), func(suffix, _ []byte) error {
			g, err := indexedGift(rb.gifts, string(suffix), fmt.Sprintf("pair %q index", pairID))
			if err != nil {
				return err
			}
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GiftsOfUser seeks straight to the cursor (user \x00 beforeID) and walks
// back, so a page costs limit reads wherever it starts. scanPrefixReverse
// always starts at the end of the prefix, which would read every newer gift
// to reach a deep cursor.
func (r rewards) GiftsOfUser(ctx context.Context, userID, beforeID string, limit int) ([]storage.Gift, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	if beforeID != "" {
		if err := checkID("before gift id", beforeID); err != nil {
			return nil, err
		}
	}
	if err := storage.CheckLimit("gifts of user", limit); err != nil {
		return nil, err
	}
	p := prefix(userID)
	end := append(bytes.Clone(p), beforeID...)
	if beforeID == "" {
		end[len(end)-1]++ // the first key after the user's range
	}
	var out []storage.Gift
	err := r.s.view(ctx, "rewards.gifts_of_user", func(tx *bolt.Tx) error {
		out = []storage.Gift{}
		rb, err := openRewards(tx)
		if err != nil {
			return err
		}
		c := rb.byUser.Cursor()
		for k, _ := seekBefore(c, end); k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, _ = c.Prev() {
			g, err := indexedGift(rb.gifts, string(k[len(p):]), fmt.Sprintf("user %q index", userID))
			if err != nil {
				return err
			}
			out = append(out, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
