//! The email channel: referrals from messages the SMTP listener spooled.
//!
//! Inputs: pending entries of the store's inbound spool (sealed raw messages with the
//! sending organisation). Outputs: referrals through [`super::accept`] (channel
//! `email`, idempotency key `mail:<spool id>`), an acknowledgement to the sender, and
//! the spool entry marked done or failed. Never deletes a spool entry and never logs
//! addresses, subjects or message text.
//!
//! Durability: the listener answered 250 only after the spool commit; this processor
//! runs at start-up and after every new entry (a [`Notify`]), plus a periodic sweep. If
//! the gateway stops between `accept` and marking the entry done, the message is read
//! again on restart and `accept` matches it to the referral it already made (same
//! idempotency key), so nothing is lost and nothing is taken in twice.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Channel, IntakeContext, IntakeError, RawSubmission, accept};
use crate::clock::Clock;
use crate::crypto::{CryptoError, DataKeys};
use crate::domain::{OrgId, ReferralId, State};
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
            .map_err(|_| SpoolError::Seal(CryptoError::Random))??;
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
            if drain(&ctx, &stop).await.is_err() {
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
async fn drain(ctx: &IntakeContext, stop: &CancellationToken) -> Result<(), ()> {
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
            progressed |= process(ctx, mail).await == Processed::Finished;
        }
        if !progressed {
            return Ok(());
        }
    }
}

#[tracing::instrument(skip_all, fields(mail_id = %mail.id, org = %mail.org, channel = "email"))]
async fn process(ctx: &IntakeContext, mail: SpooledMail) -> Processed {
    let opened = ctx
        .keys
        .open(&mail.message_sealed, mail.id.message_context().as_bytes());
    let sender = ctx
        .keys
        .open(&mail.sender_sealed, mail.id.sender_context().as_bytes())
        .ok()
        .and_then(|s| String::from_utf8(s).ok());
    let Ok(raw) = opened else {
        // Not transient: the key in use did not seal it. Kept for operators.
        return finish(ctx, &mail, MailOutcome::Failed("unreadable")).await;
    };
    let parsed = tokio::task::spawn_blocking(move || read_email(&raw)).await;
    let email = match parsed {
        Ok(Ok(email)) => email,
        Ok(Err(e)) => {
            let reason = reason_of(&e);
            let ack = Acknowledgement::new(sender, None, None, AckState::rejected(reason));
            acknowledge(mail.id, &ack);
            return finish(ctx, &mail, MailOutcome::Failed(reason)).await;
        }
        // The parser panicked: treat the message as unreadable, never crash.
        Err(_) => {
            let ack = Acknowledgement::new(sender, None, None, AckState::rejected("not-mime"));
            acknowledge(mail.id, &ack);
            return finish(ctx, &mail, MailOutcome::Failed("not-mime")).await;
        }
    };
    let raw = RawSubmission {
        org: mail.org.clone(),
        channel: Channel::Email,
        media_type: email.letter.media_type.clone(),
        body: Bytes::from(email.letter.bytes),
        idempotency_key: Some(format!("mail:{}", mail.id)),
    };
    let in_reply_to = email.message_id;
    match accept(ctx, raw).await {
        Ok(receipt) => {
            let state = if !receipt.record.is_referral {
                AckState::NotAReferral
            } else if receipt.summary.state == State::NeedsReview {
                AckState::HeldForReview
            } else {
                AckState::Accepted
            };
            let mut ack =
                Acknowledgement::new(sender, in_reply_to, Some(receipt.summary.id), state);
            ack.duplicate = receipt.duplicate;
            acknowledge(mail.id, &ack);
            finish(ctx, &mail, MailOutcome::Done(receipt.summary.id)).await
        }
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
            let ack = Acknowledgement::new(sender, in_reply_to, None, AckState::rejected(reason));
            acknowledge(mail.id, &ack);
            finish(ctx, &mail, MailOutcome::Failed(reason)).await
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

// ---------------------------------------------------------------------------------
// Acknowledgement. TEMP until feedback::reply lands: these mirror the contract in
// PLAN-email.md (`feedback::reply::{Acknowledgement, AckState}`) and `acknowledge` only
// logs; at merge it becomes `queue_acknowledgement(mail_ctx, id.as_uuid(), &ack)`.
// ---------------------------------------------------------------------------------

/// The referral's state as the sender is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AckState {
    Accepted,
    HeldForReview,
    NotAReferral,
    /// A reason code, never text from the message.
    Rejected {
        reason: String,
    },
}

impl AckState {
    fn rejected(reason: &str) -> Self {
        AckState::Rejected {
            reason: reason.to_owned(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            AckState::Accepted => "accepted",
            AckState::HeldForReview => "held-for-review",
            AckState::NotAReferral => "not-a-referral",
            AckState::Rejected { reason } => reason,
        }
    }
}

/// The reply to the sender of an emailed referral.
// `to` and `in_reply_to` are read by feedback::reply once it is wired in.
#[allow(dead_code)]
struct Acknowledgement {
    /// The envelope sender: allow-listed, unlike the From header, so replies cannot be
    /// aimed at a third party.
    to: Option<String>,
    in_reply_to: Option<String>,
    reference: Option<ReferralId>,
    state: AckState,
    duplicate: bool,
}

impl Acknowledgement {
    fn new(
        to: Option<String>,
        in_reply_to: Option<String>,
        reference: Option<ReferralId>,
        state: AckState,
    ) -> Self {
        Self {
            to,
            in_reply_to,
            reference,
            state,
            duplicate: false,
        }
    }
}

/// TEMP until feedback::reply lands: logs what would be queued (no addresses). The
/// dedupe id will be the spool id, so re-processing after a crash queues no second
/// reply.
fn acknowledge(id: MailId, ack: &Acknowledgement) {
    tracing::info!(
        mail_id = %id,
        referral_id = ack.reference.map(|r| r.to_string()),
        state = ack.state.as_str(),
        duplicate = ack.duplicate,
        has_recipient = ack.to.is_some(),
        "email acknowledgement due"
    );
}

// ---------------------------------------------------------------------------------
// TEMP until normalise::email lands: a minimal reader with the contract's shape
// (`normalise::email::{read, Email, Part, EmailError}`), to be replaced at merge.
// ---------------------------------------------------------------------------------

/// One document of a message.
struct Part {
    media_type: String,
    bytes: Vec<u8>,
}

/// What the channel needs of a message.
struct Email {
    message_id: Option<String>,
    letter: Part,
}

/// Why a message cannot be read. Messages carry no input values.
#[derive(Debug, thiserror::Error)]
enum EmailError {
    #[error("not a MIME message")]
    NotMime,
    #[error("no letter in the message")]
    NoLetter,
}

fn reason_of(e: &EmailError) -> &'static str {
    match e {
        EmailError::NotMime => "not-mime",
        EmailError::NoLetter => "no-letter",
    }
}

/// The letter is the first attachment when there is one (a covering note in the body,
/// the letter attached), else the first text body, else the first HTML body.
fn read_email(raw: &[u8]) -> Result<Email, EmailError> {
    use mail_parser::{MessageParser, MimeHeaders, PartType};

    let message = MessageParser::default()
        .parse(raw)
        .ok_or(EmailError::NotMime)?;
    // A message with no header at all is not mail (mail-parser reads anything).
    if message.headers().is_empty() {
        return Err(EmailError::NotMime);
    }
    let media_type = |part: &mail_parser::MessagePart<'_>, default: &str| {
        part.content_type()
            .map(|c| match &c.c_subtype {
                Some(sub) => format!("{}/{}", c.c_type, sub),
                None => c.c_type.to_string(),
            })
            .unwrap_or_else(|| default.to_owned())
            .to_ascii_lowercase()
    };
    let letter = if let Some(part) = message.attachments().find(|p| !p.is_message()) {
        Part {
            media_type: media_type(part, "application/octet-stream"),
            bytes: part.contents().to_vec(),
        }
    } else if let Some(text) = message
        .text_part(0)
        // Likewise an HTML-only message lists its HTML part as the text body.
        .and_then(|p| match &p.body {
            PartType::Text(text) => Some(text),
            _ => None,
        })
        .filter(|t| !t.trim().is_empty())
    {
        Part {
            media_type: "text/plain".to_owned(),
            bytes: text.as_bytes().to_vec(),
        }
    } else if let Some(html) = message
        .html_part(0)
        // mail-parser lists a text part as the HTML body too when there is no HTML
        // alternative (converted); only a real HTML part is a letter here.
        .and_then(|p| match &p.body {
            PartType::Html(html) => Some(html),
            _ => None,
        })
        .filter(|h| !h.trim().is_empty())
    {
        Part {
            media_type: "text/html".to_owned(),
            bytes: html.as_bytes().to_vec(),
        }
    } else {
        return Err(EmailError::NoLetter);
    };
    Ok(Email {
        message_id: message.message_id().map(str::to_owned),
        letter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_in_the_body_is_the_letter() {
        let raw = b"From: a@b.example\r\nMessage-ID: <x@y>\r\nSubject: s\r\n\r\nDear colleague\r\n";
        let email = read_email(raw).unwrap();
        assert_eq!(email.letter.media_type, "text/plain");
        assert!(email.letter.bytes.starts_with(b"Dear colleague"));
        assert_eq!(email.message_id.as_deref(), Some("x@y"));
    }

    #[test]
    fn an_attached_letter_wins_over_the_covering_note() {
        let raw = b"From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPlease find attached\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"l.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\nRGVhciBjb2xsZWFndWU=\r\n--b--\r\n";
        let email = read_email(raw).unwrap();
        assert_eq!(email.letter.bytes, b"Dear colleague");
    }

    #[test]
    fn an_email_with_a_blank_body_and_no_attachment_has_no_letter() {
        let raw = b"From: a@b.example\r\nSubject: s\r\n\r\n \r\n";
        assert!(matches!(read_email(raw), Err(EmailError::NoLetter)));
    }

    #[test]
    fn an_html_only_email_is_read_as_html() {
        let raw = b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n<p>Dear colleague</p>\r\n";
        let email = read_email(raw).unwrap();
        assert_eq!(email.letter.media_type, "text/html");
    }

    #[test]
    fn bytes_that_are_not_mail_are_refused() {
        assert!(read_email(b"").is_err());
        assert!(read_email(&[0xff; 64]).is_err());
    }
}
