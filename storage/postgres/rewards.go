package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"

	"github.com/gisbi/engine/ids"
	"github.com/gisbi/engine/storage"
)

// rewards keeps brands, campaigns, gifts and gift codes in tables of their
// own (migrations/0003_rewards_reminders.sql). Records are JSONB documents
// beside the columns that index, constrain, count or fence them; where
// both hold a value, the column wins.
//
// Concurrency: a campaign's counters are only changed with its row locked,
// so grants on any node never oversell, and the (pair, campaign) rule is
// checked under that lock too. Gift names are minted under the one row of
// gift_namer, so they sort in commit order (see Grant).
type rewards struct{ s *Store }

// Rewards returns the store's rewards.
func (s *Store) Rewards() storage.Rewards { return rewards{s: s} }

// The record checks are the shared ones with PostgreSQL's id rule.
func checkBrand(b *storage.Brand) error       { return storage.CheckBrand(b, checkID) }
func checkCampaign(c *storage.Campaign) error { return storage.CheckCampaign(c, checkID) }

// checkGift is storage.CheckGift with PostgreSQL's id rule, plus the bound
// on the composite btree entries.
func checkGift(g *storage.Gift) error {
	if err := storage.CheckGift(g, checkID); err != nil {
		return err
	}
	// (pair_id, id) and (pair_id, campaign_id) are btree entries.
	if n := len(g.PairID) + max(len(g.ID), len(g.CampaignID)); n > maxGiftKey {
		return badInput("gift %q: pair id and gift or campaign id are %d bytes together, limit %d", g.ID, n, maxGiftKey)
	}
	return nil
}

// maxGiftKey bounds the composite index entries of a gift, which
// PostgreSQL refuses beyond about 2.7 kB.
const maxGiftKey = 2048

// brandDoc, campaignDoc and giftDoc encode a copy of the record for its doc
// column, times in UTC, so reads hand back UTC like the timestamptz
// columns do. Fields a column owns are left out or zeroed.
func brandDoc(b *storage.Brand) ([]byte, error) {
	c := *b
	c.CreatedAt = c.CreatedAt.UTC()
	return encodeRewardDoc(&c)
}

func campaignDoc(c *storage.Campaign) ([]byte, error) {
	d := *c
	d.Granted, d.Redeemed = 0, 0
	d.StartsAt, d.EndsAt = utcPtr(d.StartsAt), utcPtr(d.EndsAt)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return encodeRewardDoc(&d)
}

func giftDoc(g *storage.Gift) ([]byte, error) {
	d := *g
	d.Version = 0
	d.CreatedAt, d.ExpiresAt = d.CreatedAt.UTC(), d.ExpiresAt.UTC()
	d.CodeExpiresAt, d.VerifiedAt = utcPtr(d.CodeExpiresAt), utcPtr(d.VerifiedAt)
	d.RedeemedAt, d.EndedAt = utcPtr(d.RedeemedAt), utcPtr(d.EndedAt)
	return encodeRewardDoc(&d)
}

func encodeRewardDoc(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("postgres: encode %T: %w", v, err)
	}
	return raw, nil
}

func decodeRewardDoc(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("postgres: decode %T: %w", v, err)
	}
	return nil
}

func scanBrand(row pgx.Row) (*storage.Brand, error) {
	var raw []byte
	if err := row.Scan(&raw); err != nil {
		return nil, err
	}
	var b storage.Brand
	if err := decodeRewardDoc(raw, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

const campaignCols = `doc, status, updated_at, granted, redeemed`

func scanCampaign(row pgx.Row) (*storage.Campaign, error) {
	var (
		raw []byte
		c   storage.Campaign
		st  string
		upd time.Time
		g   int
		r   int
	)
	if err := row.Scan(&raw, &st, &upd, &g, &r); err != nil {
		return nil, err
	}
	if err := decodeRewardDoc(raw, &c); err != nil {
		return nil, err
	}
	c.Status, c.UpdatedAt, c.Granted, c.Redeemed = st, upd.UTC(), g, r
	return &c, nil
}

const giftCols = `version, doc`

func scanGift(row pgx.Row) (*storage.Gift, error) {
	var (
		raw []byte
		v   int64
		g   storage.Gift
	)
	if err := row.Scan(&v, &raw); err != nil {
		return nil, err
	}
	if err := decodeRewardDoc(raw, &g); err != nil {
		return nil, err
	}
	g.Version = uint64(v)
	return &g, nil
}

// values adapts a scanner that answers a pointer to pgx.CollectRows.
func values[T any](scan func(pgx.Row) (*T, error)) pgx.RowToFunc[T] {
	return func(row pgx.CollectableRow) (T, error) {
		v, err := scan(row)
		if err != nil {
			var zero T
			return zero, err
		}
		return *v, nil
	}
}

// orNotFound turns "no rows" into ErrNotFound, naming what was missing.
func orNotFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: "+format+": %w", append(args, storage.ErrNotFound)...)
	}
	return err
}

func (r rewards) CreateBrand(ctx context.Context, b *storage.Brand) error {
	if err := checkBrand(b); err != nil {
		return err
	}
	raw, err := brandDoc(b)
	if err != nil {
		return err
	}
	return r.s.write(ctx, "rewards.create_brand", func(tx pgx.Tx) error {
		// Each unique rule is checked by name so the error says which was
		// taken; a concurrent create still ends in the constraint.
		var id, slug, key bool
		err := tx.QueryRow(ctx, `SELECT
				EXISTS (SELECT 1 FROM brands WHERE id = $1),
				EXISTS (SELECT 1 FROM brands WHERE slug = $2),
				EXISTS (SELECT 1 FROM brands WHERE key_hash = $3)`,
			b.ID, b.Slug, b.KeyHash).Scan(&id, &slug, &key)
		switch {
		case err != nil:
			return err
		case id:
			return fmt.Errorf("postgres: brand id %q is taken: %w", b.ID, storage.ErrConflict)
		case slug:
			return fmt.Errorf("postgres: brand %q: slug %q is taken: %w", b.ID, b.Slug, storage.ErrConflict)
		case key:
			// The hash is not named: it identifies another brand's key.
			return fmt.Errorf("postgres: brand %q: key hash is taken: %w", b.ID, storage.ErrConflict)
		}
		_, err = tx.Exec(ctx, `INSERT INTO brands (id, slug, key_hash, created_at, doc) VALUES ($1, $2, $3, $4, $5)`,
			b.ID, b.Slug, b.KeyHash, b.CreatedAt, raw)
		return err
	})
}

func (r rewards) GetBrand(ctx context.Context, id string) (*storage.Brand, error) {
	if err := checkID("brand id", id); err != nil {
		return nil, err
	}
	var out *storage.Brand
	err := r.s.read(ctx, "rewards.get_brand", func(q querier) error {
		var err error
		out, err = scanBrand(q.QueryRow(ctx, `SELECT doc FROM brands WHERE id = $1`, id))
		return orNotFound(err, "brand %q", id)
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
	err := r.s.read(ctx, "rewards.brand_by_key_hash", func(q querier) error {
		var err error
		out, err = scanBrand(q.QueryRow(ctx, `SELECT doc FROM brands WHERE key_hash = $1`, hash))
		return orNotFound(err, "no brand for this key hash")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListBrands reads the whole table: brands are created by operators, a
// handful at a time.
func (r rewards) ListBrands(ctx context.Context) ([]storage.Brand, error) {
	var out []storage.Brand
	err := r.s.read(ctx, "rewards.list_brands", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT doc FROM brands ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, values(scanBrand))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r rewards) CreateCampaign(ctx context.Context, c *storage.Campaign) error {
	if err := checkCampaign(c); err != nil {
		return err
	}
	raw, err := campaignDoc(c)
	if err != nil {
		return err
	}
	return r.s.write(ctx, "rewards.create_campaign", func(tx pgx.Tx) error {
		// Brands are never deleted, so the brand found here is still there
		// at commit (the foreign key says so too).
		var brand bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM brands WHERE id = $1)`, c.BrandID).Scan(&brand); err != nil {
			return err
		}
		if !brand {
			return fmt.Errorf("postgres: campaign %q: brand %q: %w", c.ID, c.BrandID, storage.ErrNotFound)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO campaigns (id, brand_id, status, stock, created_at, updated_at, doc)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			c.ID, c.BrandID, c.Status, c.Stock, c.CreatedAt, c.UpdatedAt, raw)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: campaign id %q is taken: %w", c.ID, storage.ErrConflict)
		}
		return nil
	})
}

func (r rewards) GetCampaign(ctx context.Context, id string) (*storage.Campaign, error) {
	if err := checkID("campaign id", id); err != nil {
		return nil, err
	}
	var out *storage.Campaign
	err := r.s.read(ctx, "rewards.get_campaign", func(q querier) error {
		var err error
		out, err = scanCampaign(q.QueryRow(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = $1`, id))
		return orNotFound(err, "campaign %q", id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r rewards) ListCampaigns(ctx context.Context) ([]storage.Campaign, error) {
	var out []storage.Campaign
	err := r.s.read(ctx, "rewards.list_campaigns", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+campaignCols+` FROM campaigns ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, values(scanCampaign))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetCampaignStatus writes only the status columns, so it never overwrites
// counts a concurrent Grant made.
func (r rewards) SetCampaignStatus(ctx context.Context, id, status string, at time.Time) (*storage.Campaign, error) {
	if err := checkID("campaign id", id); err != nil {
		return nil, err
	}
	if err := storage.CheckStatus(status); err != nil {
		return nil, fmt.Errorf("postgres: campaign %q: %w", id, err)
	}
	if at.IsZero() {
		return nil, badInput("campaign %q: status change time is zero", id)
	}
	var out *storage.Campaign
	err := r.s.write(ctx, "rewards.set_campaign_status", func(tx pgx.Tx) error {
		var err error
		out, err = scanCampaign(tx.QueryRow(ctx, `UPDATE campaigns SET status = $2, updated_at = $3
			WHERE id = $1 RETURNING `+campaignCols, id, status, at))
		return orNotFound(err, "campaign %q", id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// grantCampaign is what Grant reads of a campaign and counts on it.
type grantCampaign struct {
	id, brandID, status string
	stock               *int
	granted, redeemed   int
	dirty               bool // counted on in this transaction
}

// grantCampaigns reads the campaigns with the given ids, FOR UPDATE when
// lock is set. The locks are taken in id order, so two calls granting on
// the same campaigns cannot deadlock.
func grantCampaigns(ctx context.Context, tx pgx.Tx, ids []string, lock bool) (map[string]*grantCampaign, error) {
	sql := `SELECT id, brand_id, status, stock, granted, redeemed FROM campaigns WHERE id = ANY($1) ORDER BY id`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := tx.Query(ctx, sql, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*grantCampaign{}
	for rows.Next() {
		var c grantCampaign
		if err := rows.Scan(&c.id, &c.brandID, &c.status, &c.stock, &c.granted, &c.redeemed); err != nil {
			return nil, err
		}
		out[c.id] = &c
	}
	return out, rows.Err()
}

// grantRefusal says why g cannot be granted (nil when it can), given its
// campaign as read (nil when unknown). named is set for a gift the store
// names, whose id is not minted yet. The order matters to a retrying
// grain: a pair that already holds the gift hears ErrConflict even once
// the campaign has run out, so it learns the grant it lost track of did
// land.
func grantRefusal(ctx context.Context, tx pgx.Tx, c *grantCampaign, g *storage.Gift, named bool) (refusal, err error) {
	if c == nil {
		return fmt.Errorf("postgres: grant gift %q: campaign %q: %w", g.ID, g.CampaignID, storage.ErrNotFound), nil
	}
	if g.BrandID != c.brandID {
		return badInput("gift %q: brand %q, but campaign %q belongs to brand %q", g.ID, g.BrandID, c.id, c.brandID), nil
	}
	id := g.ID
	if named {
		id = "" // no gift has it
	}
	var (
		held, codeOwner *string
		taken           bool
	)
	err = tx.QueryRow(ctx, `SELECT
			(SELECT id FROM gifts WHERE pair_id = $1 AND campaign_id = $2),
			EXISTS (SELECT 1 FROM gifts WHERE id = $3),
			(SELECT gift_id FROM gift_codes WHERE code = $4)`,
		g.PairID, g.CampaignID, id, g.Code).Scan(&held, &taken, &codeOwner)
	switch {
	case err != nil:
		return nil, err
	case held != nil:
		return fmt.Errorf("postgres: pair %q already holds gift %q of campaign %q: %w", g.PairID, *held, g.CampaignID, storage.ErrConflict), nil
	case taken:
		return fmt.Errorf("postgres: gift id %q is taken: %w", g.ID, storage.ErrConflict), nil
	case g.Code != "" && codeOwner != nil:
		return fmt.Errorf("postgres: gift %q: code belongs to gift %q: %w", g.ID, *codeOwner, storage.ErrConflict), nil
	case c.status != storage.CampaignActive:
		return fmt.Errorf("postgres: grant gift %q: campaign %q is %s: %w", g.ID, c.id, c.status, storage.ErrExhausted), nil
	case c.stock != nil && c.granted >= *c.stock:
		return fmt.Errorf("postgres: grant gift %q: campaign %q granted %d of %d: %w", g.ID, c.id, c.granted, *c.stock, storage.ErrExhausted), nil
	}
	return nil, nil
}

// exhausted reports a campaign no grant can succeed on whatever happens
// before it commits: unknown (campaigns are never deleted, but one created
// meanwhile is simply later than this call), not active at the moment it
// was read, or out of stock (Granted only grows).
func exhausted(c *grantCampaign) bool {
	return c == nil || c.status != storage.CampaignActive || (c.stock != nil && c.granted >= *c.stock)
}

// Grant runs in one transaction, in three steps.
//
// First it reads the campaigns without locking them, and answers the
// grants of campaigns that are unknown, not active or sold out right away:
// once a campaign runs out, the flood of grants that follows takes no lock
// and writes nothing, so it costs no WAL flush and waits on no one.
//
// Then it locks the other grants' campaigns (in id order) and checks each
// grant again under the lock, which is what makes the stock and the
// one-gift-per-pair-and-campaign rule exact across nodes: two grants on
// one campaign are never checked at once. Each grant counts on its
// campaign in memory; the counters are written once at the end.
//
// Gift names: "ids sort in the order their grants commit" needs the name
// to be taken at a point that is ordered like the commits. A sequence or a
// ULID minted on the node is not: a transaction that named first may
// commit second, and nodes' clocks differ (and two ULIDs of one
// millisecond from two nodes sort at random). So the first grant of a call
// that needs a name locks the one row of gift_namer until commit, and
// every name is above the last one minted: a fresh ULID when the clock
// gives one higher, else the last one plus one. Only naming grants queue
// on that row, for as long as it takes them to insert and commit;
// refusals never reach it.
//
// Inserts cannot abort the transaction over a conflict the checks missed
// (a gift id or code taken by a concurrent grant of another campaign):
// they are ON CONFLICT DO NOTHING, and such a grant is refused with
// ErrConflict after undoing its code.
func (r rewards) Grant(ctx context.Context, grants []storage.Grant) ([]error, error) {
	named := make([]bool, len(grants))
	var campaignIDs []string
	for i, gr := range grants {
		g := gr.Gift
		if g != nil && g.ID == "" {
			named[i] = true
			probe := *g
			probe.ID = "sgg_(unnamed)"
			g = &probe
		}
		if err := checkGift(g); err != nil {
			return nil, err
		}
		if t := gr.Timer; t != nil {
			if err := checkReminderKey(t.Kind, t.Identity, t.Name); err != nil {
				return nil, err
			}
		}
		if !slices.Contains(campaignIDs, g.CampaignID) {
			campaignIDs = append(campaignIDs, g.CampaignID)
		}
	}
	refused := make([]error, len(grants))
	names := make([]string, len(grants))
	err := r.s.write(ctx, "rewards.grant", func(tx pgx.Tx) error {
		clear(refused)
		clear(names)
		seen, err := grantCampaigns(ctx, tx, campaignIDs, false)
		if err != nil {
			return err
		}
		var lock []string
		for i, gr := range grants {
			c := seen[gr.Gift.CampaignID]
			if !exhausted(c) {
				if !slices.Contains(lock, c.id) {
					lock = append(lock, c.id)
				}
				continue
			}
			if refused[i], err = grantRefusal(ctx, tx, c, gr.Gift, named[i]); err != nil {
				return err
			}
		}
		if len(lock) == 0 {
			return nil
		}
		camps, err := grantCampaigns(ctx, tx, lock, true)
		if err != nil {
			return err
		}
		namer, last := false, ""
		for i, gr := range grants {
			if refused[i] != nil {
				continue
			}
			g := gr.Gift
			c := camps[g.CampaignID]
			if refused[i], err = grantRefusal(ctx, tx, c, g, named[i]); err != nil {
				return err
			}
			if refused[i] != nil {
				continue
			}
			stored := *g
			stored.Version = 1
			if named[i] {
				if !namer {
					if err := tx.QueryRow(ctx, `SELECT last_id FROM gift_namer FOR UPDATE`).Scan(&last); err != nil {
						return fmt.Errorf("lock gift namer: %w", err)
					}
					namer = true
				}
				stored.ID = nextGiftID(last)
				last = stored.ID
			}
			ok, err := insertGift(ctx, tx, &stored)
			if err != nil {
				return err
			}
			if !ok {
				refused[i] = fmt.Errorf("postgres: grant gift %q: its id or code was taken by a concurrent grant: %w", stored.ID, storage.ErrConflict)
				continue
			}
			names[i] = stored.ID
			c.granted++
			// A gift granted already redeemed counts on Redeemed too, so
			// Redeemed stays the number of gifts that ever reached that stage.
			if g.Stage == storage.GiftRedeemed {
				c.redeemed++
			}
			c.dirty = true
			if gr.Timer != nil {
				if err := setReminder(ctx, tx, *gr.Timer); err != nil {
					return err
				}
			}
		}
		for _, c := range camps {
			if !c.dirty {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE campaigns SET granted = $2, redeemed = $3 WHERE id = $1`, c.id, c.granted, c.redeemed); err != nil {
				return err
			}
		}
		if namer {
			if _, err := tx.Exec(ctx, `UPDATE gift_namer SET last_id = $1`, last); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, gr := range grants {
		if refused[i] == nil {
			gr.Gift.ID, gr.Gift.Version = names[i], 1
		}
	}
	return refused, nil
}

// insertGift inserts g (Version 1) and its code, reporting false, with
// nothing written, when its id or code is taken. The code goes first: its
// foreign key is checked at commit.
func insertGift(ctx context.Context, tx pgx.Tx, g *storage.Gift) (bool, error) {
	raw, err := giftDoc(g)
	if err != nil {
		return false, err
	}
	if g.Code != "" {
		tag, err := tx.Exec(ctx, `INSERT INTO gift_codes (code, gift_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, g.Code, g.ID)
		if err != nil || tag.RowsAffected() == 0 {
			return false, err
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO gifts (id, campaign_id, pair_id, user_a, user_b, version, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		g.ID, g.CampaignID, g.PairID, g.UserA, g.UserB, int64(g.Version), raw)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 0 {
		if g.Code != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM gift_codes WHERE code = $1`, g.Code); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	return true, nil
}

// nextGiftID mints a gift name above last, the previous one minted.
func nextGiftID(last string) string {
	id := ids.New("sgg")
	if id > last {
		return id
	}
	// The last name came from a clock ahead of this node's, or from the
	// same millisecond: follow it.
	u, err := ulid.ParseStrict(strings.TrimPrefix(last, "sgg_"))
	if err != nil {
		// Not minted here (the row is only written by Grant): start over
		// from the clock rather than refuse every grant.
		return id
	}
	for i := len(u) - 1; i >= 0; i-- {
		u[i]++
		if u[i] != 0 {
			break
		}
	}
	return "sgg_" + strings.ToLower(u.String())
}

// PutGift locks the gift's row, so the version check, the code and the
// Redeemed count are decided on the state it replaces. Only a move into
// redeemed counts, so putting a redeemed gift again (a retried save) does
// not count it twice.
func (r rewards) PutGift(ctx context.Context, g *storage.Gift) error {
	if err := checkGift(g); err != nil {
		return err
	}
	raw, err := giftDoc(g)
	if err != nil {
		return err
	}
	err = r.s.write(ctx, "rewards.put_gift", func(tx pgx.Tx) error {
		old, err := scanGift(tx.QueryRow(ctx, `SELECT `+giftCols+` FROM gifts WHERE id = $1 FOR UPDATE`, g.ID))
		if err != nil {
			return orNotFound(err, "gift %q", g.ID)
		}
		if old.Version != g.Version {
			return fmt.Errorf("postgres: gift %q: version %d, stored %d: %w", g.ID, g.Version, old.Version, storage.ErrStale)
		}
		// These fields key the columns and rules written at grant, which
		// PutGift does not rewrite.
		for _, f := range []struct{ what, was, now string }{
			{"pair id", old.PairID, g.PairID},
			{"campaign id", old.CampaignID, g.CampaignID},
			{"brand id", old.BrandID, g.BrandID},
			{"user a", old.UserA, g.UserA},
			{"user b", old.UserB, g.UserB},
		} {
			if f.was != f.now {
				return badInput("gift %q: %s changed from %q to %q", g.ID, f.what, f.was, f.now)
			}
		}
		if g.Code != "" {
			var owner string
			err := tx.QueryRow(ctx, `SELECT gift_id FROM gift_codes WHERE code = $1`, g.Code).Scan(&owner)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				tag, err := tx.Exec(ctx, `INSERT INTO gift_codes (code, gift_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, g.Code, g.ID)
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 0 {
					return fmt.Errorf("postgres: gift %q: code taken by a concurrent write: %w", g.ID, storage.ErrConflict)
				}
			case err != nil:
				return err
			case owner != g.ID:
				return fmt.Errorf("postgres: gift %q: code belongs to gift %q: %w", g.ID, owner, storage.ErrConflict)
			}
		}
		if old.Stage != storage.GiftRedeemed && g.Stage == storage.GiftRedeemed {
			if _, err := tx.Exec(ctx, `UPDATE campaigns SET redeemed = redeemed + 1 WHERE id = $1`, g.CampaignID); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE gifts SET version = version + 1, doc = $2 WHERE id = $1`, g.ID, raw)
		return err
	})
	if err != nil {
		return err
	}
	g.Version++
	return nil
}

func (r rewards) GetGift(ctx context.Context, id string) (*storage.Gift, error) {
	if err := checkID("gift id", id); err != nil {
		return nil, err
	}
	var out *storage.Gift
	err := r.s.read(ctx, "rewards.get_gift", func(q querier) error {
		var err error
		out, err = scanGift(q.QueryRow(ctx, `SELECT `+giftCols+` FROM gifts WHERE id = $1`, id))
		return orNotFound(err, "gift %q", id)
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
	err := r.s.read(ctx, "rewards.gift_by_code", func(q querier) error {
		var err error
		out, err = scanGift(q.QueryRow(ctx, `SELECT g.version, g.doc FROM gift_codes c JOIN gifts g ON g.id = c.gift_id WHERE c.code = $1`, code))
		// The code is not named: whoever guesses codes should not find
		// them echoed in logs.
		return orNotFound(err, "no gift for this code")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r rewards) GiftsOfPair(ctx context.Context, pairID string) ([]storage.Gift, error) {
	if err := needPairID(pairID); err != nil {
		return nil, err
	}
	var out []storage.Gift
	err := r.s.read(ctx, "rewards.gifts_of_pair", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+giftCols+` FROM gifts WHERE pair_id = $1 ORDER BY id`, pairID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, values(scanGift))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GiftsOfUser reads each user column's index backwards from the cursor,
// at most limit rows from each, and merges them, so a page costs about
// limit rows wherever it starts. A user is never both users of a gift, so
// the two halves never share a row.
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
	below := ""
	if beforeID != "" {
		below = ` AND id < $3`
	}
	sql := `SELECT ` + giftCols + ` FROM (
			(SELECT id, ` + giftCols + ` FROM gifts WHERE user_a = $1` + below + ` ORDER BY id DESC LIMIT $2)
			UNION ALL
			(SELECT id, ` + giftCols + ` FROM gifts WHERE user_b = $1` + below + ` ORDER BY id DESC LIMIT $2)
		) g ORDER BY id DESC LIMIT $2`
	args := []any{userID, limit}
	if beforeID != "" {
		args = append(args, beforeID)
	}
	var out []storage.Gift
	err := r.s.read(ctx, "rewards.gifts_of_user", func(q querier) error {
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, values(scanGift))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// badInput is an error for input that cannot be stored: a programming
// error of the caller, never not-found or a conflict.
func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// needPairID allows a pair id its two user ids and the separator.
func needPairID(id string) error {
	return checkIDUpTo("pair id", id, 2*maxIDBytes+1)
}
