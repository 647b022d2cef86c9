-- Referrals: only non-identifying columns are readable; patient data is sealed
-- (AES-256-GCM) in record_sealed and document_sealed.
CREATE TABLE referrals (
    id               TEXT PRIMARY KEY,
    referrer         TEXT NOT NULL,
    provider         TEXT,
    channel          TEXT NOT NULL,
    state            TEXT NOT NULL,
    urgency          TEXT NOT NULL,
    -- 0 for urgent, 1 for routine: the inbox orders on it so risk comes first.
    priority_rank    INTEGER NOT NULL,
    received_at      TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    idempotency_hash BLOB,
    content_hash     BLOB NOT NULL,
    -- Letters only: keyed hash of (NHS number, letter date), per referrer.
    match_hash       BLOB,
    record_sealed    BLOB NOT NULL,
    document_type    TEXT,
    document_sealed  BLOB
);
CREATE UNIQUE INDEX referrals_idempotency ON referrals (referrer, idempotency_hash)
    WHERE idempotency_hash IS NOT NULL;
CREATE UNIQUE INDEX referrals_content ON referrals (referrer, content_hash);
CREATE INDEX referrals_match ON referrals (referrer, match_hash) WHERE match_hash IS NOT NULL;
CREATE INDEX referrals_inbox ON referrals (provider, state, priority_rank, received_at);

CREATE TABLE transitions (
    referral_id TEXT NOT NULL REFERENCES referrals (id),
    seq         INTEGER NOT NULL,
    state       TEXT NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT,
    reason      TEXT,
    PRIMARY KEY (referral_id, seq)
);

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT,
    action      TEXT NOT NULL,
    referral_id TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL
);
-- Append-only: the gateway never updates or deletes an audit event.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
