-- The providers' inboxes (referrals ready or delivered, not yet acknowledged) in their
-- listing order. With it a listing reads its page straight off the index; without it,
-- `state IN (...)` made SQLite sort a provider's whole inbox for every poll.
-- state and urgency ride along so a listing never reads the (large) referral rows.
CREATE INDEX referrals_inbox_open
    ON referrals (provider, priority_rank, received_at, id, state, urgency)
    WHERE state IN ('ready', 'delivered');
