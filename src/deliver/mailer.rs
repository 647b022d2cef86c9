//! The outbox worker: sends queued mail through the configured relay with lettre,
//! STARTTLS required, and retries what fails for now. Mail is queued through
//! [`crate::outbox`].
//!
//! Inputs: outgoing mail queued in the store (sealed envelope + RFC 5322 bytes) by
//! `feedback::reply` (acknowledgements, status notifications) and `deliver::email`
//! (email-only providers). Output: mail handed to the relay, each outbox entry marked
//! sent or given up. State lives in the store, so a restart resumes where it stopped
//! and never re-sends what was marked sent. Must never log addresses, subjects or
//! message content: only outbox ids, kinds, attempts and failure classes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::AsyncTransport;
use tokio_util::sync::CancellationToken;

use super::retry::{Failure, backoff, classify, random_u64};
use crate::outbox::{MailContext, MailError, open};
use crate::store::{DueMail, MailAttempt};
use crate::telemetry::events::{MailGivenUp, MailSent};

/// How often the outbox is swept when nothing wakes the worker sooner.
const SWEEP: Duration = Duration::from_secs(30);
/// How often referrals waiting for email-only providers are looked for.
const DELIVERY_POLL: Duration = Duration::from_secs(1);
/// Mail sent per sweep before the worker looks at new work again.
const BATCH: u32 = 32;

/// Runs the outbox until `shutdown`: delivers referrals waiting for email-only
/// providers, sends due mail, then sleeps until the next is due, something is queued,
/// or the sweep interval passes. Finishes the message in hand before stopping.
pub async fn run(ctx: MailContext, shutdown: CancellationToken) {
    let delivers = ctx.orgs.values().any(|o| o.delivery_email.is_some());
    loop {
        if delivers && let Err(e) = super::email::deliver_ready(&ctx).await {
            tracing::error!(error = %e, "email delivery sweep failed");
        }
        if let Err(e) = send_due(&ctx, &shutdown).await {
            tracing::error!(error = %e, "outbox sweep failed");
        }
        if shutdown.is_cancelled() {
            break;
        }
        let mut wait = match ctx.store.next_mail_due().await {
            Ok(Some(at)) => until(at).min(SWEEP),
            Ok(None) => SWEEP,
            // The store may be briefly unavailable: look again soon, not in a tight loop.
            Err(_) => Duration::from_secs(1),
        };
        if delivers {
            wait = wait.min(DELIVERY_POLL);
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = ctx.wake.notified() => {}
            () = tokio::time::sleep(wait.max(Duration::from_millis(20))) => {}
        }
    }
    ctx.transport.shutdown().await;
}

fn until(at: DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}

/// Sends every due message (in batches), each attempt recorded before the next.
async fn send_due(ctx: &MailContext, shutdown: &CancellationToken) -> Result<(), MailError> {
    loop {
        let due = ctx.store.due_mail(Utc::now(), BATCH).await?;
        let full = due.len() == BATCH as usize;
        for mail in due {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            send_one(ctx, &mail).await?;
        }
        if !full {
            return Ok(());
        }
    }
}

#[tracing::instrument(skip_all, fields(mail_id = %mail.id, kind = mail.kind.as_str()))]
async fn send_one(ctx: &MailContext, mail: &DueMail) -> Result<(), MailError> {
    let made = mail.attempts + 1;
    let result = match open(&ctx.keys, mail) {
        Ok((envelope, data)) => ctx
            .transport
            .send_raw(&envelope, &data)
            .await
            .map(|_| ())
            .map_err(|e| classify(&e)),
        Err(_) => Err(Failure::Unreadable),
    };
    let now = Utc::now();
    let attempt = match result {
        Ok(()) => {
            MailSent {
                id: mail.id,
                kind: mail.kind,
                referral: mail.referral_id,
                attempts: made,
            }
            .emit(&ctx.metrics);
            MailAttempt::Sent { at: now }
        }
        Err(Failure::Transient(class)) if made < ctx.settings.max_attempts => {
            let delay = backoff(made, random_u64());
            tracing::warn!(
                attempt = made,
                error = class,
                retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "mail not sent; will retry"
            );
            let next_at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            MailAttempt::Retry {
                at: now,
                next_at,
                error: class,
            }
        }
        Err(failure) => {
            MailGivenUp {
                id: mail.id,
                kind: mail.kind,
                referral: mail.referral_id,
                attempts: made,
                error: failure.class(),
            }
            .emit(&ctx.metrics);
            MailAttempt::GiveUp {
                at: now,
                error: failure.class(),
            }
        }
    };
    // If this fails after a successful send the message stays pending and goes again
    // (at least once, same Message-ID); losing it would be worse.
    ctx.store.record_mail_attempt(mail.id, attempt).await?;
    Ok(())
}
