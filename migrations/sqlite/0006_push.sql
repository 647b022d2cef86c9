-- Push delivery: where each referral's delivery to a push provider stands. A row
-- appears with the first attempt and is removed when an operator re-drives the
-- referral from the dead letters (attempts start again). The referral's own state
-- (ready -> delivered | dead-letter) lives in referrals; this table only says when
-- to try next and how the last attempt failed, so a restart resumes the backoff.
CREATE TABLE push_deliveries (
    referral_id     TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    -- When the next attempt is due (RFC 3339, UTC, fixed width so text order is time order).
    next_attempt_at TEXT NOT NULL,
    -- A failure class (timeout, connection, tls, http-5xx, rejected, ...): never response text.
    last_error      TEXT,
    -- The provider's HTTP status of the last answer, if it answered.
    last_status     INTEGER,
    delivered_at    TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX push_deliveries_due ON push_deliveries (next_attempt_at);
