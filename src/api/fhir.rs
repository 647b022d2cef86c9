//! FHIR messaging: `POST /fhir/$process-message` and `GET /fhir/metadata`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, from_intake};
use super::referrals::raw_submission;
use crate::config::Role;
use crate::intake::{self, Channel};
use crate::normalise::{IssueCode, Problem};

/// Processes a referral message synchronously: the answer is a response message
/// (`MessageHeader.response.code = ok`) sent only after the referral is committed.
pub async fn process_message(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.require(Role::Referrer, &state)?.clone();
    let mut raw = raw_submission(&req, payload, org, Channel::FhirMessage, &state).await?;
    // $process-message takes FHIR only; a bare `application/json` body is read as FHIR too.
    if raw
        .media_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    {
        raw.media_type = "application/fhir+json".to_owned();
    }
    let request_header = request_message_id(&raw.body)?;
    let receipt = intake::accept(&state.intake, raw)
        .await
        .map_err(|e| from_intake(e, &state.metrics))?;
    let outcome_id = Uuid::new_v4();
    let text = format!("referral {} {}", receipt.summary.id, receipt.summary.state);
    let response = json!({
        "resourceType": "Bundle",
        "identifier": {"system": "https://refgate.nhs.example/Id/message", "value": Uuid::new_v4().to_string()},
        "type": "message",
        "timestamp": state.intake.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "entry": [
            {"fullUrl": format!("urn:uuid:{}", Uuid::new_v4()), "resource": {
                "resourceType": "MessageHeader",
                "eventCoding": {"system": "https://fhir.nhs.uk/CodeSystem/message-events-bars", "code": "servicerequest-response"},
                "source": {"name": "refgate", "software": "refgate", "version": env!("CARGO_PKG_VERSION"), "endpoint": state.deliver.source_endpoint},
                "response": {"identifier": request_header, "code": "ok", "details": {"reference": format!("urn:uuid:{outcome_id}")}}
            }},
            {"fullUrl": format!("urn:uuid:{outcome_id}"), "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "information", "code": "informational", "diagnostics": text,
                           "details": {"coding": [{"system": "https://refgate.nhs.example/Id/referral", "code": receipt.summary.id.to_string()}]}}]
            }}
        ]
    });
    Ok(HttpResponse::Ok()
        .insert_header(("Location", format!("/referrals/{}", receipt.summary.id)))
        .content_type("application/fhir+json")
        .json(response))
}

/// The id the response must quote: the request's MessageHeader id, else its Bundle id.
/// A message without a MessageHeader first is refused here, before anything is stored.
fn request_message_id(body: &[u8]) -> Result<String, ApiError> {
    let invalid = |path: &str, msg: &str| {
        ApiError::Invalid(vec![Problem::new(IssueCode::Structure, path, msg)])
    };
    let doc: Value =
        serde_json::from_slice(body).map_err(|_| invalid("$", "body is not valid JSON"))?;
    if doc.get("type").and_then(Value::as_str) != Some("message") {
        return Err(invalid(
            "Bundle.type",
            "$process-message requires a Bundle of type message",
        ));
    }
    let header = doc
        .pointer("/entry/0/resource")
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("MessageHeader"));
    let Some(header) = header else {
        return Err(invalid(
            "Bundle.entry[0]",
            "the first entry of a message must be a MessageHeader",
        ));
    };
    let id = header
        .get("id")
        .or_else(|| doc.get("id"))
        .and_then(Value::as_str)
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .map_or_else(|| Uuid::nil().to_string(), str::to_owned);
    Ok(id)
}

/// A CapabilityStatement describing what this server accepts.
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/fhir+json").json(json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-24",
        "kind": "instance",
        "software": {"name": "refgate", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "refgate referral interchange gateway", "url": state.deliver.source_endpoint},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [{"mode": "server", "security": {"description": "Mutual TLS: a client certificate registered to an organisation"},
                  "resource": [{"type": "Task", "interaction": [{"code": "read"}, {"code": "update"}, {"code": "create"}]}],
                  "operation": [{"name": "process-message", "definition": "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"}]}],
        "messaging": [{"supportedMessage": [{"mode": "receiver", "definition": "https://fhir.nhs.uk/MessageDefinition/servicerequest-request"}]}]
    }))
}
