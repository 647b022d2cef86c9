-- The providers' inboxes (referrals ready or delivered, not yet acknowledged) in their
-- listing order. With it a listing reads its page straight off the index; without it,
-- `state IN (...)` made SQLite sort a provider's whole inbox for every poll.
CREATE INDEX referrals_inbox_open ON referrals (provider, priority_rank, received_at, id)
    WHERE state IN ('ready', 'delivered');
