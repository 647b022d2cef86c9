-- MESH authorisation tokens already used: (mailbox, nonce, nonce_count) is single-use,
-- and remembered on disk so a token replayed after a restart is refused too. A row is
-- only needed while its token's timestamp is inside the accepted clock window; after
-- expires_at (unix seconds) the token is refused as stale anyway, and the row is pruned.
CREATE TABLE mesh_nonces (
    mailbox     TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    nonce_count INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (mailbox, nonce, nonce_count)
) WITHOUT ROWID;
CREATE INDEX mesh_nonces_expiry ON mesh_nonces (expires_at);
