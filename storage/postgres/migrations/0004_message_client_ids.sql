-- Idempotent sends: a message keeps the idempotency key its sender chose
-- (clientMessageId), NULL when the client sent none.
--
-- The key is unique per pair and sender only within 24 h, and that window
-- is applied when it is read (ByClientMessageID looks at the latest message
-- with the key and compares its created_at), so the index is not UNIQUE:
-- a key reused after the window names a new message beside the old one.
-- Nothing sweeps old keys: a key is a few bytes of a row that is kept
-- anyway, and a sweep would rewrite rows for no answer it changes.
--
-- Adding a nullable column without a default rewrites nothing. The index
-- is partial, so messages sent without a key cost it nothing; building it
-- scans messages once, under a lock that holds appends for that scan.
ALTER TABLE messages ADD COLUMN client_message_id text COLLATE "C";
CREATE INDEX messages_client_id ON messages (pair_id, sender_id, client_message_id, seq)
    WHERE client_message_id IS NOT NULL;
