//! The embedded SQLite store: one file, WAL mode, `synchronous = FULL`, so a commit
//! is on disk before the gateway answers.
//!
//! Writes go through one writer task that commits many operations per transaction
//! (group commit): under load one fsync covers a whole batch instead of one each,
//! which is what makes durable intake fast. Intakes waiting together are written with
//! a fixed number of statements (`accept.rs`); other operations each run in their own
//! savepoint, and a failing intake run is retried one referral at a time, so one
//! failure never affects its neighbours. Reads use a small pool; a second connection
//! checkpoints the WAL in the background.

mod accept;
mod documents;
mod mail;
mod mesh;
mod migrate;
mod outbox;
mod push;
mod read;
mod stats;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::ConnectOptions;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{
    Accepted, DeadLetterEntry, DueMail, DuePush, InboxEntry, InboxPage, MailAttempt, MailId,
    MailOutcome, MailStatus, MeshTokenUse, NewMail, NewReferral, OutgoingMail, PushAttempt,
    PushStatus, Redrive, ReferralSummary, ReviewDecision, SealedDocument, SpoolStatus, SpooledMail,
    StatusChange, Store, StoreError, StoredReferral,
};
use crate::audit::{AuditDraft, AuditEvent};
use crate::domain::{OrgId, ReferralId, State};

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    jobs: mpsc::Sender<writer::Job>,
    reads: SqlitePool,
    listings: mesh::Listings,
    writer: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    checkpointer: tokio::sync::Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
}

/// How often committed WAL pages are copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Checkpoints the WAL in the background until stopped, then once more truncating it,
/// so a stopped gateway leaves a compact database file.
async fn checkpoint_until(mut conn: sqlx::SqliteConnection, stop: CancellationToken) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {
                if let Err(e) = exec(&mut conn, "PRAGMA wal_checkpoint(PASSIVE)").await {
                    tracing::warn!(error = %e, "wal checkpoint failed; will retry");
                }
            }
        }
    }
    if let Err(e) = exec(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)").await {
        tracing::warn!(error = %e, "final wal checkpoint failed");
    }
    let _ = sqlx::Connection::close(conn).await;
}

fn db_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Database(Box::new(e))
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt("timestamp"))
}

fn parse_state(s: &str) -> Result<State, StoreError> {
    State::from_str(s).map_err(|_| StoreError::Corrupt("state"))
}

fn parse_org(s: &str) -> Result<OrgId, StoreError> {
    OrgId::parse(s).map_err(|_| StoreError::Corrupt("organisation id"))
}

fn parse_id(s: &str) -> Result<ReferralId, StoreError> {
    ReferralId::parse(s).map_err(|_| StoreError::Corrupt("referral id"))
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies embedded migrations.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(db_err)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .disable_statement_logging();
        // The writer never checkpoints: copying the WAL into the database (and its
        // fsync) would sit in the path of every commit. A second connection does it
        // in the background (PASSIVE: it never blocks the writer or readers).
        let mut conn = options
            .clone()
            .pragma("wal_autocheckpoint", "0")
            .pragma("cache_size", "-16384")
            .connect()
            .await
            .map_err(db_err)?;
        migrate::run(&mut conn).await?;
        let head = writer::ChainHead::load(&mut conn).await?;
        let reads = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(db_err)?;
        let checkpoints = options.connect().await.map_err(db_err)?;
        let stop = CancellationToken::new();
        let checkpointer = tokio::spawn(checkpoint_until(checkpoints, stop.clone()));
        let (jobs, rx) = mpsc::channel(4096);
        let changes = Arc::new(AtomicU64::new(0));
        let handle = tokio::spawn(writer::run(conn, head, rx, changes.clone()));
        Ok(Self {
            jobs,
            reads,
            listings: mesh::Listings::new(changes),
            writer: tokio::sync::Mutex::new(Some(handle)),
            checkpointer: tokio::sync::Mutex::new(Some((stop, checkpointer))),
        })
    }

    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> writer::Job,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(make(tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn accept_referral(&self, new: NewReferral) -> Result<Accepted, StoreError> {
        self.submit(|reply| writer::Job::Accept(Box::new(new), reply))
            .await
    }

    async fn append_audit(&self, draft: AuditDraft) -> Result<(), StoreError> {
        self.submit(|reply| writer::Job::Audit(draft, reply)).await
    }

    async fn get_referral(&self, id: ReferralId) -> Result<StoredReferral, StoreError> {
        read::referral(&self.reads, id).await
    }

    async fn inbox(&self, provider: &OrgId, limit: u32) -> Result<Vec<InboxEntry>, StoreError> {
        read::inbox(&self.reads, provider, limit).await
    }

    async fn review_queue(&self, limit: u32) -> Result<Vec<InboxEntry>, StoreError> {
        read::review_queue(&self.reads, limit).await
    }

    async fn decide_review(&self, decision: ReviewDecision) -> Result<ReferralSummary, StoreError> {
        self.submit(|reply| writer::Job::Review(decision, reply))
            .await
    }

    async fn change_status(&self, change: StatusChange) -> Result<ReferralSummary, StoreError> {
        self.submit(|reply| writer::Job::Status(change, reply))
            .await
    }

    async fn audit_events(&self) -> Result<Vec<AuditEvent>, StoreError> {
        read::audit_events(&self.reads).await
    }

    async fn count_by_state(&self) -> Result<Vec<(State, i64)>, StoreError> {
        read::count_by_state(&self.reads).await
    }

    async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(writer::Job::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        if let Some(handle) = self.writer.lock().await.take() {
            let _ = handle.await;
        }
        if let Some((stop, handle)) = self.checkpointer.lock().await.take() {
            stop.cancel();
            let _ = handle.await;
        }
        self.reads.close().await;
    }
    async fn queue_mail(&self, mail: OutgoingMail) -> Result<bool, StoreError> {
        self.submit(|reply| writer::Job::Outbox(outbox::Job::Queue(mail, reply)))
            .await
    }

    async fn due_mail(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<DueMail>, StoreError> {
        outbox::due(&self.reads, now, limit).await
    }

    async fn next_mail_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        outbox::next_due(&self.reads).await
    }

    async fn record_mail_attempt(
        &self,
        id: uuid::Uuid,
        attempt: MailAttempt,
    ) -> Result<(), StoreError> {
        self.submit(|reply| writer::Job::Outbox(outbox::Job::Attempt(id, attempt, reply)))
            .await
    }

    async fn mail_status(&self, id: uuid::Uuid) -> Result<MailStatus, StoreError> {
        outbox::status(&self.reads, id).await
    }

    async fn remember_reply_address(
        &self,
        referral: ReferralId,
        sealed: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.submit(|reply| writer::Job::Outbox(outbox::Job::Remember(referral, sealed, reply)))
            .await
    }

    async fn reply_address(&self, referral: ReferralId) -> Result<Option<Vec<u8>>, StoreError> {
        outbox::reply_address(&self.reads, referral).await
    }

    async fn ready_for(&self, provider: &OrgId, limit: u32) -> Result<Vec<ReferralId>, StoreError> {
        outbox::ready_for(&self.reads, provider, limit).await
    }

    async fn change_status_with_mail(
        &self,
        change: StatusChange,
        mail: Option<OutgoingMail>,
    ) -> Result<ReferralSummary, StoreError> {
        self.submit(|reply| {
            writer::Job::Outbox(outbox::Job::StatusWithMail(Box::new((change, mail)), reply))
        })
        .await
    }

    async fn use_mesh_token(&self, token: MeshTokenUse) -> Result<bool, StoreError> {
        self.submit(|reply| writer::Job::UseToken(token, reply))
            .await
    }

    async fn inbox_page(
        &self,
        provider: &OrgId,
        after: Option<ReferralId>,
        limit: u32,
    ) -> Result<InboxPage, StoreError> {
        self.listings
            .page(&self.reads, provider, after, limit)
            .await
    }

    async fn spool_mail(&self, mail: NewMail) -> Result<(), StoreError> {
        let write = mail::MailWrite::Spool(mail);
        self.submit(|reply| writer::Job::Mail(Box::new(write), reply))
            .await
    }

    async fn pending_mail(&self, limit: u32) -> Result<Vec<SpooledMail>, StoreError> {
        mail::pending(&self.reads, limit).await
    }

    async fn finish_mail(
        &self,
        id: MailId,
        outcome: MailOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let write = mail::MailWrite::Finish { id, outcome, at };
        self.submit(|reply| writer::Job::Mail(Box::new(write), reply))
            .await
    }

    async fn spool_status(&self, id: MailId) -> Result<SpoolStatus, StoreError> {
        mail::status(&self.reads, id).await
    }

    async fn supporting_documents(
        &self,
        id: ReferralId,
    ) -> Result<Vec<SealedDocument>, StoreError> {
        documents::supporting(&self.reads, id).await
    }

    async fn stats_snapshot(&self) -> Result<super::StatsSnapshot, StoreError> {
        stats::snapshot(&self.reads).await
    }

    async fn due_pushes(
        &self,
        provider: &OrgId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DuePush>, StoreError> {
        push::due(&self.reads, provider, now, limit).await
    }

    async fn next_push_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        push::next_due(&self.reads).await
    }

    async fn record_push_attempt(&self, attempt: PushAttempt) -> Result<(), StoreError> {
        self.submit(|reply| writer::Job::Push(push::Job::Attempt(Box::new(attempt), reply)))
            .await
    }

    async fn push_status(&self, id: ReferralId) -> Result<Option<PushStatus>, StoreError> {
        push::status(&self.reads, id).await
    }

    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetterEntry>, StoreError> {
        push::dead_letters(&self.reads, limit).await
    }

    async fn redrive(&self, redrive: Redrive) -> Result<ReferralSummary, StoreError> {
        self.submit(|reply| writer::Job::Push(push::Job::Redrive(redrive, reply)))
            .await
    }
}

/// Runs a statement on a connection; a helper so the SQL stays readable.
pub(crate) async fn exec(
    conn: &mut sqlx::SqliteConnection,
    sql: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(sql).execute(&mut *conn).await.map_err(db_err)?;
    Ok(())
}
