-- Rewards (brands, campaigns, gifts, gift codes) and reminders.
--
-- Every id column is COLLATE "C": ids page and sort by their bytes, as in
-- bbolt, whatever the database's default collation (a linguistic one would
-- ignore the "_" in "sgg_…" and reorder a user's gift history).

CREATE TABLE brands (
    id         text COLLATE "C" PRIMARY KEY,
    slug       text COLLATE "C" NOT NULL CONSTRAINT brands_slug_unique UNIQUE,
    key_hash   text COLLATE "C" NOT NULL CONSTRAINT brands_key_hash_unique UNIQUE,
    created_at timestamptz NOT NULL,
    doc        jsonb NOT NULL
);

-- The columns beside doc are authoritative for what they hold: status and
-- updated_at change with SetCampaignStatus, granted and redeemed are the
-- store's counters, stock is what Grant checks them against. doc keeps the
-- rest of the campaign as it was created.
CREATE TABLE campaigns (
    id         text COLLATE "C" PRIMARY KEY,
    brand_id   text COLLATE "C" NOT NULL REFERENCES brands (id),
    status     text NOT NULL,
    stock      integer CHECK (stock >= 0),
    granted    integer NOT NULL DEFAULT 0,
    redeemed   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    doc        jsonb NOT NULL
);

-- Gifts are never deleted, so gifts_pair_campaign keeps refusing a second
-- gift of a campaign to a pair after the first ended. version fences
-- PutGift; doc is the rest of the gift.
CREATE TABLE gifts (
    id          text COLLATE "C" PRIMARY KEY,
    campaign_id text COLLATE "C" NOT NULL REFERENCES campaigns (id),
    pair_id     text COLLATE "C" NOT NULL,
    user_a      text COLLATE "C" NOT NULL,
    user_b      text COLLATE "C" NOT NULL,
    version     bigint NOT NULL,
    doc         jsonb NOT NULL,
    CONSTRAINT gifts_pair_campaign UNIQUE (pair_id, campaign_id)
);
CREATE INDEX gifts_by_pair ON gifts (pair_id, id);
CREATE INDEX gifts_by_user_a ON gifts (user_a, id);
CREATE INDEX gifts_by_user_b ON gifts (user_b, id);

-- Every code ever issued, kept after the gift moves on to another, so a
-- venue holding an old code learns it expired. The foreign key is checked
-- at commit: Grant claims a code before inserting its gift.
CREATE TABLE gift_codes (
    code    text COLLATE "C" PRIMARY KEY,
    gift_id text COLLATE "C" NOT NULL REFERENCES gifts (id) DEFERRABLE INITIALLY DEFERRED
);

-- The last gift id Grant minted. Its one row is locked by every grant that
-- names a gift, until commit, so names are handed out in commit order; the
-- next name is always above last_id, whatever the minting node's clock says.
CREATE TABLE gift_namer (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_id  text COLLATE "C" NOT NULL
);
INSERT INTO gift_namer (last_id) VALUES ('');

-- ready_at is when the reminder can next be claimed (storage.Reminder's
-- ReadyAt), kept by the database so no write can get it wrong. Due, Claim
-- and Next are range scans of reminders_ready; ties go by key so every
-- listing has one order.
CREATE TABLE reminders (
    kind          text COLLATE "C" NOT NULL,
    identity      text COLLATE "C" NOT NULL,
    name          text COLLATE "C" NOT NULL,
    due_at        timestamptz NOT NULL,
    payload       bytea,
    claimed_until timestamptz,
    ready_at      timestamptz NOT NULL GENERATED ALWAYS AS (greatest(due_at, claimed_until)) STORED,
    PRIMARY KEY (kind, identity, name)
);
CREATE INDEX reminders_ready ON reminders (ready_at, kind, identity, name);
