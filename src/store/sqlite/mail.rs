//! The inbound mail spool in SQLite: writes go through the single writer (each in its
//! own savepoint, with its audit event), reads through the read pool.

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::writer::{ChainHead, append};
use super::{db_err, parse_id, parse_org, parse_time};
use crate::audit::event::format_time;
use crate::audit::{Action, AuditDraft, Outcome};
use crate::store::{
    MailId, MailOutcome, NewMail, SpoolState, SpoolStatus, SpooledMail, StoreError,
};

/// A spool write for the writer task.
pub(super) enum MailWrite {
    Spool(NewMail),
    Finish {
        id: MailId,
        outcome: MailOutcome,
        at: DateTime<Utc>,
    },
}

pub(super) async fn write(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    w: &MailWrite,
) -> Result<(), StoreError> {
    match w {
        MailWrite::Spool(mail) => spool(conn, head, mail).await,
        MailWrite::Finish { id, outcome, at } => finish(conn, head, *id, outcome, *at).await,
    }
}

async fn spool(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    mail: &NewMail,
) -> Result<(), StoreError> {
    let size = i64::try_from(mail.size).map_err(|_| StoreError::Corrupt("message size"))?;
    sqlx::query(
        "INSERT INTO inbound_mail (id, org, state, received_at, size, sender_sealed, message_sealed)
         VALUES ($1, $2, 'pending', $3, $4, $5, $6)",
    )
    .bind(mail.id.to_string())
    .bind(mail.org.as_str())
    .bind(format_time(mail.received_at))
    .bind(size)
    .bind(&mail.sender_sealed[..])
    .bind(&mail.message_sealed[..])
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let draft = AuditDraft {
        actor: Some(mail.org.clone()),
        action: Action::MailSpooled,
        referral_id: None,
        outcome: Outcome::Success,
        detail: Some(format!("channel=email;mail={};size={}", mail.id, mail.size)),
    };
    append(conn, head, &draft, mail.received_at).await?;
    Ok(())
}

async fn finish(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    id: MailId,
    outcome: &MailOutcome,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT org, state FROM inbound_mail WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound)?;
    let state: String = row.try_get("state").map_err(db_err)?;
    if state != SpoolState::Pending.as_str() {
        // Already finished (a re-run after a crash): the first outcome stands.
        return Ok(());
    }
    let org = parse_org(&row.try_get::<String, _>("org").map_err(db_err)?)?;
    let (state, referral, reason, audit_outcome) = match outcome {
        MailOutcome::Done(r) => (SpoolState::Done, Some(*r), None, Outcome::Success),
        MailOutcome::Failed(reason) => (SpoolState::Failed, None, Some(*reason), Outcome::Failure),
    };
    sqlx::query(
        "UPDATE inbound_mail SET state = $1, finished_at = $2, referral_id = $3, reason = $4
         WHERE id = $5",
    )
    .bind(state.as_str())
    .bind(format_time(at))
    .bind(referral.map(|r| r.to_string()))
    .bind(reason)
    .bind(id.to_string())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let detail = match reason {
        Some(reason) => format!("channel=email;mail={id};state=failed;reason={reason}"),
        None => format!("channel=email;mail={id};state=done"),
    };
    let draft = AuditDraft {
        actor: Some(org),
        action: Action::MailProcessed,
        referral_id: referral,
        outcome: audit_outcome,
        detail: Some(detail),
    };
    append(conn, head, &draft, at).await?;
    Ok(())
}

fn mail_id(s: &str) -> Result<MailId, StoreError> {
    MailId::parse(s).map_err(|_| StoreError::Corrupt("mail id"))
}

pub(super) async fn pending(pool: &SqlitePool, limit: u32) -> Result<Vec<SpooledMail>, StoreError> {
    sqlx::query(
        "SELECT id, org, received_at, sender_sealed, message_sealed FROM inbound_mail
         WHERE state = 'pending' ORDER BY received_at, id LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let text = |c: &str| r.try_get::<String, _>(c).map_err(db_err);
        Ok(SpooledMail {
            id: mail_id(&text("id")?)?,
            org: parse_org(&text("org")?)?,
            received_at: parse_time(&text("received_at")?)?,
            sender_sealed: r.try_get("sender_sealed").map_err(db_err)?,
            message_sealed: r.try_get("message_sealed").map_err(db_err)?,
        })
    })
    .collect()
}

pub(super) async fn status(pool: &SqlitePool, id: MailId) -> Result<SpoolStatus, StoreError> {
    let r = sqlx::query(
        "SELECT id, org, state, received_at, referral_id, reason FROM inbound_mail WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(db_err)?
    .ok_or(StoreError::NotFound)?;
    let text = |c: &str| r.try_get::<String, _>(c).map_err(db_err);
    let referral: Option<String> = r.try_get("referral_id").map_err(db_err)?;
    Ok(SpoolStatus {
        id: mail_id(&text("id")?)?,
        org: parse_org(&text("org")?)?,
        state: SpoolState::parse(&text("state")?).ok_or(StoreError::Corrupt("mail state"))?,
        received_at: parse_time(&text("received_at")?)?,
        referral_id: referral.as_deref().map(parse_id).transpose()?,
        reason: r.try_get("reason").map_err(db_err)?,
    })
}
