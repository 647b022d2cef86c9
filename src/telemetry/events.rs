//! Typed operational events. Each emits one log line and one metric, so the fields
//! that leave the process are reviewed here, in one place.

use super::metrics::{EventLabels, MailLabels, Metrics, PushLabels, SubmissionLabels};
use crate::domain::{OrgId, ReferralId, State};
use crate::store::MailKind;

/// A submission was accepted into the store.
pub struct ReferralAccepted<'a> {
    pub id: ReferralId,
    pub org: &'a OrgId,
    pub channel: &'static str,
    pub state: State,
    pub provider: Option<&'a OrgId>,
    pub duplicate: bool,
}

impl ReferralAccepted<'_> {
    pub fn emit(&self, m: &Metrics) {
        let provider = self.provider.map(OrgId::as_str).unwrap_or("-");
        tracing::info!(referral_id = %self.id, org = %self.org, channel = self.channel, state = %self.state,
            provider, duplicate = self.duplicate, "referral accepted");
        let outcome = if self.duplicate {
            "duplicate"
        } else {
            self.state.as_str()
        };
        m.submissions
            .get_or_create(&SubmissionLabels {
                channel: self.channel.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// A submission was refused at intake. Only counts and field paths are reported.
pub struct SubmissionRejected<'a> {
    pub org: &'a OrgId,
    pub channel: &'static str,
    pub reason: &'static str,
    pub problems: usize,
}

impl SubmissionRejected<'_> {
    pub fn emit(&self, m: &Metrics) {
        tracing::warn!(org = %self.org, channel = self.channel, reason = self.reason, problems = self.problems, "submission rejected");
        m.submissions
            .get_or_create(&SubmissionLabels {
                channel: self.channel.to_owned(),
                outcome: "rejected".to_owned(),
            })
            .inc();
        m.events
            .get_or_create(&EventLabels {
                event: "submission_rejected".to_owned(),
                reason: self.reason.to_owned(),
            })
            .inc();
    }
}

/// A request was refused for lack of a known client certificate or role.
pub struct AuthDenied {
    pub reason: &'static str,
    pub org: Option<OrgId>,
}

impl AuthDenied {
    pub fn emit(&self, m: &Metrics) {
        let org = self.org.as_ref().map(OrgId::as_str).unwrap_or("-");
        tracing::warn!(reason = self.reason, org, "request denied");
        m.events
            .get_or_create(&EventLabels {
                event: "auth_denied".to_owned(),
                reason: self.reason.to_owned(),
            })
            .inc();
    }
}

/// An internal failure answered with an opaque 500.
pub struct InternalFailure<'a> {
    pub error: &'a (dyn std::error::Error + 'static),
}

impl InternalFailure<'_> {
    pub fn emit(&self, m: &Metrics) {
        // The chain is walked here once; store and crypto errors never carry patient data.
        let mut chain = self.error.to_string();
        let mut src = self.error.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        m.events
            .get_or_create(&EventLabels {
                event: "internal_error".to_owned(),
                reason: "-".to_owned(),
            })
            .inc();
    }
}

/// The relay took an outgoing email. Ids and counts only: never addresses or subjects.
pub struct MailSent {
    pub id: uuid::Uuid,
    pub kind: MailKind,
    pub referral: Option<ReferralId>,
    pub attempts: u32,
}

impl MailSent {
    pub fn emit(&self, m: &Metrics) {
        let referral = self.referral.map(|r| r.to_string());
        tracing::info!(mail_id = %self.id, kind = self.kind.as_str(), referral_id = referral.as_deref().unwrap_or("-"),
            attempts = self.attempts, "mail sent");
        m.mail
            .get_or_create(&MailLabels {
                kind: self.kind.as_str().to_owned(),
                outcome: "sent".to_owned(),
            })
            .inc();
    }
}

/// An outgoing email was given up: refused for good by the relay, unreadable, or out
/// of attempts. Operators are alerted on the counter; the audit log has it too.
pub struct MailGivenUp {
    pub id: uuid::Uuid,
    pub kind: MailKind,
    pub referral: Option<ReferralId>,
    pub attempts: u32,
    /// A failure class (`permanent`, `transient`, `connection`, `tls`, ...).
    pub error: &'static str,
}

impl MailGivenUp {
    pub fn emit(&self, m: &Metrics) {
        let referral = self.referral.map(|r| r.to_string());
        tracing::error!(mail_id = %self.id, kind = self.kind.as_str(), referral_id = referral.as_deref().unwrap_or("-"),
            attempts = self.attempts, error = self.error, "mail given up");
        m.mail
            .get_or_create(&MailLabels {
                kind: self.kind.as_str().to_owned(),
                outcome: "given_up".to_owned(),
            })
            .inc();
        m.events
            .get_or_create(&EventLabels {
                event: "mail_given_up".to_owned(),
                reason: self.error.to_owned(),
            })
            .inc();
    }
}

/// The SMTP listener refused a connection, a command or a message. The reason is a
/// fixed code; addresses and message content are never reported.
pub struct SmtpRefused<'a> {
    pub reason: &'static str,
    /// The sending organisation, once MAIL FROM has named an allow-listed sender.
    pub org: Option<&'a OrgId>,
}

impl SmtpRefused<'_> {
    pub fn emit(&self, m: &Metrics) {
        let org = self.org.map(OrgId::as_str).unwrap_or("-");
        tracing::info!(channel = "email", org, reason = self.reason, "smtp refused");
        m.events
            .get_or_create(&EventLabels {
                event: "smtp_refused".to_owned(),
                reason: self.reason.to_owned(),
            })
            .inc();
    }
}

/// A message was committed to the inbound spool (the sender was then told 250).
pub struct EmailSpooled<'a> {
    pub id: crate::store::MailId,
    pub org: &'a OrgId,
    pub size: usize,
}

impl EmailSpooled<'_> {
    pub fn emit(&self, m: &Metrics) {
        tracing::info!(mail_id = %self.id, org = %self.org, channel = "email", size = self.size, "email spooled");
        m.events
            .get_or_create(&EventLabels {
                event: "email_spooled".to_owned(),
                reason: "accepted".to_owned(),
            })
            .inc();
    }
}

/// A spooled message could not become a referral; it is kept in the spool as failed.
pub struct EmailFailed<'a> {
    pub id: crate::store::MailId,
    pub org: &'a OrgId,
    pub reason: &'static str,
}

impl EmailFailed<'_> {
    pub fn emit(&self, m: &Metrics) {
        tracing::warn!(mail_id = %self.id, org = %self.org, channel = "email", reason = self.reason,
            "email could not be taken in; kept in the spool as failed");
        m.events
            .get_or_create(&EventLabels {
                event: "email_failed".to_owned(),
                reason: self.reason.to_owned(),
            })
            .inc();
    }
}

fn count_push(m: &Metrics, provider: &OrgId, outcome: &str) {
    m.push
        .get_or_create(&PushLabels {
            provider: provider.as_str().to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
}

/// A push provider took a referral (2xx). Ids, codes and counts only: never the body.
pub struct PushDelivered<'a> {
    pub id: ReferralId,
    pub provider: &'a OrgId,
    pub attempts: u32,
    pub status: u16,
    /// Its answer said it processed the message (FHIR response code `ok`).
    pub acknowledged: bool,
}

impl PushDelivered<'_> {
    pub fn emit(&self, m: &Metrics) {
        tracing::info!(referral_id = %self.id, provider = %self.provider, attempts = self.attempts,
            status = self.status, acknowledged = self.acknowledged, "referral pushed");
        count_push(m, self.provider, "delivered");
    }
}

/// A push attempt failed for now; it will be retried.
pub struct PushRetry<'a> {
    pub id: ReferralId,
    pub provider: &'a OrgId,
    pub attempts: u32,
    /// A failure class (`timeout`, `connection`, `http-5xx`, ...).
    pub error: &'static str,
    pub status: Option<u16>,
    pub retry_in: std::time::Duration,
}

impl PushRetry<'_> {
    pub fn emit(&self, m: &Metrics) {
        tracing::warn!(referral_id = %self.id, provider = %self.provider, attempts = self.attempts,
            error = self.error, status = self.status,
            retry_in_ms = u64::try_from(self.retry_in.as_millis()).unwrap_or(u64::MAX),
            "push failed; will retry");
        count_push(m, self.provider, "retry");
    }
}

/// A push delivery was given up and the referral dead-lettered: refused by the
/// provider, or out of attempts. Operators are alerted on the counter.
pub struct PushGivenUp<'a> {
    pub id: ReferralId,
    pub provider: &'a OrgId,
    pub attempts: u32,
    pub error: &'static str,
    pub status: Option<u16>,
}

impl PushGivenUp<'_> {
    pub fn emit(&self, m: &Metrics) {
        tracing::error!(referral_id = %self.id, provider = %self.provider, attempts = self.attempts,
            error = self.error, status = self.status, "push given up; referral dead-lettered");
        count_push(m, self.provider, "dead_letter");
        m.events
            .get_or_create(&EventLabels {
                event: "push_dead_letter".to_owned(),
                reason: self.error.to_owned(),
            })
            .inc();
    }
}

/// An operator sent a dead-lettered referral back to be delivered again.
pub struct DeadLetterRedriven<'a> {
    pub id: ReferralId,
    pub operator: &'a OrgId,
}

impl DeadLetterRedriven<'_> {
    pub fn emit(&self, m: &Metrics) {
        tracing::info!(referral_id = %self.id, operator = %self.operator, "dead letter re-driven");
        m.events
            .get_or_create(&EventLabels {
                event: "dead_letter_redriven".to_owned(),
                reason: "operator".to_owned(),
            })
            .inc();
    }
}
