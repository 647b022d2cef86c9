//! The email channel: referrals from messages the SMTP listener spooled.
//!
//! Inputs: pending entries of the store's inbound spool (sealed raw messages with the
//! sending organisation). Outputs: referrals through [`super::accept`] (channel
//! `email`, idempotency key `mail:<spool id>`; the letter the message carries, with
//! its other documents as supporting documents), an acknowledgement to the sender
//! queued in the store's outbox (when a `[mail]` relay is configured), and the spool
//! entry marked done or failed. Never deletes a spool entry and never logs addresses,
//! subjects or message text.
//!
//! Durability: the listener answered 250 only after the spool commit; this processor
//! runs at start-up and after every new entry (a [`Notify`]), plus a periodic sweep. If
//! the gateway stops between `accept` and marking the entry done, the message is read
//! again on restart and `accept` matches it to the referral it already made (same
//! idempotency key), and the acknowledgement's outbox id is derived from the spool id,
//! so nothing is lost and nothing is taken in or answered twice.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Channel, IntakeContext, IntakeError, RawSubmission, accept};
use crate::clock::Clock;
use crate::crypto::{CryptoError, DataKeys};
use crate::domain::{OrgId, ReferralId, State};
use crate::feedback::reply::{
    AckState, Acknowledgement, queue_acknowledgement, remember_reply_address,
};
use crate::normalise::email;
use crate::outbox::{MailContext, MailError, derived_id};
use crate::store::{MailId, MailOutcome, NewMail, SpooledMail, Store, StoreError};
use crate::telemetry::events::{EmailFailed, EmailSpooled};
use crate::telemetry::metrics::Metrics;

/// Spool entries read per query.
const BATCH: u32 = 16;

/// A failure to spool a message; the sender is told to try again later (451).
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("sealing failure")]
    Seal(#[from] CryptoError),
    #[error("store failure")]
    Store(#[from] StoreError),
    #[error("sealing task did not finish")]
    Interrupted,
}

/// The listener's handle on the spool: seals, commits, wakes the email channel.
#[derive(Clone)]
pub struct Spool {
    store: Arc<dyn Store>,
    keys: Arc<DataKeys>,
    clock: Clock,
    wake: Arc<Notify>,
    pub(crate) metrics: Arc<Metrics>,
}

impl Spool {
    /// A spool writing to `ctx`'s store with `ctx`'s keys; `wake` is the email
    /// channel's [`EmailChannel::wake`].
    pub fn new(ctx: &IntakeContext, wake: Arc<Notify>) -> Self {
        Self {
            store: ctx.store.clone(),
            keys: ctx.keys.clone(),
            clock: ctx.clock,
            wake,
            metrics: ctx.metrics.clone(),
        }
    }

    /// Seals the message and its envelope sender and commits them; returns only after
    /// the commit, with the spool id for the `250` reply.
    ///
    /// # Errors
    /// [`SpoolError`] when sealing or the commit fails; nothing was kept.
    pub async fn commit(
        &self,
        org: &OrgId,
        sender: &str,
        message: Vec<u8>,
    ) -> Result<MailId, SpoolError> {
        let id = MailId::new();
        let size = message.len();
        let keys = self.keys.clone();
        let context = id.message_context();
        // Sealing a message of many megabytes is CPU work: keep it off the runtime.
        let sealed = tokio::task::spawn_blocking(move || keys.seal(&message, context.as_bytes()))
            .await
            .map_err(|_| SpoolError::Interrupted)??;
        let mail = NewMail {
            id,
            org: org.clone(),
            received_at: self.clock.now(),
            size,
            sender_sealed: self
                .keys
                .seal(sender.as_bytes(), id.sender_context().as_bytes())?,
            message_sealed: sealed,
        };
        self.store.spool_mail(mail).await?;
        EmailSpooled { id, org, size }.emit(&self.metrics);
        // A permit is stored if the channel is busy, so this wake-up is never lost.
        self.wake.notify_one();
        Ok(id)
    }
}

/// The email channel's processor.
pub struct EmailChannel {
    /// Notified after each spool commit.
    pub wake: Arc<Notify>,
    /// How often pending entries are looked for without a wake-up (entries left by a
    /// transient failure are retried then).
    pub sweep: Duration,
    /// The outbox for acknowledgements; `None` when no relay is configured (nothing
    /// is then emailed, and the sender learns the state over the API only).
    pub mail: Option<MailContext>,
}

/// What happened to one spool entry.
#[derive(Debug, PartialEq, Eq)]
enum Processed {
    /// Done or failed; it will not be read again.
    Finished,
    /// A transient failure (store, keys): it stays pending for the next sweep.
    Retry,
}

impl EmailChannel {
    /// Processes pending entries (at once: entries spooled before a restart too) and
    /// then whenever woken, until `stop`; the entry in hand is finished first.
    pub async fn run(self, ctx: IntakeContext, stop: CancellationToken) {
        loop {
            if drain(&ctx, self.mail.as_ref(), &stop).await.is_err() {
                return;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.sweep) => {}
            }
        }
    }
}

/// Processes pending entries until none is left or only ones failing transiently.
/// `Err` when stopped.
async fn drain(
    ctx: &IntakeContext,
    mail_ctx: Option<&MailContext>,
    stop: &CancellationToken,
) -> Result<(), ()> {
    loop {
        let batch = match ctx.store.pending_mail(BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, channel = "email", "spool cannot be read; will retry");
                return Ok(());
            }
        };
        if batch.is_empty() {
            return Ok(());
        }
        let mut progressed = false;
        for mail in batch {
            if stop.is_cancelled() {
                return Err(());
            }
            progressed |= process(ctx, mail_ctx, mail).await == Processed::Finished;
        }
        if !progressed {
            return Ok(());
        }
    }
}

#[tracing::instrument(skip_all, fields(mail_id = %mail.id, org = %mail.org, channel = "email"))]
async fn process(
    ctx: &IntakeContext,
    mail_ctx: Option<&MailContext>,
    mail: SpooledMail,
) -> Processed {
    let Ok(raw) = ctx
        .keys
        .open(&mail.message_sealed, mail.id.message_context().as_bytes())
    else {
        // Not transient: the key in use did not seal it. Kept for operators.
        return finish(ctx, &mail, MailOutcome::Failed("unreadable")).await;
    };
    let reply = Reply {
        mail_ctx,
        spool: mail.id,
        // The envelope sender: allow-listed at MAIL FROM, unlike the From header, so a
        // reply can never be aimed at a third party.
        to: ctx
            .keys
            .open(&mail.sender_sealed, mail.id.sender_context().as_bytes())
            .ok()
            .and_then(|s| String::from_utf8(s).ok()),
        in_reply_to: None,
    };
    // MIME parsing of a large message is CPU work: off the runtime, and a panic in the
    // parser is a failed message, never a crashed channel.
    let email = match tokio::task::spawn_blocking(move || email::read(&raw)).await {
        Ok(Ok(email)) => email,
        Ok(Err(e)) => return refuse(ctx, &mail, &reply, e.code()).await,
        Err(_) => return refuse(ctx, &mail, &reply, "malformed").await,
    };
    let reply = Reply {
        in_reply_to: email.message_id,
        ..reply
    };
    let submission = RawSubmission {
        org: mail.org.clone(),
        channel: Channel::Email,
        media_type: email.letter.media_type,
        body: Bytes::from(email.letter.bytes),
        // The same spool entry read again (a crash before `finish`) matches the
        // referral it already made instead of making a second.
        idempotency_key: Some(format!("mail:{}", mail.id)),
        supporting: email.supporting.into_iter().map(Into::into).collect(),
    };
    let receipt = match accept(ctx, submission).await {
        Ok(receipt) => receipt,
        Err(e) => {
            let reason = match e {
                IntakeError::Invalid(_) => "invalid",
                IntakeError::UnsupportedMediaType => "unsupported-media-type",
                IntakeError::IdempotencyConflict => "idempotency-conflict",
                IntakeError::Store(_) | IntakeError::Crypto(_) => {
                    tracing::error!(error = %e, "email intake failed; will retry");
                    return Processed::Retry;
                }
            };
            return refuse(ctx, &mail, &reply, reason).await;
        }
    };
    let state = if !receipt.record.is_referral {
        AckState::NotAReferral
    } else if receipt.summary.state == State::NeedsReview {
        AckState::HeldForReview
    } else {
        AckState::Accepted
    };
    let id = receipt.summary.id;
    if reply
        .send(Some(id), state, receipt.duplicate)
        .await
        .is_err()
    {
        return Processed::Retry;
    }
    finish(ctx, &mail, MailOutcome::Done(id)).await
}

/// A message that cannot become a referral: the sender is told why (a reason code)
/// and the entry is kept as failed.
async fn refuse(
    ctx: &IntakeContext,
    mail: &SpooledMail,
    reply: &Reply<'_>,
    reason: &'static str,
) -> Processed {
    let state = AckState::Rejected {
        reason: reason.to_owned(),
    };
    if reply.send(None, state, false).await.is_err() {
        return Processed::Retry;
    }
    finish(ctx, mail, MailOutcome::Failed(reason)).await
}

/// The acknowledgement to the person who emailed, queued in the outbox.
struct Reply<'a> {
    mail_ctx: Option<&'a MailContext>,
    spool: MailId,
    to: Option<String>,
    in_reply_to: Option<String>,
}

impl Reply<'_> {
    /// Keeps the sender's address for the referral's later status notifications and
    /// queues the acknowledgement. Its outbox id comes from the spool id, so a message
    /// processed again after a crash is answered once. `Err` only for a store
    /// failure (the entry is retried); a sender that is not an address gets no reply.
    async fn send(
        &self,
        reference: Option<ReferralId>,
        state: AckState,
        duplicate: bool,
    ) -> Result<(), ()> {
        let (Some(ctx), Some(to)) = (self.mail_ctx, self.to.as_deref()) else {
            return Ok(());
        };
        let result = async {
            if let Some(id) = reference {
                remember_reply_address(ctx, id, to).await?;
            }
            let ack = Acknowledgement {
                to: to.to_owned(),
                in_reply_to: self.in_reply_to.clone(),
                reference,
                state,
                duplicate,
            };
            queue_acknowledgement(ctx, derived_id(&format!("ack/{}", self.spool)), &ack).await
        };
        match result.await {
            Ok(()) => Ok(()),
            Err(MailError::Store(e)) => {
                tracing::error!(error = %e, "acknowledgement could not be queued; will retry");
                Err(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "no acknowledgement for this message");
                Ok(())
            }
        }
    }
}

async fn finish(ctx: &IntakeContext, mail: &SpooledMail, outcome: MailOutcome) -> Processed {
    let failed = match outcome {
        MailOutcome::Failed(reason) => Some(reason),
        MailOutcome::Done(_) => None,
    };
    match ctx
        .store
        .finish_mail(mail.id, outcome, ctx.clock.now())
        .await
    {
        Ok(()) => {
            match failed {
                Some(reason) => EmailFailed {
                    id: mail.id,
                    org: &mail.org,
                    reason,
                }
                .emit(&ctx.metrics),
                None => tracing::info!("email processed"),
            }
            Processed::Finished
        }
        Err(e) => {
            tracing::error!(error = %e, "spool entry could not be finished; will retry");
            Processed::Retry
        }
    }
}
