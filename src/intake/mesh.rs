//! The MESH send channel: a referrer's clinic system sends a referral to the gateway's
//! intake mailbox (`POST /messageexchange/{mailbox}/outbox`), and it goes through
//! [`super::accept`] like every other channel. This module decides what a MESH send
//! is addressed to and builds the submission; it never reads or writes mailboxes.
//!
//! Providers send status messages (accepted, rejected, booked, completed) to the same
//! intake mailbox under [`STATUS_WORKFLOW_ID`]; the envelope is checked here by the same
//! rules, and the body goes to `feedback::update`, not to intake.

use bytes::Bytes;

use super::{Channel, RawSubmission};
use crate::domain::{MailboxId, OrgId};

/// Why a MESH send is refused before intake, with MESH's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// `mex-To` is missing (MESH code 08).
    #[error("missing to address")]
    MissingRecipient,
    /// `mex-To` is not the gateway's intake mailbox (MESH code 12).
    #[error("unregistered to address: send referrals to the gateway intake mailbox")]
    UnregisteredRecipient,
    /// `mex-WorkflowID` is not the referral workflow (MESH code 17).
    #[error("workflow not registered for mailbox")]
    UnknownWorkflow,
    /// A chunked send (`mex-Chunk-Range` other than 1:1): referrals are far below
    /// MESH's chunk size, so chunking is not supported (MESH code 06, as malformed).
    #[error("chunked messages are not accepted by this mailbox")]
    Chunked,
    /// No body (MESH code 02).
    #[error("data file is missing")]
    Empty,
    /// Only referrers send referrals (MESH code 16).
    #[error("sender is not allowed to send this message type")]
    SenderNotAllowed,
}

impl SendError {
    /// The MESH error code of this refusal.
    pub fn code(self) -> &'static str {
        match self {
            SendError::MissingRecipient => "08",
            SendError::UnregisteredRecipient => "12",
            SendError::UnknownWorkflow => "17",
            SendError::Chunked => "06",
            SendError::Empty => "02",
            SendError::SenderNotAllowed => "16",
        }
    }
}

/// `mex-WorkflowID` of a provider's status message: a JSON status update
/// (`{"referral_id", "status", "reason"?, "outcome"?}`) or a FHIR Task naming the
/// referral in `focus`. Fixed, so provider systems can hard-code it as they do MESH
/// workflow ids; the referral workflow with `_STATUS`, after MESH's `_ACK` convention.
pub const STATUS_WORKFLOW_ID: &str = "TALKING_THERAPIES_REFERRAL_STATUS";

/// The envelope of a MESH send, as the headers gave it.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub to: Option<&'a str>,
    pub workflow_id: Option<&'a str>,
    pub chunk_range: Option<&'a str>,
    /// `mex-Content-Type`, else `Content-Type`.
    pub media_type: Option<&'a str>,
}

/// Checks a MESH send and builds the submission for [`super::accept`].
///
/// Referrals are addressed to the gateway's intake mailbox only, never straight to a
/// provider's mailbox: the gateway's routing rules choose the provider (by GP practice,
/// postcode, pathway), and letting senders pick one would bypass them or, worse,
/// deliver somewhere other than where the sender addressed it.
///
/// # Errors
/// [`SendError`] with the MESH code to answer.
pub fn submission(
    org: &OrgId,
    intake_mailbox: &MailboxId,
    workflow_id: &str,
    envelope: &Envelope<'_>,
    body: Bytes,
) -> Result<RawSubmission, SendError> {
    check(intake_mailbox, workflow_id, envelope, &body)?;
    Ok(raw_submission(
        org.clone(),
        envelope
            .media_type
            .unwrap_or("application/octet-stream")
            .to_owned(),
        body,
    ))
}

/// Whether a send is a provider's status message (by its workflow id).
pub fn is_status_message(envelope: &Envelope<'_>) -> bool {
    envelope
        .workflow_id
        .is_some_and(|w| w.trim().eq_ignore_ascii_case(STATUS_WORKFLOW_ID))
}

/// Checks the envelope of a status message by the rules of a referral send (to the
/// intake mailbox, one chunk, not empty) and returns its body.
///
/// # Errors
/// [`SendError`] with the MESH code to answer.
pub fn status_message(
    intake_mailbox: &MailboxId,
    envelope: &Envelope<'_>,
    body: Bytes,
) -> Result<Bytes, SendError> {
    check(intake_mailbox, STATUS_WORKFLOW_ID, envelope, &body)?;
    Ok(body)
}

fn check(
    intake_mailbox: &MailboxId,
    workflow_id: &str,
    envelope: &Envelope<'_>,
    body: &Bytes,
) -> Result<(), SendError> {
    let to = envelope
        .to
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(SendError::MissingRecipient)?;
    if !to.eq_ignore_ascii_case(intake_mailbox.as_str()) {
        return Err(SendError::UnregisteredRecipient);
    }
    if !envelope
        .workflow_id
        .is_some_and(|w| w.trim().eq_ignore_ascii_case(workflow_id))
    {
        return Err(SendError::UnknownWorkflow);
    }
    if envelope.chunk_range.is_some_and(|r| r.trim() != "1:1") {
        return Err(SendError::Chunked);
    }
    if body.is_empty() {
        return Err(SendError::Empty);
    }
    Ok(())
}

/// The one place a MESH submission is constructed. MESH has no idempotency key:
/// mesh-client never retries a send, and the same content sent twice is recognised by
/// intake's content hash.
fn raw_submission(org: OrgId, media_type: String, body: Bytes) -> RawSubmission {
    RawSubmission {
        org,
        channel: Channel::Mesh,
        media_type,
        body,
        idempotency_key: None,
        supporting: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope<'a>(to: Option<&'a str>, workflow: Option<&'a str>) -> Envelope<'a> {
        Envelope {
            to,
            workflow_id: workflow,
            chunk_range: Some("1:1"),
            media_type: Some("application/fhir+json"),
        }
    }

    fn send(e: &Envelope<'_>, body: &'static [u8]) -> Result<RawSubmission, SendError> {
        let org = OrgId::parse("RCB55").unwrap();
        let intake = MailboxId::parse("REFGATE").unwrap();
        submission(&org, &intake, "TT_REF", e, Bytes::from_static(body))
    }

    #[test]
    fn a_send_to_the_intake_mailbox_becomes_a_mesh_submission() {
        let raw = send(&envelope(Some("refgate"), Some("TT_REF")), b"{}").unwrap();
        assert_eq!(raw.channel, Channel::Mesh);
        assert_eq!(raw.media_type, "application/fhir+json");
    }

    #[test]
    fn sends_to_other_mailboxes_or_workflows_are_refused_with_mesh_codes() {
        let code = |e: &Envelope<'_>, b| send(e, b).unwrap_err().code();
        assert_eq!(code(&envelope(None, Some("TT_REF")), b"{}"), "08");
        assert_eq!(
            code(&envelope(Some("TTNORTH"), Some("TT_REF")), b"{}"),
            "12"
        );
        assert_eq!(code(&envelope(Some("REFGATE"), Some("OTHER")), b"{}"), "17");
        assert_eq!(code(&envelope(Some("REFGATE"), None), b"{}"), "17");
        assert_eq!(code(&envelope(Some("REFGATE"), Some("TT_REF")), b""), "02");
        let mut chunked = envelope(Some("REFGATE"), Some("TT_REF"));
        chunked.chunk_range = Some("1:2");
        assert_eq!(code(&chunked, b"{}"), "06");
    }

    #[test]
    fn a_status_message_is_checked_like_a_referral_send() {
        let intake = MailboxId::parse("REFGATE").unwrap();
        let status = envelope(Some("REFGATE"), Some(STATUS_WORKFLOW_ID));
        assert!(is_status_message(&status));
        assert!(!is_status_message(&envelope(
            Some("REFGATE"),
            Some("TT_REF")
        )));
        assert!(status_message(&intake, &status, Bytes::from_static(b"{}")).is_ok());
        let elsewhere = envelope(Some("TTNORTH"), Some(STATUS_WORKFLOW_ID));
        let refused = status_message(&intake, &elsewhere, Bytes::from_static(b"{}"));
        assert_eq!(refused.unwrap_err().code(), "12");
        let empty = status_message(&intake, &status, Bytes::new());
        assert_eq!(empty.unwrap_err().code(), "02");
    }
}
