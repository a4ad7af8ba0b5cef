-- Accounts and everything hanging off them: users, refresh tokens, push
-- devices, blocks, reports, the operators' audit log, daily scores and
-- grain snapshots.
--
-- Ids are text COLLATE "C" wherever order matters (report ids and audit ids
-- are ULIDs paged by id, lists come back in id order), so PostgreSQL sorts
-- them byte-wise as bbolt does, whatever the database's locale.

-- users keeps the whole record in doc; the columns beside it are what the
-- indexes, the search and the fence need.
CREATE TABLE users (
    id            text COLLATE "C" PRIMARY KEY,
    provider      text NOT NULL,
    subject       text NOT NULL,
    name          text NOT NULL,
    -- The handle as the user wrote it (deleted accounts included), for
    -- the operators' search.
    username      text,
    -- The lower-cased handle of a live account, NULL when it has none or
    -- is deleted, so deletion frees the handle.
    username_key  text COLLATE "C",
    deleted_at    timestamptz,
    terminated_at timestamptz,
    version       bigint NOT NULL,
    doc           jsonb NOT NULL
);
-- One account per identity among those that hold it: a deleted account
-- releases its identity so the next login makes a fresh account, while a
-- terminated one (also deleted) keeps it so that login is refused.
CREATE UNIQUE INDEX users_identity ON users (provider, subject)
    WHERE deleted_at IS NULL OR terminated_at IS NOT NULL;
CREATE UNIQUE INDEX users_username ON users (username_key)
    WHERE username_key IS NOT NULL;

CREATE TABLE refresh_tokens (
    id         text COLLATE "C" PRIMARY KEY,
    family     text NOT NULL,
    user_id    text NOT NULL,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- Families revoked by reuse detection; a logout or account revocation
-- does not land here.
CREATE TABLE revoked_families (
    family     text PRIMARY KEY,
    revoked_at timestamptz NOT NULL
);

CREATE TABLE devices (
    token      text COLLATE "C" PRIMARY KEY,
    platform   text NOT NULL,
    user_id    text NOT NULL,
    is_active  boolean NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX devices_user ON devices (user_id, token);

CREATE TABLE blocks (
    blocker_id text COLLATE "C" NOT NULL,
    blocked_id text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);

CREATE TABLE reports (
    id               text COLLATE "C" PRIMARY KEY,
    reporter_id      text NOT NULL,
    reported_user_id text NOT NULL,
    reason           text NOT NULL,
    status           text NOT NULL,
    created_at       timestamptz NOT NULL,
    resolution       text,
    resolved_by      text,
    resolved_at      timestamptz,
    updated_at       timestamptz
);
CREATE INDEX reports_reporter ON reports (reporter_id, created_at, id);
-- The operators' queue pages one status in id (filing) order.
CREATE INDEX reports_status ON reports (status, id);
-- Counting and resolving what is still open against a user.
CREATE INDEX reports_open_against ON reports (reported_user_id, id)
    WHERE status <> 'resolved';

CREATE TABLE audit_log (
    id       text COLLATE "C" PRIMARY KEY,
    at       timestamptz NOT NULL,
    operator text NOT NULL,
    action   text NOT NULL,
    target   text NOT NULL,
    detail   text NOT NULL
);

-- One row per user: the current day only, read and written whole by the
-- user's Score grain, so a document (times keep their nanoseconds, as in
-- bbolt).
CREATE TABLE score_days (
    user_id text PRIMARY KEY,
    version bigint NOT NULL,
    doc     jsonb NOT NULL
);

CREATE TABLE snapshots (
    kind    text NOT NULL,
    id      text NOT NULL,
    data    bytea NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (kind, id)
);
