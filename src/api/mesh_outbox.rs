//! MESH sending: `POST /{mailbox}/outbox` (a referrer's referral to the gateway's
//! intake mailbox, through intake like every channel, or a provider's status message,
//! through `feedback::update` like the API's status calls) and
//! `GET /{mailbox}/outbox/tracking` (what became of a referral this mailbox sent).
//! HTTP only: the envelope rules are `intake::mesh`'s, the lookups `deliver::mesh`'s.

use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::body::read_limited;
use super::mesh::{directory, message_id, version};
use super::mesh_auth::{MeshCaller, MeshDirectory};
use super::mesh_error::{MeshError, from_deliver, from_intake, from_update};
use crate::config::Role;
use crate::deliver::mesh;
use crate::domain::State;
use crate::feedback::update;
use crate::intake::{self, mesh as mesh_intake};
use crate::store::StoredReferral;

/// Sends a referral to the gateway's intake mailbox. 202 only after intake committed.
pub(super) async fn send(
    req: HttpRequest,
    payload: web::Payload,
    caller: MeshCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MeshError> {
    let v = version(&req)?;
    let mesh = directory(&state)?;
    let headers = req.headers();
    let envelope = mesh_intake::Envelope {
        to: mex(headers, "mex-to")?,
        workflow_id: mex(headers, "mex-workflowid")?,
        chunk_range: mex(headers, "mex-chunk-range")?,
        media_type: mex(headers, "mex-content-type")?.or(mex(headers, "content-type")?),
    };
    // Referrers send referrals; providers send status messages about them.
    let status = mesh_intake::is_status_message(&envelope);
    let allowed = if status {
        Role::Provider
    } else {
        Role::Referrer
    };
    if caller.role != allowed {
        return Err(MeshError::Send(mesh_intake::SendError::SenderNotAllowed));
    }
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    if status {
        apply_status(&caller, &state, mesh, &envelope, body).await?;
        // A status message is applied, not stored as a message: its id is new each time.
        let id = uuid::Uuid::new_v4();
        return Ok(HttpResponse::Accepted().json(match v {
            2 => json!({"message_id": id}),
            _ => json!({"messageID": id}),
        }));
    }
    let raw = mesh_intake::submission(
        &caller.org,
        &mesh.intake_mailbox,
        &mesh.workflow_id,
        &envelope,
        body,
    )
    .map_err(MeshError::Send)?;
    let receipt = intake::accept(&state.intake, raw)
        .await
        .map_err(|e| from_intake(e, &state.metrics))?;
    let id = receipt.summary.id;
    Ok(HttpResponse::Accepted().json(match v {
        2 => json!({"message_id": id}),
        _ => json!({"messageID": id}),
    }))
}

/// Applies a provider's status message (a JSON status update or a FHIR Task naming
/// the referral) by the same path as the API's status calls.
async fn apply_status(
    caller: &MeshCaller,
    state: &AppState,
    mesh: &MeshDirectory,
    envelope: &mesh_intake::Envelope<'_>,
    body: bytes::Bytes,
) -> Result<(), MeshError> {
    let m = &state.metrics;
    let body = mesh_intake::status_message(&mesh.intake_mailbox, envelope, body)
        .map_err(MeshError::Send)?;
    let (id, update) = update::parse(&body).map_err(|e| from_update(e, m))?;
    let id = id.ok_or_else(|| MeshError::InvalidContent(vec!["referral_id".into()]))?;
    let d = &state.deliver;
    update::apply(
        d.store.as_ref(),
        d.mail.as_ref(),
        d.clock.now(),
        &caller.org,
        id,
        &update,
    )
    .await
    .map_err(|e| from_update(e, m))?;
    Ok(())
}

/// The body, un-gzipped when the sender compressed it (the only encoding MESH allows).
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<bytes::Bytes, MeshError> {
    let body = read_limited(req, payload, limit)
        .await
        .map_err(|e| match e {
            super::error::ApiError::TooLarge(n) => MeshError::TooLarge(n),
            _ => MeshError::BadRequest {
                code: "02",
                msg: "request body could not be read",
            },
        })?;
    match super::mesh::header_str(req.headers(), "content-encoding").map(str::trim) {
        None | Some("" | "identity") => Ok(body),
        Some(e) if e.eq_ignore_ascii_case("gzip") => gunzip(&body, limit),
        Some(_) => Err(MeshError::UnsupportedEncoding),
    }
}

fn gunzip(body: &[u8], limit: usize) -> Result<bytes::Bytes, MeshError> {
    use std::io::Read;
    let mut out = Vec::new();
    // One byte over the limit tells "too large" from "exactly the limit".
    let read = flate2::read::GzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out);
    match read {
        Err(_) => Err(MeshError::BadRequest {
            code: "06",
            msg: "content is not valid gzip",
        }),
        Ok(n) if n > limit => Err(MeshError::TooLarge(limit)),
        Ok(_) => Ok(out.into()),
    }
}

/// `GET /outbox/tracking?messageID=`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct TrackingQuery {
    #[serde(rename = "messageID")]
    message_id: Option<String>,
}

/// The status of a referral this mailbox sent by MESH.
pub(super) async fn tracking(
    query: web::Query<TrackingQuery>,
    caller: MeshCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MeshError> {
    let mesh = directory(&state)?;
    let raw = query.message_id.as_deref().ok_or(MeshError::BadRequest {
        code: "06",
        msg: "messageID is required",
    })?;
    let id = message_id(raw).map_err(|_| MeshError::NotFound)?;
    let stored = mesh::sent(&state.deliver, &caller.org, id)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    Ok(HttpResponse::Ok().json(tracking_json(mesh, &stored)))
}

/// MESH tracking v2, from the referral's lifecycle. `status` uses MESH's words;
/// `refgate_state` gives the gateway's own state (e.g. accepted, booked).
fn tracking_json(mesh: &MeshDirectory, stored: &StoredReferral) -> Value {
    let s = &stored.summary;
    let (status, success) = match s.state {
        State::Received | State::NeedsReview | State::Ready | State::Delivered => {
            ("accepted", true)
        }
        State::RejectedAtIntake | State::DeadLetter => ("undeliverable", false),
        _ => ("acknowledged", true),
    };
    let recipient = s.provider.as_ref().map(|p| {
        mesh.mailbox_of(p)
            .map(|m| m.to_string())
            .unwrap_or_else(|| p.to_string())
    });
    let last = stored.history.last().map(|t| t.at).unwrap_or(s.received_at);
    json!({
        "message_id": s.id,
        "local_id": null,
        "workflow_id": mesh.workflow_id,
        "filename": null,
        "expiry_time": null,
        "upload_timestamp": s.received_at,
        "recipient": recipient,
        "recipient_name": null,
        "recipient_ods_code": s.provider,
        "recipient_org_code": s.provider,
        "recipient_org_name": null,
        "status": status,
        "status_success": success,
        "status_event": null,
        "status_timestamp": last,
        "status_description": s.state.as_str(),
        "status_code": null,
        "refgate_state": s.state.as_str(),
    })
}

/// A mex-* header: absent is `None`; control characters, or a value that is not plain
/// text, is 400 code 06 (MESH's malformed header).
fn mex<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, MeshError> {
    let malformed = MeshError::BadRequest {
        code: "06",
        msg: "malformed header",
    };
    match headers.get(name) {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().map_err(|_| malformed)?;
            if s.chars().any(char::is_control) {
                return Err(MeshError::BadRequest {
                    code: "06",
                    msg: "malformed header",
                });
            }
            Ok(Some(s))
        }
    }
}
