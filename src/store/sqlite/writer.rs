//! The single writer: batches operations into one transaction (group commit) and
//! keeps the head of the audit chain, so events are chained in commit order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::accept::{self, Scope};
use super::read::summary_from;
use super::{db_err, exec};
use crate::audit::event::format_time;
use crate::audit::{Action, AuditDraft, AuditEvent, GENESIS, Outcome};
use crate::domain::{State, Urgency};
use crate::store::{
    Accepted, MeshTokenUse, NewReferral, ReferralSummary, ReviewDecision, ReviewOutcome,
    StatusChange, StoreError,
};

/// Most operations committed together. Bounded so one transaction stays short.
const MAX_BATCH: usize = 512;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write operation and where to send its result.
pub(super) enum Job {
    Accept(Box<NewReferral>, Reply<Accepted>),
    Audit(AuditDraft, Reply<()>),
    Status(StatusChange, Reply<ReferralSummary>),
    Review(ReviewDecision, Reply<ReferralSummary>),
    Outbox(super::outbox::Job),
    /// A MESH token use; the reply says whether the token was fresh.
    UseToken(MeshTokenUse, Reply<bool>),
    /// Inbound mail spool writes (`mail.rs`).
    Mail(Box<super::mail::MailWrite>, Reply<()>),
    /// Push delivery attempts and re-drives (`push.rs`).
    Push(super::push::Job),
    Shutdown(oneshot::Sender<()>),
}

/// A result waiting for the batch to commit before it may be sent.
enum Pending {
    Accept(Reply<Accepted>, Result<Accepted, StoreError>),
    Audit(Reply<()>, Result<(), StoreError>),
    Status(Reply<ReferralSummary>, Result<ReferralSummary, StoreError>),
    Outbox(super::outbox::Done),
    Push(super::push::Done),
    Fresh(Reply<bool>, Result<bool, StoreError>),
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
            Pending::Outbox(done) => done.send(committed),
            Pending::Push(done) => done.send(committed),
            Pending::Fresh(tx, r) => drop(tx.send(out(r, committed))),
        }
    }
}

/// The next sequence number and the hash the next event must chain to.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChainHead {
    pub(super) next_seq: i64,
    pub(super) prev: [u8; 32],
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

/// Runs the writer until shut down. `changes` counts commits that may have changed an
/// inbox (anything but MESH token uses); it is bumped before the batch is answered,
/// for [`super::mesh::Listings`].
pub(super) async fn run(
    mut conn: SqliteConnection,
    mut head: ChainHead,
    mut rx: mpsc::Receiver<Job>,
    changes: Arc<AtomicU64>,
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
            commit_batch(&mut conn, &mut head, work, &changes).await;
        }
        if let Some(tx) = shutdown {
            rx.close();
            // Jobs that raced the shutdown are still committed.
            let mut rest = Vec::new();
            while let Ok(job) = rx.try_recv() {
                rest.push(job);
            }
            if !rest.is_empty() {
                commit_batch(&mut conn, &mut head, rest, &changes).await;
            }
            let _ = sqlx::Connection::close(conn).await;
            let _ = tx.send(());
            return;
        }
    }
}

async fn commit_batch(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    jobs: Vec<Job>,
    changes: &AtomicU64,
) {
    let changes_inboxes = jobs.iter().any(|j| !matches!(j, Job::UseToken(..)));
    // Under load most batches are intakes only: they take the two-hop path. If it
    // fails, nothing was kept and the general path below retries each one alone.
    if jobs.len() <= accept::MAX_RUN && jobs.iter().all(|j| matches!(j, Job::Accept(..))) {
        let news: Vec<&NewReferral> = jobs
            .iter()
            .filter_map(|j| match j {
                Job::Accept(new, _) => Some(new.as_ref()),
                _ => None,
            })
            .collect();
        let whole = accept::accept_run(conn, head, &news, Scope::Transaction).await;
        drop(news);
        if let Ok(outcomes) = whole {
            changes.fetch_add(1, Ordering::Release);
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                if let Job::Accept(_, tx) = job {
                    Pending::Accept(tx, outcome).send(true);
                }
            }
            return;
        }
    }
    let start = *head;
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        tracing::error!(error = %e, "store could not begin a transaction");
        jobs.into_iter()
            .filter_map(fail)
            .for_each(|p| p.send(false));
        return;
    }
    let mut pending = Vec::with_capacity(jobs.len());
    let mut forgot_expired_tokens = false;
    let mut jobs = jobs.into_iter().peekable();
    while let Some(job) = jobs.next() {
        match job {
            Job::Accept(new, tx) => {
                // Consecutive intakes go in together: a run costs the same few
                // statements whatever its length.
                let mut run = vec![(new, tx)];
                while run.len() < accept::MAX_RUN
                    && let Some(Job::Accept(new, tx)) =
                        jobs.next_if(|j| matches!(j, Job::Accept(..)))
                {
                    run.push((new, tx));
                }
                accept_jobs(conn, head, run, &mut pending).await;
            }
            Job::Audit(draft, tx) => {
                let r = in_savepoint(conn, head, async |conn, head| {
                    append(conn, head, &draft, Utc::now()).await.map(|_| ())
                })
                .await;
                pending.push(Pending::Audit(tx, r));
            }
            Job::Status(change, tx) => {
                let r = in_savepoint(conn, head, async |conn, head| {
                    change_status(conn, head, &change).await
                })
                .await;
                pending.push(Pending::Status(tx, r));
            }
            Job::Review(decision, tx) => {
                let r = in_savepoint(conn, head, async |conn, head| {
                    decide_review(conn, head, &decision).await
                })
                .await;
                pending.push(Pending::Status(tx, r));
            }
            Job::Outbox(job) => {
                pending.push(Pending::Outbox(super::outbox::apply(conn, head, job).await));
            }
            Job::Push(job) => {
                pending.push(Pending::Push(super::push::apply(conn, head, job).await));
            }
            Job::UseToken(token, tx) => {
                // Consecutive uses go in one statement, as intakes do.
                let mut run = vec![(token, tx)];
                while let Some(Job::UseToken(token, tx)) =
                    jobs.next_if(|j| matches!(j, Job::UseToken(..)))
                {
                    run.push((token, tx));
                }
                if !forgot_expired_tokens {
                    forgot_expired_tokens = true;
                    // Failing to prune only keeps old uses a while longer.
                    if let Err(e) = super::mesh::forget_expired(conn, run[0].0.now).await {
                        tracing::warn!(error = %e, "store could not prune expired MESH token uses");
                    }
                }
                let uses: Vec<&MeshTokenUse> = run.iter().map(|(t, _)| t).collect();
                match super::mesh::use_tokens(conn, &uses).await {
                    Ok(fresh) => {
                        for ((_, tx), fresh) in run.into_iter().zip(fresh) {
                            pending.push(Pending::Fresh(tx, Ok(fresh)));
                        }
                    }
                    // A failed statement changes nothing; the rest of the batch stands.
                    Err(e) => {
                        let why = e.to_string();
                        for (_, tx) in run {
                            pending.push(Pending::Fresh(
                                tx,
                                Err(StoreError::Database(why.clone().into())),
                            ));
                        }
                    }
                }
            }
            Job::Mail(write, tx) => {
                let r = in_savepoint(conn, head, async |conn, head| {
                    super::mail::write(conn, head, &write).await
                })
                .await;
                pending.push(Pending::Audit(tx, r));
            }
            Job::Shutdown(_) => {}
        }
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
    if committed && changes_inboxes {
        changes.fetch_add(1, Ordering::Release);
    }
    for p in pending {
        p.send(committed);
    }
}

/// Runs one operation in its own savepoint: if it fails, its writes and its audit
/// events are undone and the chain head goes back, leaving the rest of the batch intact.
pub(super) async fn in_savepoint<T>(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    op: impl AsyncFnOnce(&mut SqliteConnection, &mut ChainHead) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let before = *head;
    exec(conn, "SAVEPOINT op").await?;
    let result = op(&mut *conn, &mut *head).await;
    let released = match &result {
        Ok(_) => exec(conn, "RELEASE op").await,
        Err(_) => Err(StoreError::Database("operation failed".into())),
    };
    if released.is_err() {
        *head = before;
        let _ = exec(conn, "ROLLBACK TO op").await;
        let _ = exec(conn, "RELEASE op").await;
    }
    match (result, released) {
        (Ok(_), Err(e)) => Err(e),
        (result, _) => result,
    }
}

/// Accepts a run of intakes together; if a statement fails, each is retried alone so
/// that one bad referral fails alone.
async fn accept_jobs(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    run: Vec<(Box<NewReferral>, Reply<Accepted>)>,
    pending: &mut Vec<Pending>,
) {
    let news: Vec<&NewReferral> = run.iter().map(|(n, _)| n.as_ref()).collect();
    // accept_run keeps or undoes a whole run itself (its own savepoint).
    let together = accept::accept_run(conn, head, &news, Scope::Savepoint).await;
    let outcomes = match together {
        Ok(outcomes) => outcomes,
        Err(e) if news.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut each = Vec::with_capacity(news.len());
            for new in &news {
                let one = accept::accept_run(conn, head, &[new], Scope::Savepoint).await;
                each.push(match one {
                    Ok(mut outcomes) => outcomes
                        .pop()
                        .unwrap_or_else(|| Err(StoreError::Database("no outcome".into()))),
                    Err(e) => Err(e),
                });
            }
            each
        }
    };
    for ((_, tx), outcome) in run.into_iter().zip(outcomes) {
        pending.push(Pending::Accept(tx, outcome));
    }
}

fn fail(job: Job) -> Option<Pending> {
    fn e<T>() -> Result<T, StoreError> {
        Err(StoreError::Database("could not begin transaction".into()))
    }
    match job {
        Job::Accept(_, tx) => Some(Pending::Accept(tx, e())),
        Job::Audit(_, tx) | Job::Mail(_, tx) => Some(Pending::Audit(tx, e())),
        Job::Status(_, tx) | Job::Review(_, tx) => Some(Pending::Status(tx, e())),
        Job::Outbox(job) => Some(Pending::Outbox(job.fail())),
        Job::Push(job) => Some(Pending::Push(job.fail())),
        Job::UseToken(_, tx) => Some(Pending::Fresh(tx, e())),
        Job::Shutdown(_) => None,
    }
}

/// Appends one chained audit event and advances the head.
pub(super) async fn append(
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

const SUMMARY_COLUMNS: &str = "id, referrer, provider, state, urgency, received_at";

async fn load_summary(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<ReferralSummary, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SUMMARY_COLUMNS} FROM referrals WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(StoreError::NotFound)?;
    summary_from(&row)
}

/// Appends the next transition of a referral's history.
async fn record_transition(
    conn: &mut SqliteConnection,
    id: &str,
    state: State,
    at: &str,
    actor: &str,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let seq: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM transitions WHERE referral_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    insert_transition(conn, id, seq, state, at, Some(actor), reason).await
}

async fn decide_review(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    d: &ReviewDecision,
) -> Result<ReferralSummary, StoreError> {
    let id = d.id.to_string();
    let mut summary = load_summary(conn, &id).await?;
    let at = format_time(d.at);
    let event = |action, detail: String| AuditDraft {
        actor: Some(d.operator.clone()),
        action,
        referral_id: Some(d.id),
        outcome: Outcome::Success,
        detail: Some(detail),
    };
    match &d.outcome {
        ReviewOutcome::Release {
            provider,
            urgency,
            corrected,
            detail,
        } => {
            summary.state.check_move_to(State::Ready)?;
            if let Some(record) = corrected {
                sqlx::query("UPDATE referrals SET record_sealed = $1 WHERE id = $2")
                    .bind(&record[..])
                    .bind(&id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                append(
                    conn,
                    head,
                    &event(Action::ReviewCorrected, "record".into()),
                    d.at,
                )
                .await?;
            }
            sqlx::query(
                "UPDATE referrals SET state = 'ready', provider = $1, urgency = $2,
                        priority_rank = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(provider.as_str())
            .bind(urgency.as_str())
            .bind(if *urgency == Urgency::Urgent {
                0_i64
            } else {
                1
            })
            .bind(&at)
            .bind(&id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            record_transition(conn, &id, State::Ready, &at, d.operator.as_str(), None).await?;
            let detail = format!("provider={provider};{detail}");
            append(conn, head, &event(Action::ReviewReleased, detail), d.at).await?;
            summary.state = State::Ready;
            summary.provider = Some(provider.clone());
            summary.urgency = *urgency;
        }
        ReviewOutcome::Reject { reason } => {
            summary.state.check_move_to(State::RejectedAtIntake)?;
            sqlx::query(
                "UPDATE referrals SET state = 'rejected-at-intake', updated_at = $1 WHERE id = $2",
            )
            .bind(&at)
            .bind(&id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            let actor = d.operator.as_str();
            record_transition(conn, &id, State::RejectedAtIntake, &at, actor, Some(reason)).await?;
            let detail = format!("reason={reason}");
            append(conn, head, &event(Action::ReviewRejected, detail), d.at).await?;
            summary.state = State::RejectedAtIntake;
        }
    }
    Ok(summary)
}

pub(super) async fn change_status(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    change: &StatusChange,
) -> Result<ReferralSummary, StoreError> {
    let id = change.id.to_string();
    let mut summary = load_summary(conn, &id).await?;
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
        let actor = change.actor.as_str();
        record_transition(conn, &id, change.to, &at, actor, change.reason.as_deref()).await?;
    }
    let draft = AuditDraft {
        actor: Some(change.actor.clone()),
        action: change.action,
        referral_id: Some(change.id),
        outcome: Outcome::Success,
        // Reasons are codes (never free text), so the audit log may carry them.
        detail: Some(match &change.reason {
            Some(r) => format!("state={};reason={r}", change.to),
            None => format!("state={}", change.to),
        }),
    };
    append(conn, head, &draft, change.at).await?;
    summary.state = change.to;
    Ok(summary)
}
