//! MESH state in SQLite: used authorisation tokens (written through the single writer,
//! so a use is committed before the request goes on) and the paged inbox listing.

use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{db_err, parse_id, parse_state, parse_time, read::urgency_from};
use crate::domain::{OrgId, ReferralId};
use crate::store::{InboxEntry, InboxPage, MeshTokenUse, StoreError};

/// A MESH write, run by the writer inside its batch transaction.
pub(super) enum Write {
    UseToken(MeshTokenUse),
}

/// What a [`Write`] produced.
pub(super) enum Written {
    /// Whether the token was fresh.
    TokenFresh(bool),
}

pub(super) async fn apply(
    conn: &mut SqliteConnection,
    write: &Write,
) -> Result<Written, StoreError> {
    match write {
        Write::UseToken(t) => use_token(conn, t).await.map(Written::TokenFresh),
    }
}

async fn use_token(conn: &mut SqliteConnection, t: &MeshTokenUse) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM mesh_nonces WHERE expires_at < $1")
        .bind(t.now.timestamp())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    // Counts above i64::MAX cannot be stored; such a token is refused as a replay.
    let Ok(count) = i64::try_from(t.nonce_count) else {
        return Ok(false);
    };
    let inserted = sqlx::query(
        "INSERT INTO mesh_nonces (mailbox, nonce, nonce_count, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(t.mailbox.as_str())
    .bind(&t.nonce)
    .bind(count)
    .bind(t.expires_at.timestamp())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(inserted.rows_affected() == 1)
}

pub(super) async fn inbox_page(
    pool: &SqlitePool,
    provider: &OrgId,
    after: Option<ReferralId>,
    limit: u32,
) -> Result<InboxPage, StoreError> {
    // Keyset paging on the inbox order, so a page costs the same however deep it is.
    // Referral rows are never deleted, so `after` still has its place in the order
    // after it has been acknowledged.
    let rows = sqlx::query(
        "SELECT id, state, urgency, received_at FROM referrals
         WHERE provider = $1 AND state IN ('ready', 'delivered')
           AND ($2 IS NULL OR (priority_rank, received_at, id) >
                (SELECT priority_rank, received_at, id FROM referrals WHERE id = $2))
         ORDER BY priority_rank, received_at, id LIMIT $3",
    )
    .bind(provider.as_str())
    .bind(after.map(|a| a.to_string()))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let entries = rows
        .iter()
        .map(|r| {
            let get = |c: &str| r.try_get::<String, _>(c).map_err(db_err);
            Ok(InboxEntry {
                id: parse_id(&get("id")?)?,
                state: parse_state(&get("state")?)?,
                urgency: urgency_from(&get("urgency")?)?,
                received_at: parse_time(&get("received_at")?)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM referrals WHERE provider = $1 AND state IN ('ready', 'delivered')",
    )
    .bind(provider.as_str())
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    Ok(InboxPage {
        entries,
        total: u64::try_from(total).unwrap_or(0),
    })
}
