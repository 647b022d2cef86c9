-- The inbound mail spool: every message the SMTP listener answered 250 for, sealed,
-- until the email channel has turned it into a referral (or failed to). Rows are never
-- deleted: a failed message stays for operators. Only ids, the sending organisation,
-- times, sizes and states are readable; the message and its envelope sender are sealed
-- (AES-256-GCM, context mail/<id> and mail/<id>/sender).
CREATE TABLE inbound_mail (
    id              TEXT PRIMARY KEY,
    org             TEXT NOT NULL,
    -- pending, done or failed.
    state           TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    finished_at     TEXT,
    size            INTEGER NOT NULL,
    sender_sealed   BLOB NOT NULL,
    message_sealed  BLOB NOT NULL,
    -- The referral it became (done), or a non-identifying reason code (failed).
    referral_id     TEXT,
    reason          TEXT
);
CREATE INDEX inbound_mail_pending ON inbound_mail (state, received_at);
