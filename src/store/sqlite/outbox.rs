//! The outbox in SQLite: outgoing mail waits here, sealed, until the relay has taken
//! it, and each referral's reply address is kept here for status notifications.
//!
//! Writes go through the single writer ([`Job`], applied by `writer.rs` inside the
//! batch's transaction, each in its own savepoint); reads use the read pool. Nothing
//! here opens a sealed value or logs an address.

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, SqlitePool};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::writer::{ChainHead, append, change_status, in_savepoint};
use super::{db_err, parse_id, parse_time};
use crate::audit::event::format_time;
use crate::audit::{Action, AuditDraft, Outcome};
use crate::domain::{OrgId, ReferralId, State};
use crate::store::{
    DueMail, MailAttempt, MailKind, MailState, MailStatus, OutgoingMail, ReferralSummary,
    StatusChange, StoreError,
};

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One outbox write, with where its result goes.
pub(super) enum Job {
    Queue(OutgoingMail, Reply<bool>),
    Attempt(Uuid, MailAttempt, Reply<()>),
    Remember(ReferralId, Vec<u8>, Reply<()>),
    StatusWithMail(
        Box<(StatusChange, Option<OutgoingMail>)>,
        Reply<ReferralSummary>,
    ),
}

/// A result held until the batch commits.
pub(super) enum Done {
    Flag(Reply<bool>, Result<bool, StoreError>),
    Unit(Reply<()>, Result<(), StoreError>),
    Summary(Reply<ReferralSummary>, Result<ReferralSummary, StoreError>),
}

impl Done {
    pub(super) fn send(self, committed: bool) {
        fn out<T>(r: Result<T, StoreError>, committed: bool) -> Result<T, StoreError> {
            match r {
                Ok(_) if !committed => Err(StoreError::Database("commit failed".into())),
                other => other,
            }
        }
        // A closed receiver means the caller gave up; the commit stands regardless.
        match self {
            Done::Flag(tx, r) => drop(tx.send(out(r, committed))),
            Done::Unit(tx, r) => drop(tx.send(out(r, committed))),
            Done::Summary(tx, r) => drop(tx.send(out(r, committed))),
        }
    }
}

impl Job {
    /// The failure sent when the batch's transaction could not even begin.
    pub(super) fn fail(self) -> Done {
        fn e<T>() -> Result<T, StoreError> {
            Err(StoreError::Database("could not begin transaction".into()))
        }
        match self {
            Job::Queue(_, tx) => Done::Flag(tx, e()),
            Job::Attempt(_, _, tx) | Job::Remember(_, _, tx) => Done::Unit(tx, e()),
            Job::StatusWithMail(_, tx) => Done::Summary(tx, e()),
        }
    }
}

/// Applies one job in its own savepoint.
pub(super) async fn apply(conn: &mut SqliteConnection, head: &mut ChainHead, job: Job) -> Done {
    match job {
        Job::Queue(mail, tx) => {
            let r = in_savepoint(conn, head, async |conn, _| insert(conn, &mail).await).await;
            Done::Flag(tx, r)
        }
        Job::Attempt(id, attempt, tx) => {
            let r = in_savepoint(conn, head, async |conn, head| {
                record_attempt(conn, head, id, &attempt).await
            })
            .await;
            Done::Unit(tx, r)
        }
        Job::Remember(referral, sealed, tx) => {
            let r = in_savepoint(conn, head, async |conn, _| {
                sqlx::query(
                    "INSERT OR IGNORE INTO reply_addresses (referral_id, address_sealed) VALUES ($1, $2)",
                )
                .bind(referral.to_string())
                .bind(&sealed[..])
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                Ok(())
            })
            .await;
            Done::Unit(tx, r)
        }
        Job::StatusWithMail(job, tx) => {
            let (change, mail) = *job;
            let r = in_savepoint(conn, head, async |conn, head| {
                let before: Option<String> =
                    sqlx::query_scalar("SELECT state FROM referrals WHERE id = $1")
                        .bind(change.id.to_string())
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_err)?;
                let summary = change_status(conn, head, &change).await?;
                // Only a real change is told (a repeated download is not).
                if before.as_deref() != Some(summary.state.as_str())
                    && let Some(mail) = &mail
                {
                    insert(conn, mail).await?;
                }
                Ok(summary)
            })
            .await;
            Done::Summary(tx, r)
        }
    }
}

pub(super) async fn insert(
    conn: &mut SqliteConnection,
    mail: &OutgoingMail,
) -> Result<bool, StoreError> {
    let at = format_time(mail.queued_at);
    let done = sqlx::query(
        "INSERT OR IGNORE INTO outbox (id, kind, referral_id, state, attempts, queued_at, next_attempt_at, message_sealed)
         VALUES ($1, $2, $3, 'pending', 0, $4, $4, $5)",
    )
    .bind(mail.id.to_string())
    .bind(mail.kind.as_str())
    .bind(mail.referral_id.map(|r| r.to_string()))
    .bind(&at)
    .bind(&mail.sealed[..])
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected() == 1)
}

async fn record_attempt(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    id: Uuid,
    attempt: &MailAttempt,
) -> Result<(), StoreError> {
    let key = id.to_string();
    let query = match attempt {
        MailAttempt::Sent { at } => sqlx::query(
            "UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = $1, last_error = NULL
             WHERE id = $2 AND state = 'pending'",
        )
        .bind(format_time(*at))
        .bind(&key),
        MailAttempt::Retry { next_at, error, .. } => sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2
             WHERE id = $3 AND state = 'pending'",
        )
        .bind(format_time(*next_at))
        .bind(*error)
        .bind(&key),
        MailAttempt::GiveUp { error, .. } => sqlx::query(
            "UPDATE outbox SET state = 'given-up', attempts = attempts + 1, last_error = $1
             WHERE id = $2 AND state = 'pending'",
        )
        .bind(*error)
        .bind(&key),
    };
    let done = query.execute(&mut *conn).await.map_err(db_err)?;
    if done.rows_affected() != 1 {
        return Err(StoreError::NotFound);
    }
    if let MailAttempt::GiveUp { at, error } = attempt {
        let row = sqlx::query("SELECT kind, referral_id, attempts FROM outbox WHERE id = $1")
            .bind(&key)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let kind: String = row.try_get("kind").map_err(db_err)?;
        let referral: Option<String> = row.try_get("referral_id").map_err(db_err)?;
        let attempts: i64 = row.try_get("attempts").map_err(db_err)?;
        let draft = AuditDraft {
            actor: None,
            action: Action::MailGivenUp,
            referral_id: referral.as_deref().map(parse_id).transpose()?,
            outcome: Outcome::Failure,
            detail: Some(format!(
                "mail={key};kind={kind};attempts={attempts};error={error}"
            )),
        };
        append(conn, head, &draft, *at).await?;
        if kind == MailKind::Delivery.as_str()
            && let Some(referral) = &referral
        {
            dead_letter(conn, head, referral, *at).await?;
        }
    }
    Ok(())
}

/// A referral whose email delivery was given up goes to the dead letters, where
/// operators see it (and may release it to be sent again), in the same transaction.
/// One its provider has since acknowledged through the inbox stays where it is.
async fn dead_letter(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    id: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM referrals WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    if state.as_deref() != Some(State::Delivered.as_str()) {
        return Ok(());
    }
    let time = format_time(at);
    sqlx::query("UPDATE referrals SET state = 'dead-letter', updated_at = $1 WHERE id = $2")
        .bind(&time)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO transitions (referral_id, seq, state, at, actor, reason)
         SELECT $1, COALESCE(MAX(seq), 0) + 1, 'dead-letter', $2, NULL, $3
         FROM transitions WHERE referral_id = $1",
    )
    .bind(id)
    .bind(&time)
    .bind(DELIVERY_FAILED)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let draft = AuditDraft {
        actor: None,
        action: Action::StatusChange,
        referral_id: Some(parse_id(id)?),
        outcome: Outcome::Failure,
        detail: Some(format!("state=dead-letter;reason={DELIVERY_FAILED}")),
    };
    append(conn, head, &draft, at).await?;
    Ok(())
}

/// The reason code of a referral dead-lettered because its email was given up.
const DELIVERY_FAILED: &str = "email-delivery-failed";

fn uuid_of(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt("outbox id"))
}

fn attempts_of(row: &sqlx::sqlite::SqliteRow) -> Result<u32, StoreError> {
    let n: i64 = row.try_get("attempts").map_err(db_err)?;
    u32::try_from(n).map_err(|_| StoreError::Corrupt("outbox attempts"))
}

pub(super) async fn due(
    pool: &SqlitePool,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DueMail>, StoreError> {
    sqlx::query(
        "SELECT id, kind, referral_id, attempts, message_sealed FROM outbox
         WHERE state = 'pending' AND next_attempt_at <= $1
         ORDER BY next_attempt_at, queued_at, id LIMIT $2",
    )
    .bind(format_time(now))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let kind: String = r.try_get("kind").map_err(db_err)?;
        let referral: Option<String> = r.try_get("referral_id").map_err(db_err)?;
        Ok(DueMail {
            id: uuid_of(&r.try_get::<String, _>("id").map_err(db_err)?)?,
            kind: MailKind::parse(&kind).ok_or(StoreError::Corrupt("outbox kind"))?,
            referral_id: referral.as_deref().map(parse_id).transpose()?,
            attempts: attempts_of(r)?,
            sealed: r.try_get("message_sealed").map_err(db_err)?,
        })
    })
    .collect()
}

pub(super) async fn next_due(pool: &SqlitePool) -> Result<Option<DateTime<Utc>>, StoreError> {
    let at: Option<String> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'")
            .fetch_one(pool)
            .await
            .map_err(db_err)?;
    at.as_deref().map(parse_time).transpose()
}

pub(super) async fn status(pool: &SqlitePool, id: Uuid) -> Result<MailStatus, StoreError> {
    let row = sqlx::query("SELECT state, attempts, last_error FROM outbox WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound)?;
    let state = match row.try_get::<String, _>("state").map_err(db_err)?.as_str() {
        "pending" => MailState::Pending,
        "sent" => MailState::Sent,
        "given-up" => MailState::GivenUp,
        _ => return Err(StoreError::Corrupt("outbox state")),
    };
    Ok(MailStatus {
        state,
        attempts: attempts_of(&row)?,
        last_error: row.try_get("last_error").map_err(db_err)?,
    })
}

pub(super) async fn reply_address(
    pool: &SqlitePool,
    referral: ReferralId,
) -> Result<Option<Vec<u8>>, StoreError> {
    sqlx::query_scalar("SELECT address_sealed FROM reply_addresses WHERE referral_id = $1")
        .bind(referral.to_string())
        .fetch_optional(pool)
        .await
        .map_err(db_err)
}

pub(super) async fn ready_for(
    pool: &SqlitePool,
    provider: &OrgId,
    limit: u32,
) -> Result<Vec<ReferralId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM referrals WHERE provider = $1 AND state = 'ready'
         ORDER BY priority_rank, received_at, id LIMIT $2",
    )
    .bind(provider.as_str())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    ids.iter().map(|s| parse_id(s)).collect()
}
