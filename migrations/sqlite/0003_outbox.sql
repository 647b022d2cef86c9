-- Outgoing mail: acknowledgements, status notifications and email deliveries wait
-- here until the relay has taken them. The message (envelope and RFC 5322 bytes) is
-- sealed: deliveries to providers carry patient data, replies carry addresses.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    -- ack | status | delivery: for metrics and the audit detail, never content.
    kind            TEXT NOT NULL,
    referral_id     TEXT,
    -- pending -> sent | given-up
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    queued_at       TEXT NOT NULL,
    -- When the next attempt is due (RFC 3339, UTC, fixed width so text order is time order).
    next_attempt_at TEXT NOT NULL,
    sent_at         TEXT,
    -- Why the last attempt failed: a class (transient, permanent, tls, ...), no server text.
    last_error      TEXT,
    message_sealed  BLOB NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- Where a referral's status notifications go when it arrived by email: the sender's
-- address, sealed (it identifies a person).
CREATE TABLE reply_addresses (
    referral_id     TEXT PRIMARY KEY,
    address_sealed  BLOB NOT NULL
);
