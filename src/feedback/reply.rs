//! Email to referrers: the acknowledgement of an emailed referral, and later status
//! notifications (received, accepted, rejected, booked, completed by the provider).
//!
//! Inputs: what intake decided (from the email channel) or a status change (from
//! deliver). Output: plain-text messages queued durably in the outbox; the mailer
//! sends them. Replies carry the gateway's reference and the state in words only:
//! never patient names, NHS numbers, dates of birth or letter content, because email
//! to a referrer may be read by anyone with access to that mailbox.

use std::fmt;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use uuid::Uuid;

use crate::domain::{ReferralId, State};
use crate::outbox::{MailContext, MailError, derived_id};
use crate::store::{MailKind, OutgoingMail, ReferralSummary, StatusChange, Store, StoreError};

/// What became of an emailed referral, as the sender is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckState {
    /// Routed: on its way to the provider.
    Accepted,
    /// Waiting for the gateway team to check it.
    HeldForReview,
    /// The document did not read as a referral (e.g. a discharge letter).
    NotAReferral,
    /// Refused: a reason code or short non-identifying text.
    Rejected { reason: String },
}

/// The reply to a referrer who emailed a referral.
#[derive(Clone)]
pub struct Acknowledgement {
    /// The envelope sender / From address.
    pub to: String,
    /// The Message-ID of the referrer's email (with or without angle brackets).
    pub in_reply_to: Option<String>,
    pub reference: Option<ReferralId>,
    pub state: AckState,
    /// This letter had already been received.
    pub duplicate: bool,
}

// Hand-written: the address identifies a person and must not reach a log.
impl fmt::Debug for Acknowledgement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acknowledgement")
            .field("to", &"<redacted>")
            .field("reference", &self.reference)
            .field("state", &self.state)
            .field("duplicate", &self.duplicate)
            .finish_non_exhaustive()
    }
}

/// Queues the reply durably (store outbox); the mailer worker sends it. `dedupe`
/// makes re-queuing after a crash a no-op (same id = INSERT OR IGNORE).
///
/// # Errors
/// [`MailError::Address`] when `ack.to` is not an address; [`MailError::Store`].
pub async fn queue_acknowledgement(
    ctx: &MailContext,
    dedupe: Uuid,
    ack: &Acknowledgement,
) -> Result<(), MailError> {
    let (subject, body) = acknowledgement_text(ack);
    let mut builder = base(ctx, dedupe, &ack.to, subject)?;
    // RFC 5322 §3.6.4: threads the reply under the referrer's own email.
    if let Some(id) = ack.in_reply_to.as_deref().and_then(message_id) {
        builder = builder.in_reply_to(id.clone()).references(id);
    }
    let message = builder.body(body).map_err(MailError::Build)?;
    ctx.queue(dedupe, MailKind::Acknowledgement, ack.reference, &message)
        .await
}

/// Keeps the address an emailed referral came from, so that its status
/// notifications go back to that person (sealed: it identifies them).
///
/// # Errors
/// [`MailError::Address`] when it is not an address; [`MailError::Store`].
pub async fn remember_reply_address(
    ctx: &MailContext,
    referral_id: ReferralId,
    address: &str,
) -> Result<(), MailError> {
    let address: lettre::Address = address.trim().parse().map_err(|_| MailError::Address)?;
    let sealed = ctx
        .keys
        .seal(address.to_string().as_bytes(), &reply_context(referral_id))?;
    ctx.store
        .remember_reply_address(referral_id, sealed)
        .await?;
    Ok(())
}

/// Commits a status change and, when the referrer is told about the new state, its
/// notification in the same transaction: never lost once the change is committed,
/// never sent for a change that failed. Every status change a referrer cares about
/// (provider acknowledged, accepted, rejected, booked, completed) goes through here.
/// If the notification cannot be prepared, the change still goes ahead (logged):
/// a provider's decision must not fail because of mail.
///
/// # Errors
/// As [`Store::change_status`](crate::store::Store::change_status).
pub async fn commit_status_change(
    store: &dyn Store,
    mail: Option<&MailContext>,
    change: StatusChange,
) -> Result<ReferralSummary, StoreError> {
    let Some(mail) = mail.filter(|_| notifies(change.to)) else {
        return store.change_status(change).await;
    };
    let note = status_notification(mail, change.id, change.to, change.reason.as_deref())
        .await
        .unwrap_or_else(|e| {
            tracing::error!(referral_id = %change.id, error = %e,
                "status notification could not be prepared");
            None
        });
    let queued = note.is_some();
    let summary = store.change_status_with_mail(change, note).await?;
    if queued {
        mail.wake();
    }
    Ok(summary)
}

/// Whether a move to `state` is told to the referrer.
pub fn notifies(state: State) -> bool {
    state_words(state).is_some()
}

/// The notification of `referral`'s move to `state`, ready to be queued with the
/// status change (`Store::change_status_with_mail`), or `None` when notifications are
/// off, the state is not one referrers are told about, or there is no address: the
/// sender of an emailed referral, otherwise the referrer's `notify_email`.
///
/// # Errors
/// [`MailError::Store`], [`MailError::Crypto`] or [`MailError::Build`].
pub async fn status_notification(
    ctx: &MailContext,
    referral: ReferralId,
    state: State,
    reason: Option<&str>,
) -> Result<Option<OutgoingMail>, MailError> {
    let Some(words) = state_words(state).filter(|_| ctx.settings.notify_status) else {
        return Ok(None);
    };
    let stored = ctx.store.get_referral(referral).await?;
    let to = match ctx.store.reply_address(referral).await? {
        Some(sealed) => {
            let plain = ctx.keys.open(&sealed, &reply_context(referral))?;
            Some(String::from_utf8(plain).map_err(|_| MailError::Corrupt)?)
        }
        None => ctx
            .orgs
            .get(&stored.summary.referrer)
            .and_then(|o| o.notify_email.clone()),
    };
    let Some(to) = to else {
        return Ok(None);
    };
    let provider = stored
        .summary
        .provider
        .as_ref()
        .and_then(|p| ctx.orgs.get(p))
        .map(|o| o.name.as_str());
    let id = derived_id(&format!("status/{referral}/{state}"));
    let subject = format!("Referral {referral}: {}", words.0);
    let body = notification_body(referral, words.1, provider, reason);
    let message = base(ctx, id, &to, subject)?
        .body(body)
        .map_err(MailError::Build)?;
    ctx.prepare(id, MailKind::StatusNotification, Some(referral), &message)
        .map(Some)
}

fn reply_context(referral: ReferralId) -> Vec<u8> {
    format!("reply/{referral}").into_bytes()
}

/// From, To, Subject, Message-ID, Date, plain text, and `Auto-Submitted` so that
/// auto-responders do not answer the gateway (RFC 3834 §5).
fn base(
    ctx: &MailContext,
    id: Uuid,
    to: &str,
    subject: String,
) -> Result<lettre::message::MessageBuilder, MailError> {
    let to: lettre::Address = to.trim().parse().map_err(|_| MailError::Address)?;
    let from = Mailbox::new(Some("Referral gateway".to_owned()), ctx.from_address()?);
    let auto = HeaderName::new_from_ascii_str("Auto-Submitted");
    Ok(Message::builder()
        .from(from)
        .to(Mailbox::new(None, to))
        .subject(subject)
        .message_id(Some(ctx.message_id(id)))
        .date_now()
        .header(ContentType::TEXT_PLAIN)
        .raw_header(HeaderValue::new(auto, "auto-replied".to_owned())))
}

/// `<id>` if `raw` is a plausible Message-ID, so nothing from the sender's headers can
/// inject a header line into ours.
fn message_id(raw: &str) -> Option<String> {
    let id = raw.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !id.is_empty()
        && id.len() <= 250
        && id.contains('@')
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    ok.then(|| format!("<{id}>"))
}

/// A rejection reason as shown: printable text only, bounded.
fn clean_reason(reason: &str) -> String {
    let text: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        "no reason given".to_owned()
    } else {
        text.to_owned()
    }
}

const FOOTER: &str = "Please quote the gateway reference if you contact the referral service \
about this referral. For patient confidentiality this email contains no patient details.\n\n\
This message was sent automatically by the referral gateway.\n";

/// Subject and body of an acknowledgement.
fn acknowledgement_text(ack: &Acknowledgement) -> (String, String) {
    let reference = ack.reference.map(|r| r.to_string());
    let (subject, state) = match &ack.state {
        AckState::Accepted => (
            "Referral received",
            "accepted and sent to the provider.".to_owned(),
        ),
        AckState::HeldForReview => (
            "Referral received",
            "held for review by the gateway team. It will be checked and then sent to \
             the provider; you do not need to send it again."
                .to_owned(),
        ),
        AckState::NotAReferral => (
            "Email not read as a referral",
            "not read as a referral, so no referral was made. If it was meant as one, \
             please send the referral letter again, in the email or attached to it."
                .to_owned(),
        ),
        AckState::Rejected { reason } => (
            "Referral not accepted",
            format!("rejected: {}.", clean_reason(reason)),
        ),
    };
    let subject = match &reference {
        Some(r) => format!("{subject}: {r}"),
        None => subject.to_owned(),
    };
    let mut body = String::from("Thank you for your email to the referral service.\n\n");
    if let Some(r) = &reference {
        body.push_str(&format!("Gateway reference: {r}\n"));
    }
    body.push_str(&format!("State: {state}\n"));
    if ack.duplicate {
        body.push_str("\nThis letter had already been received; no second referral was made.\n");
    }
    body.push('\n');
    body.push_str(FOOTER);
    (subject, body)
}

/// Short and long wording of the states a referrer is told about.
fn state_words(state: State) -> Option<(&'static str, &'static str)> {
    Some(match state {
        State::Acknowledged => (
            "received by the provider",
            "has been received by the provider",
        ),
        State::Accepted => ("accepted", "has been accepted by the provider"),
        State::Rejected => ("not accepted", "has not been accepted by the provider"),
        State::Booked => (
            "booked",
            "has been booked: the provider has arranged to see the patient",
        ),
        State::Completed => (
            "completed",
            "has been completed: the provider has finished this episode of care",
        ),
        _ => return None,
    })
}

/// `reason` is a status change's reason or outcome code (never free text from a provider).
fn notification_body(
    referral: ReferralId,
    words: &str,
    provider: Option<&str>,
    reason: Option<&str>,
) -> String {
    let provider = provider
        .map(|p| format!("Provider: {p}\n"))
        .unwrap_or_default();
    // A provider's code is shown in words; the label says whether it is an outcome.
    let reason = reason
        .map(|r| {
            let label = if super::codes::OutcomeCode::parse(r).is_some() {
                "Outcome"
            } else {
                "Reason"
            };
            let words = super::codes::describe(r).map_or_else(|| clean_reason(r), str::to_owned);
            format!("{label}: {words}\n")
        })
        .unwrap_or_default();
    format!(
        "The referral with gateway reference {referral} {words}.\n\n\
         Gateway reference: {referral}\n{provider}{reason}\n{FOOTER}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(state: AckState) -> Acknowledgement {
        Acknowledgement {
            to: "gp@example.nhs.uk".into(),
            in_reply_to: None,
            reference: Some(ReferralId::new()),
            state,
            duplicate: false,
        }
    }

    #[test]
    fn an_acknowledgement_gives_the_reference_and_the_state_in_words() {
        let a = ack(AckState::HeldForReview);
        let (subject, body) = acknowledgement_text(&a);
        let r = a.reference.unwrap().to_string();
        assert!(subject.contains(&r));
        assert!(body.contains(&format!("Gateway reference: {r}")));
        assert!(body.contains("held for review by the gateway team"));
    }

    #[test]
    fn a_rejection_reason_cannot_add_lines_or_run_on() {
        let (_, body) = acknowledgement_text(&ack(AckState::Rejected {
            reason: "bad\r\nBcc: x@y\u{7}".repeat(50),
        }));
        assert!(!body.contains("\r\nBcc"));
        assert!(body.lines().all(|l| l.len() < 300));
    }

    #[test]
    fn only_plausible_message_ids_are_threaded() {
        assert_eq!(message_id("abc@host").as_deref(), Some("<abc@host>"));
        assert_eq!(message_id("<abc@host>").as_deref(), Some("<abc@host>"));
        assert_eq!(message_id("abc@host>\r\nBcc: x@y"), None);
        assert_eq!(message_id("no-at-sign"), None);
    }

    #[test]
    fn the_debug_form_hides_the_address() {
        assert!(!format!("{:?}", ack(AckState::Accepted)).contains("example.nhs.uk"));
    }

    #[test]
    fn referrers_are_told_of_provider_decisions_not_of_internal_steps() {
        assert!(notifies(State::Acknowledged) && notifies(State::Booked));
        assert!(!notifies(State::Ready) && !notifies(State::Delivered));
    }
}
