-- Statistics (`GET /stats`, `/metrics`) find acknowledgements, acceptances and
-- rejections by state without scanning every transition.
CREATE INDEX IF NOT EXISTS transitions_state ON transitions (state, referral_id);
-- Referrals per referring organisation per week.
CREATE INDEX IF NOT EXISTS referrals_referrer_received ON referrals (referrer, received_at);
