-- Pairs and their conversations.
--
-- Ids are COLLATE "C" so every ordering (pair ids in Of, message ids on
-- equal times in Since, pair ids on equal times in Conversations) is byte
-- order, as in bbolt, whatever the database's default collation.

-- A pair is read and written whole by its grain, so it is one JSONB
-- document; version fences Save. Its two users never change (the id is
-- made of them), so they are columns indexed for Of.
CREATE TABLE pairs (
    id      text COLLATE "C" PRIMARY KEY,
    user_a  text COLLATE "C" NOT NULL,
    user_b  text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    doc     jsonb NOT NULL
);
CREATE INDEX pairs_user_a ON pairs (user_a, id);
CREATE INDEX pairs_user_b ON pairs (user_b, id);

-- Request and connection ids belong to one pair for good: the primary key
-- makes a second pair's claim on one a conflict.
CREATE TABLE pair_requests (
    request_id text COLLATE "C" PRIMARY KEY,
    pair_id    text COLLATE "C" NOT NULL REFERENCES pairs (id)
);
CREATE TABLE pair_connections (
    connection_id text COLLATE "C" PRIMARY KEY,
    pair_id       text COLLATE "C" NOT NULL REFERENCES pairs (id)
);

-- Messages are plain columns: they are written in bulk by the group commit
-- and read by range. content is bytea because a Go string is bytes: text
-- refuses NUL and invalid UTF-8, and one refused message would fail every
-- batch of its pair queued behind it.
CREATE TABLE messages (
    pair_id      text COLLATE "C" NOT NULL,
    seq          bigint NOT NULL CHECK (seq > 0),
    id           text COLLATE "C" NOT NULL UNIQUE,
    sender_id    text COLLATE "C" NOT NULL,
    recipient_id text COLLATE "C" NOT NULL,
    content      bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    read_at      timestamptz,
    PRIMARY KEY (pair_id, seq)
);
-- The inbox: Since is one range scan of it. read_at is in no index, so
-- marking a message read is a HOT update.
CREATE INDEX messages_inbox ON messages (recipient_id, created_at, id);

-- One row per user and pair: the user's side of the conversation.
-- last_seq names the last message (both rows of a pair carry the same);
-- unread counts the messages to user_id not yet read, kept incrementally;
-- read_seq is the seq up to which every message to user_id is read, so
-- MarkRead only visits the messages after it. An append locks both rows
-- of its pair (FOR UPDATE) before it checks last_seq, which serialises
-- writers of one pair across nodes. A row with last_seq 0 exists only
-- inside an append's transaction.
CREATE TABLE conversations (
    user_id       text COLLATE "C" NOT NULL,
    pair_id       text COLLATE "C" NOT NULL,
    other_user_id text COLLATE "C" NOT NULL,
    last_seq      bigint NOT NULL DEFAULT 0,
    read_seq      bigint NOT NULL DEFAULT 0,
    unread        integer NOT NULL DEFAULT 0 CHECK (unread >= 0),
    PRIMARY KEY (user_id, pair_id)
);
