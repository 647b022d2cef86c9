//! Push delivery state in SQLite: when each referral for a push provider is next due,
//! how its last attempt failed, and the moves `ready -> delivered (-> acknowledged)`,
//! `ready -> dead-letter` and the operator's `dead-letter -> ready` re-drive.
//!
//! Writes go through the single writer ([`Job`], applied by `writer.rs` inside the
//! batch's transaction, each in its own savepoint), so an attempt's row, the
//! referral's state, its history and its audit events commit together. Reads use the
//! read pool. Nothing here holds or logs patient data: ids, codes, counts and times.

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, SqlitePool};
use tokio::sync::oneshot;

use super::read::urgency_from;
use super::writer::{ChainHead, append, change_status, in_savepoint};
use super::{db_err, parse_id, parse_org, parse_time};
use crate::audit::event::format_time;
use crate::audit::{Action, AuditDraft, Outcome};
use crate::domain::{OrgId, ReferralId, State};
use crate::store::{
    DeadLetterEntry, DuePush, PushAttempt, PushStatus, Redrive, ReferralSummary, StatusChange,
    StoreError,
};

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One push write, with where its result goes.
pub(super) enum Job {
    Attempt(Box<PushAttempt>, Reply<()>),
    Redrive(Redrive, Reply<ReferralSummary>),
}

/// A result held until the batch commits.
pub(super) enum Done {
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
            Done::Unit(tx, r) => drop(tx.send(out(r, committed))),
            Done::Summary(tx, r) => drop(tx.send(out(r, committed))),
        }
    }
}

impl Job {
    /// The failure sent when the batch's transaction could not even begin.
    pub(super) fn fail(self) -> Done {
        let e = || StoreError::Database("could not begin transaction".into());
        match self {
            Job::Attempt(_, tx) => Done::Unit(tx, Err(e())),
            Job::Redrive(_, tx) => Done::Summary(tx, Err(e())),
        }
    }
}

/// Applies one job in its own savepoint.
pub(super) async fn apply(conn: &mut SqliteConnection, head: &mut ChainHead, job: Job) -> Done {
    match job {
        Job::Attempt(attempt, tx) => {
            let r = in_savepoint(conn, head, async |conn, head| {
                record_attempt(conn, head, &attempt).await
            })
            .await;
            Done::Unit(tx, r)
        }
        Job::Redrive(redrive, tx) => {
            let r = in_savepoint(conn, head, async |conn, head| {
                redrive_one(conn, head, &redrive).await
            })
            .await;
            Done::Summary(tx, r)
        }
    }
}

/// The row of one attempt, whatever its outcome.
struct Delivery<'a> {
    id: ReferralId,
    provider: &'a OrgId,
    attempts: u32,
    next_at: DateTime<Utc>,
    error: Option<&'static str>,
    status: Option<u16>,
    delivered_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
}

async fn upsert(conn: &mut SqliteConnection, r: &Delivery<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO push_deliveries
            (referral_id, provider, attempts, next_attempt_at, last_error, last_status, delivered_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (referral_id) DO UPDATE SET
            provider = excluded.provider, attempts = excluded.attempts,
            next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error,
            last_status = excluded.last_status, delivered_at = excluded.delivered_at,
            updated_at = excluded.updated_at",
    )
    .bind(r.id.to_string())
    .bind(r.provider.as_str())
    .bind(i64::from(r.attempts))
    .bind(format_time(r.next_at))
    .bind(r.error)
    .bind(r.status.map(i64::from))
    .bind(r.delivered_at.map(format_time))
    .bind(format_time(r.at))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn state_of(conn: &mut SqliteConnection, id: ReferralId) -> Result<String, StoreError> {
    sqlx::query_scalar("SELECT state FROM referrals WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound)
}

async fn record_attempt(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    attempt: &PushAttempt,
) -> Result<(), StoreError> {
    match attempt {
        PushAttempt::Delivered {
            id,
            provider,
            at,
            attempts,
            status,
            acknowledged,
            notify,
        } => {
            let row = Delivery {
                id: *id,
                provider,
                attempts: *attempts,
                next_at: *at,
                error: None,
                status: Some(*status),
                delivered_at: Some(*at),
                at: *at,
            };
            upsert(conn, &row).await?;
            // Only a referral still waiting moves: one the provider downloaded through
            // its inbox meanwhile (or acknowledged) keeps its later state.
            if state_of(conn, *id).await? != State::Ready.as_str() {
                return Ok(());
            }
            let change = |to, action, reason: &str| StatusChange {
                id: *id,
                actor: provider.clone(),
                provider: Some(provider.clone()),
                to,
                reason: Some(reason.to_owned()),
                action,
                at: *at,
            };
            change_status(
                conn,
                head,
                &change(State::Delivered, Action::PushDelivery, "push"),
            )
            .await?;
            if *acknowledged {
                let ack = change(State::Acknowledged, Action::Acknowledge, "push-response-ok");
                change_status(conn, head, &ack).await?;
                if let Some(mail) = notify {
                    super::outbox::insert(conn, mail).await?;
                }
            }
            Ok(())
        }
        PushAttempt::Retry {
            id,
            provider,
            at,
            next_at,
            attempts,
            error,
            status,
        } => {
            let row = Delivery {
                id: *id,
                provider,
                attempts: *attempts,
                next_at: *next_at,
                error: Some(error),
                status: *status,
                delivered_at: None,
                at: *at,
            };
            upsert(conn, &row).await
        }
        PushAttempt::GiveUp {
            id,
            provider,
            at,
            attempts,
            error,
            status,
            reason,
        } => {
            let row = Delivery {
                id: *id,
                provider,
                attempts: *attempts,
                next_at: *at,
                error: Some(error),
                status: *status,
                delivered_at: None,
                at: *at,
            };
            upsert(conn, &row).await?;
            if state_of(conn, *id).await? != State::Ready.as_str() {
                return Ok(());
            }
            let status = status.map_or_else(|| "-".to_owned(), |s| s.to_string());
            let detail = format!(
                "provider={provider};attempts={attempts};error={error};status={status};reason={reason}"
            );
            let given_up = AuditDraft {
                actor: None,
                action: Action::PushGivenUp,
                referral_id: Some(*id),
                outcome: Outcome::Failure,
                detail: Some(detail),
            };
            append(conn, head, &given_up, *at).await?;
            move_state(conn, head, *id, State::DeadLetter, None, reason, *at).await
        }
    }
}

/// Moves a referral to `to` with its history row and a status-change audit event, for
/// moves the gateway itself (actor `None`) or an operator makes.
async fn move_state(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    id: ReferralId,
    to: State,
    actor: Option<&OrgId>,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let key = id.to_string();
    let time = format_time(at);
    sqlx::query("UPDATE referrals SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(to.as_str())
        .bind(&time)
        .bind(&key)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO transitions (referral_id, seq, state, at, actor, reason)
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5
         FROM transitions WHERE referral_id = $1",
    )
    .bind(&key)
    .bind(to.as_str())
    .bind(&time)
    .bind(actor.map(OrgId::as_str))
    .bind(reason)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let (action, outcome) = match (to, actor) {
        (State::DeadLetter, _) => (Action::StatusChange, Outcome::Failure),
        (_, Some(_)) => (Action::Redrive, Outcome::Success),
        _ => (Action::StatusChange, Outcome::Success),
    };
    let draft = AuditDraft {
        actor: actor.cloned(),
        action,
        referral_id: Some(id),
        outcome,
        detail: Some(format!("state={to};reason={reason}")),
    };
    append(conn, head, &draft, at).await?;
    Ok(())
}

async fn redrive_one(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    r: &Redrive,
) -> Result<ReferralSummary, StoreError> {
    let state = super::parse_state(&state_of(conn, r.id).await?)?;
    state.check_move_to(State::Ready)?;
    if state != State::DeadLetter {
        // Only the dead letters are re-driven (review releases go through review).
        return Err(StoreError::Transition(
            crate::domain::lifecycle::TransitionError {
                from: state,
                to: State::Ready,
            },
        ));
    }
    // Attempts start again: the re-driven referral gets the full retry budget.
    sqlx::query("DELETE FROM push_deliveries WHERE referral_id = $1")
        .bind(r.id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    move_state(
        conn,
        head,
        r.id,
        State::Ready,
        Some(&r.operator),
        "redrive",
        r.at,
    )
    .await?;
    let row = sqlx::query(
        "SELECT id, referrer, provider, state, urgency, received_at FROM referrals WHERE id = $1",
    )
    .bind(r.id.to_string())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    super::read::summary_from(&row)
}

fn attempts_of(row: &sqlx::sqlite::SqliteRow) -> Result<Option<u32>, StoreError> {
    let n: Option<i64> = row.try_get("attempts").map_err(db_err)?;
    n.map(|n| u32::try_from(n).map_err(|_| StoreError::Corrupt("push attempts")))
        .transpose()
}

fn status_of(row: &sqlx::sqlite::SqliteRow) -> Result<Option<u16>, StoreError> {
    let n: Option<i64> = row.try_get("last_status").map_err(db_err)?;
    n.map(|n| u16::try_from(n).map_err(|_| StoreError::Corrupt("push status")))
        .transpose()
}

pub(super) async fn due(
    pool: &SqlitePool,
    provider: &OrgId,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DuePush>, StoreError> {
    sqlx::query(
        "SELECT r.id, p.attempts FROM referrals r
         LEFT JOIN push_deliveries p ON p.referral_id = r.id
         WHERE r.provider = $1 AND r.state = 'ready'
           AND (p.next_attempt_at IS NULL OR p.next_attempt_at <= $2)
         ORDER BY r.priority_rank, r.received_at, r.id LIMIT $3",
    )
    .bind(provider.as_str())
    .bind(format_time(now))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(DuePush {
            id: parse_id(&r.try_get::<String, _>("id").map_err(db_err)?)?,
            attempts: attempts_of(r)?.unwrap_or(0),
        })
    })
    .collect()
}

pub(super) async fn next_due(pool: &SqlitePool) -> Result<Option<DateTime<Utc>>, StoreError> {
    let at: Option<String> = sqlx::query_scalar(
        "SELECT MIN(p.next_attempt_at) FROM push_deliveries p
         JOIN referrals r ON r.id = p.referral_id WHERE r.state = 'ready'",
    )
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    at.as_deref().map(parse_time).transpose()
}

pub(super) async fn status(
    pool: &SqlitePool,
    id: ReferralId,
) -> Result<Option<PushStatus>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT attempts, next_attempt_at, last_error, last_status, delivered_at
         FROM push_deliveries WHERE referral_id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(db_err)?
    else {
        return Ok(None);
    };
    let delivered: Option<String> = row.try_get("delivered_at").map_err(db_err)?;
    Ok(Some(PushStatus {
        attempts: attempts_of(&row)?.unwrap_or(0),
        next_attempt_at: parse_time(
            &row.try_get::<String, _>("next_attempt_at")
                .map_err(db_err)?,
        )?,
        last_error: row.try_get("last_error").map_err(db_err)?,
        last_status: status_of(&row)?,
        delivered_at: delivered.as_deref().map(parse_time).transpose()?,
    }))
}

pub(super) async fn dead_letters(
    pool: &SqlitePool,
    limit: u32,
) -> Result<Vec<DeadLetterEntry>, StoreError> {
    sqlx::query(
        "SELECT r.id, r.provider, r.urgency, r.received_at, r.updated_at,
                p.attempts, p.last_error, p.last_status,
                (SELECT t.reason FROM transitions t WHERE t.referral_id = r.id
                 ORDER BY t.seq DESC LIMIT 1) AS reason
         FROM referrals r LEFT JOIN push_deliveries p ON p.referral_id = r.id
         WHERE r.state = 'dead-letter'
         ORDER BY r.updated_at, r.id LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let get = |c: &str| r.try_get::<String, _>(c).map_err(db_err);
        let provider: Option<String> = r.try_get("provider").map_err(db_err)?;
        Ok(DeadLetterEntry {
            id: parse_id(&get("id")?)?,
            provider: provider.as_deref().map(parse_org).transpose()?,
            urgency: urgency_from(&get("urgency")?)?,
            received_at: parse_time(&get("received_at")?)?,
            since: parse_time(&get("updated_at")?)?,
            reason: r.try_get("reason").map_err(db_err)?,
            attempts: attempts_of(r)?,
            last_error: r.try_get("last_error").map_err(db_err)?,
            last_status: status_of(r)?,
        })
    })
    .collect()
}
