//! A referral's status as a FHIR R4 Task (standards.md §3), for its referrer and its
//! provider: `GET /fhir/Task/{id}`.
//!
//! The Task carries the lifecycle only: state, reason or outcome codes, times and the
//! two organisations. It never carries patient data (`Task.for` is left out on
//! purpose): the referrer has the record already and the provider has the message.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::codes::{OUTCOME_SYSTEM, OutcomeCode, REASON_SYSTEM, ReasonCode, STATE_SYSTEM};
use crate::audit::event::format_time;
use crate::domain::{OrgId, State};
use crate::normalise::fhir_write::{REFERRAL_ID_SYSTEM, org_identifier};
use crate::store::StoredReferral;

/// `http://hl7.org/fhir/CodeSystem/task-code`: the Task asks for the referral to be
/// carried out.
const TASK_CODE_SYSTEM: &str = "http://hl7.org/fhir/CodeSystem/task-code";

/// The referral's status as a Task. `names` gives organisations' display names.
pub fn task(stored: &StoredReferral, names: &HashMap<OrgId, String>) -> Value {
    let s = &stored.summary;
    let id = s.id.to_string();
    let last = stored.history.last().map_or(s.received_at, |t| t.at);
    let org = |o: &OrgId| {
        json!({
            "type": "Organization",
            "identifier": org_identifier(o),
            "display": names.get(o).map_or(o.as_str(), String::as_str),
        })
    };
    let mut task = json!({
        "resourceType": "Task",
        "id": id,
        "meta": {"lastUpdated": format_time(last)},
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": id}],
        "status": s.state.fhir_task_status(),
        "businessStatus": {
            "coding": [{"system": STATE_SYSTEM, "code": s.state.as_str()}],
            "text": s.state.as_str(),
        },
        "intent": "order",
        "priority": s.urgency.as_str(),
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill"}]},
        "focus": {
            "reference": format!("ServiceRequest/{id}"),
            "type": "ServiceRequest",
            "identifier": {"system": REFERRAL_ID_SYSTEM, "value": id},
        },
        "authoredOn": format_time(s.received_at),
        "lastModified": format_time(last),
        "requester": org(&s.referrer),
    });
    if let Some(p) = &s.provider {
        task["owner"] = org(p);
    }
    if let Some(code) = latest_code(stored, State::Rejected).and_then(ReasonCode::parse) {
        task["statusReason"] = json!({
            "coding": [{"system": REASON_SYSTEM, "code": code.as_str(), "display": code.display()}],
            "text": code.display(),
        });
    }
    if let Some(outcome) = latest_code(stored, State::Completed).and_then(OutcomeCode::parse) {
        task["output"] = json!([{
            "type": {"text": "outcome"},
            "valueCodeableConcept": {
                "coding": [{"system": OUTCOME_SYSTEM, "code": outcome.as_str(), "display": outcome.display()}],
                "text": outcome.display(),
            },
        }]);
    }
    task
}

/// The code kept with the latest move into `state`, while the referral is still there.
pub(super) fn latest_code(stored: &StoredReferral, state: State) -> Option<&str> {
    if stored.summary.state != state {
        return None;
    }
    stored
        .history
        .iter()
        .rev()
        .find(|t| t.state == state)
        .and_then(|t| t.reason.as_deref())
}
