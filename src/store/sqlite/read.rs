//! Read-only queries, served by the read pool (WAL lets them run beside the writer).

use sqlx::{Row, SqlitePool};

use super::{db_err, parse_id, parse_org, parse_state, parse_time};
use crate::audit::AuditEvent;
use crate::domain::{OrgId, ReferralId, State, Urgency};
use crate::store::{InboxEntry, ReferralSummary, StoreError, StoredReferral, Transition};

pub(super) fn urgency_from(s: &str) -> Result<Urgency, StoreError> {
    match s {
        "urgent" => Ok(Urgency::Urgent),
        "routine" => Ok(Urgency::Routine),
        _ => Err(StoreError::Corrupt("urgency")),
    }
}

pub(super) fn summary_from(row: &sqlx::sqlite::SqliteRow) -> Result<ReferralSummary, StoreError> {
    let get = |c: &str| row.try_get::<String, _>(c).map_err(db_err);
    let provider: Option<String> = row.try_get("provider").map_err(db_err)?;
    Ok(ReferralSummary {
        id: parse_id(&get("id")?)?,
        referrer: parse_org(&get("referrer")?)?,
        provider: provider.as_deref().map(parse_org).transpose()?,
        state: parse_state(&get("state")?)?,
        urgency: urgency_from(&get("urgency")?)?,
        received_at: parse_time(&get("received_at")?)?,
    })
}

pub(super) async fn referral(
    pool: &SqlitePool,
    id: ReferralId,
) -> Result<StoredReferral, StoreError> {
    let row = sqlx::query(
        "SELECT id, referrer, provider, channel, state, urgency, received_at, record_sealed, document_type, document_sealed
         FROM referrals WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(db_err)?
    .ok_or(StoreError::NotFound)?;
    let summary = summary_from(&row)?;
    let doc_type: Option<String> = row.try_get("document_type").map_err(db_err)?;
    let doc: Option<Vec<u8>> = row.try_get("document_sealed").map_err(db_err)?;
    let history = sqlx::query(
        "SELECT state, at, actor, reason FROM transitions WHERE referral_id = $1 ORDER BY seq",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(Transition {
            state: parse_state(&r.try_get::<String, _>("state").map_err(db_err)?)?,
            at: parse_time(&r.try_get::<String, _>("at").map_err(db_err)?)?,
            actor: r.try_get("actor").map_err(db_err)?,
            reason: r.try_get("reason").map_err(db_err)?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(StoredReferral {
        summary,
        channel: row.try_get("channel").map_err(db_err)?,
        record_sealed: row.try_get("record_sealed").map_err(db_err)?,
        document: doc_type.zip(doc),
        history,
    })
}

pub(super) async fn inbox(
    pool: &SqlitePool,
    provider: &OrgId,
    limit: u32,
) -> Result<Vec<InboxEntry>, StoreError> {
    let query = sqlx::query(
        "SELECT id, state, urgency, received_at FROM referrals
         WHERE provider = $1 AND state IN ('ready', 'delivered')
         ORDER BY priority_rank, received_at, id LIMIT $2",
    )
    .bind(provider.as_str())
    .bind(i64::from(limit));
    entries(pool, query).await
}

pub(super) async fn review_queue(
    pool: &SqlitePool,
    limit: u32,
) -> Result<Vec<InboxEntry>, StoreError> {
    let query = sqlx::query(
        "SELECT id, state, urgency, received_at FROM referrals
         WHERE state = 'needs-review'
         ORDER BY priority_rank, received_at, id LIMIT $1",
    )
    .bind(i64::from(limit));
    entries(pool, query).await
}

async fn entries(
    pool: &SqlitePool,
    query: sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
) -> Result<Vec<InboxEntry>, StoreError> {
    query
        .fetch_all(pool)
        .await
        .map_err(db_err)?
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
        .collect()
}

pub(super) async fn audit_events(pool: &SqlitePool) -> Result<Vec<AuditEvent>, StoreError> {
    sqlx::query("SELECT seq, at, actor, action, referral_id, outcome, detail, prev_hash, hash FROM audit_events ORDER BY seq")
        .fetch_all(pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            let hash = |c: &str| -> Result<[u8; 32], StoreError> {
                let v: Vec<u8> = r.try_get(c).map_err(db_err)?;
                v.try_into().map_err(|_| StoreError::Corrupt("audit hash length"))
            };
            Ok(AuditEvent {
                seq: r.try_get("seq").map_err(db_err)?,
                at: parse_time(&r.try_get::<String, _>("at").map_err(db_err)?)?,
                actor: r.try_get("actor").map_err(db_err)?,
                action: r.try_get("action").map_err(db_err)?,
                referral_id: r.try_get("referral_id").map_err(db_err)?,
                outcome: r.try_get("outcome").map_err(db_err)?,
                detail: r.try_get("detail").map_err(db_err)?,
                prev_hash: hash("prev_hash")?,
                hash: hash("hash")?,
            })
        })
        .collect()
}

pub(super) async fn count_by_state(pool: &SqlitePool) -> Result<Vec<(State, i64)>, StoreError> {
    sqlx::query("SELECT state, COUNT(*) AS n FROM referrals GROUP BY state")
        .fetch_all(pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            Ok((
                parse_state(&r.try_get::<String, _>("state").map_err(db_err)?)?,
                r.try_get("n").map_err(db_err)?,
            ))
        })
        .collect()
}
