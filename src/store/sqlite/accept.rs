//! Accepting a run of new referrals with a fixed number of statements, whatever the
//! run's length: one query finds earlier submissions with the same content or
//! idempotency key, then one multi-row INSERT each for referrals, transitions and audit
//! events. Under load this is what makes group commit pay: every statement is a hop to
//! SQLite's worker thread, so statements per batch, not per referral, set throughput.

use std::collections::HashMap;

use sqlx::{Row, SqliteConnection};

use super::documents::{self, DocumentRow};
use super::read::summary_from;
use super::writer::ChainHead;
use super::{db_err, exec};
use crate::audit::event::format_time;
use crate::audit::{Action, AuditDraft, AuditEvent, Outcome};
use crate::domain::{State, Urgency};
use crate::store::{Accepted, NewReferral, ReferralSummary, StoreError};

/// Referrals per run. Keeps one statement's parameters (15 + 12 + 18 per referral)
/// well under SQLite's limit of 32,766 and a run's transaction short.
pub(super) const MAX_RUN: usize = 256;

// Aliased so that both halves of a UNION name them the same for `summary_from`.
const SUMMARY_COLUMNS: &str = "r.id AS id, r.referrer AS referrer, r.provider AS provider, \
     r.state AS state, r.urgency AS urgency, r.received_at AS received_at, \
     r.content_hash AS content_hash";

/// What is already stored for a (referrer, keyed hash) pair: the referral and, for an
/// idempotency key, the content it was first used with.
type Known = HashMap<(String, [u8; 32]), (ReferralSummary, [u8; 32])>;

/// How a run relates to the batch's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Inside a transaction the writer opened and will commit: the run has its own
    /// savepoint.
    Savepoint,
    /// The run is the whole batch: it begins and commits the transaction itself, so
    /// a batch of intakes costs two hops to SQLite's thread in all.
    Transaction,
}

/// Accepts `run` in order and appends its audit events, advancing `head`.
///
/// Per-referral outcomes (created, duplicate, idempotency key reused for other content)
/// are in the returned list. An `Err` means a statement failed: then nothing of the run
/// is kept and `head` is as it was (the writer retries each referral alone, so one bad
/// referral cannot fail its neighbours).
pub(super) async fn accept_run(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    run: &[&NewReferral],
    scope: Scope,
) -> Result<Vec<Result<Accepted, StoreError>>, StoreError> {
    let before = *head;
    let mut found = match lookup(conn, run, scope).await {
        Ok(found) => found,
        Err(e) => {
            if scope == Scope::Transaction {
                let _ = exec(conn, "ROLLBACK").await;
            }
            return Err(e);
        }
    };
    let mut rows = Rows::default();
    let mut outcomes = Vec::with_capacity(run.len());
    for new in run {
        let referrer = new.referrer.as_str();
        let keyed = new
            .idempotency_hash
            .and_then(|k| found.get(Via::Key, referrer, k));
        let existing = match keyed {
            Some((_, content)) if *content != new.content_hash => {
                outcomes.push(Err(StoreError::IdempotencyConflict));
                continue;
            }
            Some((summary, _)) => Some(summary.clone()),
            None => [Via::Content, Via::Match]
                .into_iter()
                .find_map(|via| found.get(via, referrer, via.hash(new)?))
                .map(|(s, _)| s.clone()),
        };
        if let Some(existing) = existing {
            rows.audit(
                head,
                draft(new, Action::Duplicate, existing.id, channel(new)),
                new,
            );
            outcomes.push(Ok(Accepted::Duplicate(existing)));
            continue;
        }
        let summary = rows.referral(head, new);
        found.add(new, &summary);
        outcomes.push(Ok(Accepted::Created(summary)));
    }
    if let Err(e) = rows.insert(conn, scope).await {
        *head = before;
        return Err(e);
    }
    Ok(outcomes)
}

fn channel(new: &NewReferral) -> Option<String> {
    Some(format!("channel={}", new.channel))
}

fn draft(
    new: &NewReferral,
    action: Action,
    id: crate::domain::ReferralId,
    detail: Option<String>,
) -> AuditDraft {
    AuditDraft {
        actor: Some(new.referrer.clone()),
        action,
        referral_id: Some(id),
        outcome: Outcome::Success,
        detail,
    }
}

/// The ways a submission can match a stored referral, in the order they are tried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The same `Idempotency-Key` (its content must be the same too).
    Key,
    /// The same normalised content.
    Content,
    /// The same patient, referrer and letter date (letters arriving by two routes).
    Match,
}

impl Via {
    const ALL: [Via; 3] = [Via::Key, Via::Content, Via::Match];

    fn column(self) -> &'static str {
        match self {
            Via::Key => "idempotency_hash",
            Via::Content => "content_hash",
            Via::Match => "match_hash",
        }
    }

    fn hash(self, new: &NewReferral) -> Option<[u8; 32]> {
        match self {
            Via::Key => new.idempotency_hash,
            Via::Content => Some(new.content_hash),
            Via::Match => new.match_hash,
        }
    }
}

/// Stored referrals found for a run, one map per [`Via`].
struct Found([Known; 3]);

impl Found {
    fn get(
        &self,
        via: Via,
        referrer: &str,
        hash: [u8; 32],
    ) -> Option<&(ReferralSummary, [u8; 32])> {
        self.0[via as usize].get(&(referrer.to_owned(), hash))
    }

    /// Records a referral made in this run, so a repeat later in the run finds it.
    fn add(&mut self, new: &NewReferral, summary: &ReferralSummary) {
        for via in Via::ALL {
            if let Some(h) = via.hash(new) {
                let key = (new.referrer.as_str().to_owned(), h);
                self.0[via as usize].insert(key, (summary.clone(), new.content_hash));
            }
        }
    }
}

/// Finds stored referrals sharing an idempotency key, content or match key with the
/// run, joining from VALUES lists so each lookup uses a (referrer, hash) index.
async fn lookup(
    conn: &mut SqliteConnection,
    run: &[&NewReferral],
    scope: Scope,
) -> Result<Found, StoreError> {
    let mut ctes = Vec::new();
    let mut selects = Vec::new();
    let mut args: Vec<(&str, [u8; 32])> = Vec::new();
    for via in Via::ALL {
        let pairs: Vec<(&str, [u8; 32])> = run
            .iter()
            .filter_map(|n| Some((n.referrer.as_str(), via.hash(n)?)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let name = format!("k{}", via as usize);
        ctes.push(format!(
            "{name}(referrer, hash) AS (VALUES {})",
            vec!["(?, ?)"; pairs.len()].join(", ")
        ));
        selects.push(format!(
            "SELECT {} AS via, {name}.hash AS hash, {SUMMARY_COLUMNS} FROM {name}
             JOIN referrals r ON r.referrer = {name}.referrer AND r.{} = {name}.hash",
            via as usize,
            via.column()
        ));
        args.extend(pairs);
    }
    // Parameters are anonymous and bound in order: the VALUES lists appear in the text
    // in the same order as `args`.
    let sql = format!("WITH {} {}", ctes.join(", "), selects.join(" UNION ALL "));
    let sql = match scope {
        Scope::Transaction => format!("BEGIN IMMEDIATE; {sql}"),
        Scope::Savepoint => sql,
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
    for (referrer, hash) in &args {
        query = query.bind(*referrer).bind(&hash[..]);
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(db_err)?;
    let mut found = Found([Known::new(), Known::new(), Known::new()]);
    for row in rows {
        let summary = summary_from(&row)?;
        let hash = blob32(&row, "hash")?;
        let content = blob32(&row, "content_hash")?;
        let via: i64 = row.try_get("via").map_err(db_err)?;
        let Some(map) = usize::try_from(via).ok().and_then(|i| found.0.get_mut(i)) else {
            return Err(StoreError::Corrupt("lookup"));
        };
        map.insert(
            (summary.referrer.as_str().to_owned(), hash),
            (summary, content),
        );
    }
    Ok(found)
}

fn blob32(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<[u8; 32], StoreError> {
    let bytes: Vec<u8> = row.try_get(column).map_err(db_err)?;
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("stored hash length"))
}

/// The rows a run writes, kept in order so audit events chain in commit order.
#[derive(Default)]
struct Rows<'a> {
    referrals: Vec<(&'a NewReferral, String)>,
    transitions: Vec<(String, i64, State, String, Option<String>)>,
    /// Supporting documents of the new referrals, written after them.
    documents: Vec<DocumentRow<'a>>,
    events: Vec<AuditEvent>,
}

impl<'a> Rows<'a> {
    fn audit(&mut self, head: &mut ChainHead, draft: AuditDraft, new: &NewReferral) {
        let ev = AuditEvent::chain(&draft, head.next_seq, new.received_at, head.prev);
        head.next_seq += 1;
        head.prev = ev.hash;
        self.events.push(ev);
    }

    /// A new referral: its row, `received` then its intake state, and two events
    /// (intake, then routed or held for review).
    fn referral(&mut self, head: &mut ChainHead, new: &'a NewReferral) -> ReferralSummary {
        let id = new.id.to_string();
        let at = format_time(new.received_at);
        self.transitions.push((
            id.clone(),
            1,
            State::Received,
            at.clone(),
            Some(new.referrer.as_str().to_owned()),
        ));
        self.transitions
            .push((id.clone(), 2, new.state, at.clone(), None));
        self.referrals.push((new, at));
        self.documents.extend(
            new.supporting
                .iter()
                .zip(0_i64..)
                .map(|(doc, seq)| (id.clone(), seq, doc)),
        );
        self.audit(head, draft(new, Action::Intake, new.id, channel(new)), new);
        let second = match &new.provider {
            Some(p) if new.state == State::Ready => {
                let detail = match &new.audit_detail {
                    Some(d) => format!("provider={p};{d}"),
                    None => format!("provider={p}"),
                };
                draft(new, Action::Routed, new.id, Some(detail))
            }
            _ => draft(new, Action::HeldForReview, new.id, new.audit_detail.clone()),
        };
        self.audit(head, second, new);
        ReferralSummary {
            id: new.id,
            referrer: new.referrer.clone(),
            provider: new.provider.clone(),
            state: new.state,
            urgency: new.urgency,
            received_at: new.received_at,
        }
    }

    /// One round trip: up to three multi-row INSERTs in one query, parameters
    /// bound in order across all of them.
    async fn insert(self, conn: &mut SqliteConnection, scope: Scope) -> Result<(), StoreError> {
        let mut sql = String::new();
        // Anonymous `?` parameters, bound in order across the statements: named ones
        // cost SQLite a lookup per parameter, which grows with the statement.
        let placeholders = |count: usize| format!("({})", vec!["?"; count].join(", "));
        if !self.referrals.is_empty() {
            let rows: Vec<String> = self.referrals.iter().map(|_| placeholders(15)).collect();
            sql.push_str(&format!(
                "INSERT INTO referrals (id, referrer, provider, channel, state, urgency, priority_rank,
                   received_at, updated_at, idempotency_hash, content_hash, match_hash,
                   record_sealed, document_type, document_sealed) VALUES {};",
                rows.join(", ")
            ));
            let rows: Vec<String> = self.transitions.iter().map(|_| placeholders(6)).collect();
            sql.push_str(&format!(
                "INSERT INTO transitions (referral_id, seq, state, at, actor, reason) VALUES {};",
                rows.join(", ")
            ));
        }
        for chunk in self.documents.chunks(documents::ROWS_PER_INSERT) {
            sql.push_str(&documents::insert_sql(chunk.len()));
        }
        if !self.events.is_empty() {
            let rows: Vec<String> = self.events.iter().map(|_| placeholders(9)).collect();
            sql.push_str(&format!(
                "INSERT INTO audit_events (seq, at, actor, action, referral_id, outcome, detail,
                   prev_hash, hash) VALUES {};",
                rows.join(", ")
            ));
        }
        // The savepoint or the commit travels with the inserts (one hop to SQLite's
        // thread, not three): if a statement fails, what ran before it is undone below.
        let sql = match scope {
            Scope::Savepoint if sql.is_empty() => return Ok(()),
            Scope::Savepoint => format!("SAVEPOINT run; {sql} RELEASE run;"),
            Scope::Transaction => format!("{sql} COMMIT;"),
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for (new, at) in &self.referrals {
            let (doc_type, doc) = match &new.document {
                Some((t, d)) => (Some(t.as_str()), Some(d.as_slice())),
                None => (None, None),
            };
            q = q
                .bind(new.id.to_string())
                .bind(new.referrer.as_str())
                .bind(new.provider.as_ref().map(|p| p.as_str()))
                .bind(new.channel)
                .bind(new.state.as_str())
                .bind(new.urgency.as_str())
                .bind(if new.urgency == Urgency::Urgent {
                    0_i64
                } else {
                    1
                })
                .bind(at.as_str())
                .bind(at.as_str())
                .bind(new.idempotency_hash.as_ref().map(|h| &h[..]))
                .bind(&new.content_hash[..])
                .bind(new.match_hash.as_ref().map(|h| &h[..]))
                .bind(&new.record_sealed[..])
                .bind(doc_type)
                .bind(doc);
        }
        for (id, seq, state, at, actor) in &self.transitions {
            q = q
                .bind(id.as_str())
                .bind(*seq)
                .bind(state.as_str())
                .bind(at.as_str())
                .bind(actor.as_deref())
                .bind(None::<&str>);
        }
        q = documents::bind(q, &self.documents);
        for ev in &self.events {
            q = q
                .bind(ev.seq)
                .bind(format_time(ev.at))
                .bind(ev.actor.as_deref())
                .bind(ev.action.as_str())
                .bind(ev.referral_id.as_deref())
                .bind(ev.outcome.as_str())
                .bind(ev.detail.as_deref())
                .bind(&ev.prev_hash[..])
                .bind(&ev.hash[..]);
        }
        if let Err(e) = q.execute(&mut *conn).await {
            match scope {
                Scope::Savepoint => {
                    let _ = exec(conn, "ROLLBACK TO run").await;
                    let _ = exec(conn, "RELEASE run").await;
                }
                Scope::Transaction => {
                    let _ = exec(conn, "ROLLBACK").await;
                }
            }
            return Err(db_err(e));
        }
        Ok(())
    }
}
