//! The single writer: batches operations into one transaction (group commit) and
//! keeps the head of the audit chain, so events are chained in commit order.

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::read::summary_from;
use super::{db_err, exec};
use crate::audit::event::format_time;
use crate::audit::{Action, AuditDraft, AuditEvent, GENESIS, Outcome};
use crate::domain::{State, Urgency};
use crate::store::{Accepted, NewReferral, ReferralSummary, StatusChange, StoreError};

/// Most operations committed together. Bounded so one transaction stays short.
const MAX_BATCH: usize = 512;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write operation and where to send its result.
pub(super) enum Job {
    Accept(Box<NewReferral>, Reply<Accepted>),
    Audit(AuditDraft, Reply<()>),
    Status(StatusChange, Reply<ReferralSummary>),
    Shutdown(oneshot::Sender<()>),
}

/// A result waiting for the batch to commit before it may be sent.
enum Pending {
    Accept(Reply<Accepted>, Result<Accepted, StoreError>),
    Audit(Reply<()>, Result<(), StoreError>),
    Status(Reply<ReferralSummary>, Result<ReferralSummary, StoreError>),
}

impl Pending {
    fn send(self, committed: bool) {
        fn out<T>(r: Result<T, StoreError>, committed: bool) -> Result<T, StoreError> {
            match r {
                Ok(_) if !committed => Err(StoreError::Database("commit failed".into())),
                other => other,
            }
        }
        // A closed receiver means the caller gave up; the commit stands regardless.
        match self {
            Pending::Accept(tx, r) => drop(tx.send(out(r, committed))),
            Pending::Audit(tx, r) => drop(tx.send(out(r, committed))),
            Pending::Status(tx, r) => drop(tx.send(out(r, committed))),
        }
    }
}

/// The next sequence number and the hash the next event must chain to.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChainHead {
    next_seq: i64,
    prev: [u8; 32],
}

impl ChainHead {
    pub(super) async fn load(conn: &mut SqliteConnection) -> Result<Self, StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        match row {
            None => Ok(Self {
                next_seq: 1,
                prev: GENESIS,
            }),
            Some(r) => {
                let seq: i64 = r.try_get("seq").map_err(db_err)?;
                let hash: Vec<u8> = r.try_get("hash").map_err(db_err)?;
                let prev = hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("audit hash length"))?;
                Ok(Self {
                    next_seq: seq + 1,
                    prev,
                })
            }
        }
    }
}

pub(super) async fn run(
    mut conn: SqliteConnection,
    mut head: ChainHead,
    mut rx: mpsc::Receiver<Job>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut shutdown = None;
        let work: Vec<Job> = batch
            .into_iter()
            .filter_map(|j| match j {
                Job::Shutdown(tx) => {
                    shutdown = Some(tx);
                    None
                }
                other => Some(other),
            })
            .collect();
        if !work.is_empty() {
            commit_batch(&mut conn, &mut head, work).await;
        }
        if let Some(tx) = shutdown {
            rx.close();
            // Jobs that raced the shutdown are still committed.
            let mut rest = Vec::new();
            while let Ok(job) = rx.try_recv() {
                rest.push(job);
            }
            if !rest.is_empty() {
                commit_batch(&mut conn, &mut head, rest).await;
            }
            let _ = sqlx::Connection::close(conn).await;
            let _ = tx.send(());
            return;
        }
    }
}

async fn commit_batch(conn: &mut SqliteConnection, head: &mut ChainHead, jobs: Vec<Job>) {
    let start = *head;
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        tracing::error!(error = %e, "store could not begin a transaction");
        jobs.into_iter()
            .filter_map(fail)
            .for_each(|p| p.send(false));
        return;
    }
    let mut pending = Vec::with_capacity(jobs.len());
    for job in jobs {
        let before = *head;
        let savepoint = exec(conn, "SAVEPOINT op").await;
        let p = match job {
            Job::Accept(new, tx) => Pending::Accept(tx, accept(conn, head, &new).await),
            Job::Audit(draft, tx) => {
                Pending::Audit(tx, append(conn, head, &draft, Utc::now()).await.map(|_| ()))
            }
            Job::Status(change, tx) => {
                Pending::Status(tx, change_status(conn, head, &change).await)
            }
            Job::Shutdown(_) => continue,
        };
        let failed = savepoint.is_err()
            || matches!(
                &p,
                Pending::Accept(_, Err(_)) | Pending::Audit(_, Err(_)) | Pending::Status(_, Err(_))
            );
        if failed {
            *head = before;
            let _ = exec(conn, "ROLLBACK TO op").await;
        }
        let _ = exec(conn, "RELEASE op").await;
        pending.push(p);
    }
    let committed = match exec(conn, "COMMIT").await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "store commit failed");
            let _ = exec(conn, "ROLLBACK").await;
            *head = start;
            false
        }
    };
    for p in pending {
        p.send(committed);
    }
}

fn fail(job: Job) -> Option<Pending> {
    fn e<T>() -> Result<T, StoreError> {
        Err(StoreError::Database("could not begin transaction".into()))
    }
    match job {
        Job::Accept(_, tx) => Some(Pending::Accept(tx, e())),
        Job::Audit(_, tx) => Some(Pending::Audit(tx, e())),
        Job::Status(_, tx) => Some(Pending::Status(tx, e())),
        Job::Shutdown(_) => None,
    }
}

/// Appends one chained audit event and advances the head.
async fn append(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    draft: &AuditDraft,
    at: DateTime<Utc>,
) -> Result<AuditEvent, StoreError> {
    let ev = AuditEvent::chain(draft, head.next_seq, at, head.prev);
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor, action, referral_id, outcome, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(ev.seq)
    .bind(format_time(ev.at))
    .bind(ev.actor.as_deref())
    .bind(&ev.action)
    .bind(ev.referral_id.as_deref())
    .bind(&ev.outcome)
    .bind(ev.detail.as_deref())
    .bind(&ev.prev_hash[..])
    .bind(&ev.hash[..])
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    head.next_seq += 1;
    head.prev = ev.hash;
    Ok(ev)
}

const SUMMARY_COLUMNS: &str = "id, referrer, provider, state, urgency, received_at";

async fn find_existing(
    conn: &mut SqliteConnection,
    new: &NewReferral,
) -> Result<Option<ReferralSummary>, StoreError> {
    if let Some(key) = new.idempotency_hash {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLUMNS}, content_hash FROM referrals WHERE referrer = $1 AND idempotency_hash = $2"
        )))
        .bind(new.referrer.as_str())
        .bind(&key[..])
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        if let Some(row) = row {
            let content: Vec<u8> = row.try_get("content_hash").map_err(db_err)?;
            if content != new.content_hash {
                return Err(StoreError::IdempotencyConflict);
            }
            return summary_from(&row).map(Some);
        }
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SUMMARY_COLUMNS} FROM referrals WHERE referrer = $1 AND content_hash = $2"
    )))
    .bind(new.referrer.as_str())
    .bind(&new.content_hash[..])
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    row.as_ref().map(summary_from).transpose()
}

async fn accept(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    new: &NewReferral,
) -> Result<Accepted, StoreError> {
    if let Some(existing) = find_existing(conn, new).await? {
        let draft = AuditDraft {
            actor: Some(new.referrer.clone()),
            action: Action::Duplicate,
            referral_id: Some(existing.id),
            outcome: Outcome::Success,
            detail: Some(format!("channel={}", new.channel)),
        };
        append(conn, head, &draft, new.received_at).await?;
        return Ok(Accepted::Duplicate(existing));
    }
    let at = format_time(new.received_at);
    let (doc_type, doc) = match &new.document {
        Some((t, d)) => (Some(t.as_str()), Some(d.as_slice())),
        None => (None, None),
    };
    sqlx::query(
        "INSERT INTO referrals (id, referrer, provider, channel, state, urgency, priority_rank, received_at, updated_at,
                                idempotency_hash, content_hash, record_sealed, document_type, document_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13)",
    )
    .bind(new.id.to_string())
    .bind(new.referrer.as_str())
    .bind(new.provider.as_ref().map(|p| p.as_str()))
    .bind(new.channel)
    .bind(new.state.as_str())
    .bind(new.urgency.as_str())
    .bind(if new.urgency == Urgency::Urgent { 0_i64 } else { 1 })
    .bind(&at)
    .bind(new.idempotency_hash.as_ref().map(|h| &h[..]))
    .bind(&new.content_hash[..])
    .bind(&new.record_sealed[..])
    .bind(doc_type)
    .bind(doc)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let actor = Some(new.referrer.as_str());
    insert_transition(
        conn,
        &new.id.to_string(),
        1,
        State::Received,
        &at,
        actor,
        None,
    )
    .await?;
    insert_transition(conn, &new.id.to_string(), 2, new.state, &at, None, None).await?;
    let draft = |action, detail| AuditDraft {
        actor: Some(new.referrer.clone()),
        action,
        referral_id: Some(new.id),
        outcome: Outcome::Success,
        detail,
    };
    append(
        conn,
        head,
        &draft(Action::Intake, Some(format!("channel={}", new.channel))),
        new.received_at,
    )
    .await?;
    let second = match &new.provider {
        Some(p) if new.state == State::Ready => {
            let detail = match &new.audit_detail {
                Some(d) => format!("provider={p};{d}"),
                None => format!("provider={p}"),
            };
            draft(Action::Routed, Some(detail))
        }
        _ => draft(Action::HeldForReview, new.audit_detail.clone()),
    };
    append(conn, head, &second, new.received_at).await?;
    Ok(Accepted::Created(ReferralSummary {
        id: new.id,
        referrer: new.referrer.clone(),
        provider: new.provider.clone(),
        state: new.state,
        urgency: new.urgency,
        received_at: new.received_at,
    }))
}

async fn insert_transition(
    conn: &mut SqliteConnection,
    id: &str,
    seq: i64,
    state: State,
    at: &str,
    actor: Option<&str>,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO transitions (referral_id, seq, state, at, actor, reason) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(seq)
        .bind(state.as_str())
        .bind(at)
        .bind(actor)
        .bind(reason)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn change_status(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    change: &StatusChange,
) -> Result<ReferralSummary, StoreError> {
    let id = change.id.to_string();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SUMMARY_COLUMNS} FROM referrals WHERE id = $1"
    )))
    .bind(&id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(StoreError::NotFound)?;
    let mut summary = summary_from(&row)?;
    // Another provider's referral is reported as not found, so ids cannot be probed.
    if change.provider.is_some() && change.provider != summary.provider {
        return Err(StoreError::NotFound);
    }
    summary.state.check_move_to(change.to)?;
    let at = format_time(change.at);
    if summary.state != change.to {
        sqlx::query("UPDATE referrals SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(change.to.as_str())
            .bind(&at)
            .bind(&id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM transitions WHERE referral_id = $1",
        )
        .bind(&id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        insert_transition(
            conn,
            &id,
            seq,
            change.to,
            &at,
            Some(change.actor.as_str()),
            change.reason.as_deref(),
        )
        .await?;
    }
    let draft = AuditDraft {
        actor: Some(change.actor.clone()),
        action: change.action,
        referral_id: Some(change.id),
        outcome: Outcome::Success,
        detail: Some(format!("state={}", change.to)),
    };
    append(conn, head, &draft, change.at).await?;
    summary.state = change.to;
    Ok(summary)
}
