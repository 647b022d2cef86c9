//! Status updates from providers: accepted, rejected (with a reason code), booked,
//! completed (with an outcome code).
//!
//! Three forms arrive: the plain JSON status call, a FHIR Task (API), and a MESH status
//! message (either form as its body). Each is read into one [`StatusUpdate`] here and
//! applied by [`apply`], the one path for all of them, which commits through
//! [`super::reply::commit_status_change`] so the referrer's notification is queued in
//! the same transaction. Reasons and outcomes are codes, never free text. Problems name
//! fields, never quote the input.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::codes::{OUTCOME_SYSTEM, OutcomeCode, REASON_SYSTEM, ReasonCode};
use crate::audit::Action;
use crate::domain::lifecycle::TransitionError;
use crate::domain::{OrgId, ReferralId, State};
use crate::normalise::fhir_write::REFERRAL_ID_SYSTEM;
use crate::normalise::{IssueCode, Problem};
use crate::outbox::MailContext;
use crate::store::{ReferralSummary, StatusChange, Store, StoreError};

/// A provider's status update, checked against the code lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub to: State,
    pub reason: Option<ReasonCode>,
    pub outcome: Option<OutcomeCode>,
}

impl StatusUpdate {
    /// The code kept with the transition (the lists are disjoint).
    fn code(&self) -> Option<&'static str> {
        self.reason
            .map(ReasonCode::as_str)
            .or(self.outcome.map(OutcomeCode::as_str))
    }
}

/// Why a status update was not applied.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Unknown, or routed to another provider (indistinguishable on purpose).
    #[error("referral not found")]
    NotFound,
    /// The lifecycle does not allow it (e.g. booked before accepted).
    #[error(transparent)]
    Transition(TransitionError),
    /// The update is malformed or uses an unknown status or code.
    #[error("status update is invalid")]
    Invalid(Vec<Problem>),
    #[error("store failure")]
    Store(#[source] StoreError),
}

impl From<StoreError> for UpdateError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => UpdateError::NotFound,
            StoreError::Transition(t) => UpdateError::Transition(t),
            other => UpdateError::Store(other),
        }
    }
}

/// The plain JSON form. Unknown fields are refused: a `note` would be free text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainUpdate {
    /// Only in MESH status messages, where there is no URL to name the referral.
    referral_id: Option<String>,
    status: String,
    reason: Option<String>,
    outcome: Option<String>,
}

fn invalid(code: IssueCode, path: &str, message: &str) -> UpdateError {
    UpdateError::Invalid(vec![Problem::new(code, path, message)])
}

/// Reads a status update: a FHIR Task (`resourceType` = `Task`) or the plain JSON form.
/// Returns the referral id the body names, if it names one.
///
/// # Errors
/// [`UpdateError::Invalid`] naming the field at fault.
pub fn parse(body: &[u8]) -> Result<(Option<ReferralId>, StatusUpdate), UpdateError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| invalid(IssueCode::Structure, "$", "body is not JSON"))?;
    if value.get("resourceType").is_some() {
        return parse_task(&value);
    }
    let plain: PlainUpdate = serde_json::from_value(value).map_err(|_| {
        invalid(
            IssueCode::Structure,
            "$",
            "expected {\"status\", \"reason\"?, \"outcome\"?} and no other fields",
        )
    })?;
    let id = plain
        .referral_id
        .as_deref()
        .map(|s| {
            ReferralId::parse(s.trim())
                .map_err(|_| invalid(IssueCode::Value, "$.referral_id", "not a referral id"))
        })
        .transpose()?;
    let to = match plain.status.trim() {
        "accepted" => State::Accepted,
        "rejected" => State::Rejected,
        "booked" => State::Booked,
        "completed" => State::Completed,
        _ => {
            return Err(invalid(
                IssueCode::Value,
                "$.status",
                "status must be accepted, rejected, booked or completed",
            ));
        }
    };
    let update = checked(
        to,
        plain.reason.as_deref(),
        plain.outcome.as_deref(),
        ("$.reason", "$.outcome"),
    )?;
    Ok((id, update))
}

/// Reads a FHIR R4 Task: `status` accepted / rejected / in-progress (booked) /
/// completed, `statusReason` coded from [`REASON_SYSTEM`], the outcome as an `output`
/// coded from [`OUTCOME_SYSTEM`]. The referral is `Task.focus` (reference
/// `ServiceRequest/<id>` or identifier), else `Task.id`.
fn parse_task(task: &Value) -> Result<(Option<ReferralId>, StatusUpdate), UpdateError> {
    if task["resourceType"] != "Task" {
        return Err(invalid(
            IssueCode::NotSupported,
            "resourceType",
            "expected a Task",
        ));
    }
    let to = match task["status"].as_str() {
        Some("accepted") => State::Accepted,
        Some("rejected") => State::Rejected,
        Some("in-progress") => State::Booked,
        Some("completed") => State::Completed,
        Some(_) => {
            return Err(invalid(
                IssueCode::Value,
                "Task.status",
                "status must be accepted, rejected, in-progress (booked) or completed",
            ));
        }
        None => {
            return Err(invalid(
                IssueCode::Required,
                "Task.status",
                "status is required",
            ));
        }
    };
    let reason = match task.get("statusReason") {
        None => None,
        Some(cc) => Some(coded(cc, REASON_SYSTEM).ok_or_else(|| {
            invalid(
                IssueCode::Value,
                "Task.statusReason",
                "statusReason must be coded from the rejection reason code system",
            )
        })?),
    };
    let outputs = task["output"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let outcome = match outputs.first() {
        None => None,
        Some(o) => Some(
            coded(&o["valueCodeableConcept"], OUTCOME_SYSTEM).ok_or_else(|| {
                invalid(
                    IssueCode::Value,
                    "Task.output[0].valueCodeableConcept",
                    "the outcome must be coded from the outcome code system",
                )
            })?,
        ),
    };
    let update = checked(
        to,
        reason,
        outcome,
        ("Task.statusReason", "Task.output[0].valueCodeableConcept"),
    )?;
    Ok((task_referral(task)?, update))
}

/// The first code of `system` (or of no stated system) in a CodeableConcept. Text is
/// never read: it is free text.
fn coded<'a>(cc: &'a Value, system: &str) -> Option<&'a str> {
    cc["coding"].as_array()?.iter().find_map(|c| {
        let ours = c.get("system").is_none_or(|s| s == system);
        ours.then(|| c["code"].as_str()).flatten()
    })
}

fn task_referral(task: &Value) -> Result<Option<ReferralId>, UpdateError> {
    let focus = &task["focus"];
    let from_reference = focus["reference"]
        .as_str()
        .map(|r| r.strip_prefix("ServiceRequest/").unwrap_or(r));
    let from_identifier = (focus["identifier"]["system"] == REFERRAL_ID_SYSTEM)
        .then(|| focus["identifier"]["value"].as_str())
        .flatten();
    match from_reference.or(from_identifier).or(task["id"].as_str()) {
        None => Ok(None),
        Some(s) => ReferralId::parse(s.trim()).map(Some).map_err(|_| {
            invalid(
                IssueCode::Value,
                "Task.focus",
                "focus must name a referral of this gateway",
            )
        }),
    }
}

/// Checks the codes against the state: a rejection needs a reason, a completion an
/// outcome, and neither may be given with another state.
fn checked(
    to: State,
    reason: Option<&str>,
    outcome: Option<&str>,
    (reason_path, outcome_path): (&str, &str),
) -> Result<StatusUpdate, UpdateError> {
    let mut problems = Vec::new();
    let reason = match (to, reason) {
        (State::Rejected, None) => {
            problems.push(Problem::new(
                IssueCode::Required,
                reason_path,
                "a rejection needs a reason code",
            ));
            None
        }
        (State::Rejected, Some(r)) => {
            let code = ReasonCode::parse(r);
            if code.is_none() {
                problems.push(Problem::new(
                    IssueCode::Value,
                    reason_path,
                    "not a known rejection reason code",
                ));
            }
            code
        }
        (_, Some(_)) => {
            problems.push(Problem::new(
                IssueCode::BusinessRule,
                reason_path,
                "a reason is given only with rejected",
            ));
            None
        }
        (_, None) => None,
    };
    let outcome = match (to, outcome) {
        (State::Completed, None) => {
            problems.push(Problem::new(
                IssueCode::Required,
                outcome_path,
                "a completion needs an outcome code",
            ));
            None
        }
        (State::Completed, Some(o)) => {
            let code = OutcomeCode::parse(o);
            if code.is_none() {
                problems.push(Problem::new(
                    IssueCode::Value,
                    outcome_path,
                    "not a known outcome code",
                ));
            }
            code
        }
        (_, Some(_)) => {
            problems.push(Problem::new(
                IssueCode::BusinessRule,
                outcome_path,
                "an outcome is given only with completed",
            ));
            None
        }
        (_, None) => None,
    };
    if problems.is_empty() {
        Ok(StatusUpdate {
            to,
            reason,
            outcome,
        })
    } else {
        Err(UpdateError::Invalid(problems))
    }
}

/// Applies `provider`'s update to referral `id`: audited, with the referrer's
/// notification queued in the same transaction. The same update repeated (a MESH
/// message sent twice, a retried request) changes nothing and succeeds.
///
/// # Errors
/// [`UpdateError::NotFound`] unless the referral is routed to `provider`;
/// [`UpdateError::Transition`] when the lifecycle refuses it.
#[tracing::instrument(skip_all, fields(referral_id = %id, provider = %provider, to = %update.to))]
pub async fn apply(
    store: &dyn Store,
    mail: Option<&MailContext>,
    at: DateTime<Utc>,
    provider: &OrgId,
    id: ReferralId,
    update: &StatusUpdate,
) -> Result<ReferralSummary, UpdateError> {
    let stored = store.get_referral(id).await?;
    if stored.summary.provider.as_ref() != Some(provider) {
        return Err(UpdateError::NotFound);
    }
    let last = stored.history.last();
    if stored.summary.state == update.to && last.and_then(|t| t.reason.as_deref()) == update.code()
    {
        return Ok(stored.summary);
    }
    let change = StatusChange {
        id,
        actor: provider.clone(),
        provider: Some(provider.clone()),
        to: update.to,
        reason: update.code().map(str::to_owned),
        action: Action::StatusChange,
        at,
    };
    let summary = super::reply::commit_status_change(store, mail, change).await?;
    tracing::info!("provider status applied");
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(body: &str) -> Result<StatusUpdate, UpdateError> {
        parse(body.as_bytes()).map(|(_, u)| u)
    }

    #[test]
    fn a_rejection_needs_a_known_reason_code() {
        let u = plain(r#"{"status":"rejected","reason":"out-of-area"}"#).unwrap();
        assert_eq!(u.to, State::Rejected);
        assert_eq!(u.reason.map(ReasonCode::as_str), Some("out-of-area"));
        assert!(matches!(
            plain(r#"{"status":"rejected"}"#),
            Err(UpdateError::Invalid(_))
        ));
        assert!(matches!(
            plain(r#"{"status":"rejected","reason":"Mrs Smith has moved"}"#),
            Err(UpdateError::Invalid(_))
        ));
    }

    #[test]
    fn free_text_fields_and_misplaced_codes_are_refused() {
        assert!(plain(r#"{"status":"accepted","note":"anything"}"#).is_err());
        assert!(plain(r#"{"status":"accepted","outcome":"referred-on"}"#).is_err());
        assert!(plain(r#"{"status":"completed"}"#).is_err());
        assert!(plain(r#"{"status":"acknowledged"}"#).is_err());
    }

    #[test]
    fn a_task_maps_to_the_lifecycle() {
        let id = ReferralId::new();
        let task = serde_json::json!({
            "resourceType": "Task", "status": "completed", "intent": "order",
            "focus": {"reference": format!("ServiceRequest/{id}")},
            "output": [{"type": {"text": "outcome"}, "valueCodeableConcept": {"coding": [
                {"system": OUTCOME_SYSTEM, "code": "treatment-completed"}]}}]
        });
        let (got, u) = parse(task.to_string().as_bytes()).unwrap();
        assert_eq!(got, Some(id));
        assert_eq!(u.to, State::Completed);
        assert_eq!(
            u.outcome.map(OutcomeCode::as_str),
            Some("treatment-completed")
        );
        let booked = serde_json::json!({"resourceType": "Task", "status": "in-progress", "id": id.to_string()});
        assert_eq!(
            parse(booked.to_string().as_bytes()).unwrap().1.to,
            State::Booked
        );
    }

    #[test]
    fn a_task_reason_given_only_as_text_is_refused() {
        let task = serde_json::json!({
            "resourceType": "Task", "status": "rejected",
            "statusReason": {"text": "patient moved to Leeds"}
        });
        assert!(matches!(
            parse(task.to_string().as_bytes()),
            Err(UpdateError::Invalid(_))
        ));
    }
}
