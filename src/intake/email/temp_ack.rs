//! TEMP until `feedback::reply` lands (OUTBOX part, see PLAN-email.md): the
//! acknowledgement values the email channel hands over, mirroring the contract's
//! `feedback::reply::{Acknowledgement, AckState}`, and `acknowledge`, which for now only
//! logs. At merge this file goes: `acknowledge` becomes
//! `queue_acknowledgement(mail_ctx, id.as_uuid(), &ack)` (the spool id is the dedupe id,
//! so re-processing after a crash queues no second reply).

use crate::domain::ReferralId;
use crate::store::MailId;

/// The referral's state as the sender is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AckState {
    Accepted,
    HeldForReview,
    NotAReferral,
    /// A reason code, never text from the message.
    Rejected {
        reason: String,
    },
}

impl AckState {
    pub(super) fn rejected(reason: &str) -> Self {
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
pub(super) struct Acknowledgement {
    /// The envelope sender: allow-listed, unlike the From header, so replies cannot be
    /// aimed at a third party.
    pub(super) to: Option<String>,
    pub(super) in_reply_to: Option<String>,
    pub(super) reference: Option<ReferralId>,
    pub(super) state: AckState,
    pub(super) duplicate: bool,
}

impl Acknowledgement {
    pub(super) fn new(
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
pub(super) fn acknowledge(id: MailId, ack: &Acknowledgement) {
    tracing::info!(
        mail_id = %id,
        referral_id = ack.reference.map(|r| r.to_string()),
        state = ack.state.as_str(),
        duplicate = ack.duplicate,
        has_recipient = ack.to.is_some(),
        "email acknowledgement due"
    );
}
