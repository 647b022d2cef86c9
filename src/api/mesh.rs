//! The MESH-compatible mailbox API under `/messageexchange` (standards.md §1.5), so
//! software that speaks NHS England's MESH API (mesh-client among it) works unchanged.
//!
//! Each referrer and provider with a `mesh_mailbox` is a mailbox. A provider's MESH
//! inbox is its referral inbox: the message id is the referral id, download gives the
//! FHIR message Bundle (carrying the original document), acknowledge is the inbox
//! acknowledge. A referrer sends to the gateway's intake mailbox; the message goes
//! through intake like any other channel and is tracked by its id. Every call but
//! `_ping` passes [`MeshCaller`] (mutual TLS + `NHSMESH` token). HTTP only here.

use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::body::read_limited;
use super::mesh_auth::{MeshCaller, MeshDirectory};
use super::mesh_error::{MeshError, from_deliver, from_intake};
use crate::config::Role;
use crate::deliver::{inbox, mesh};
use crate::domain::{ReferralId, State};
use crate::intake::{self, mesh as send};
use crate::store::{ReferralSummary, StoredReferral};

const FHIR_JSON: &str = "application/fhir+json";

/// Registers the MESH routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/messageexchange")
            .route("/_ping", web::get().to(ping))
            .route("/{mailbox}", web::post().to(handshake))
            .route("/{mailbox}", web::get().to(handshake))
            .route("/{mailbox}/inbox", web::get().to(list))
            .route("/{mailbox}/count", web::get().to(count))
            .route("/{mailbox}/inbox/{id}", web::get().to(download))
            .route("/{mailbox}/inbox/{id}", web::head().to(head))
            .route(
                "/{mailbox}/inbox/{id}/status/acknowledged",
                web::put().to(acknowledge),
            )
            .route("/{mailbox}/outbox", web::post().to(send_message))
            .route("/{mailbox}/outbox/tracking", web::get().to(tracking)),
    );
}

fn directory(state: &AppState) -> Result<&MeshDirectory, MeshError> {
    state.mesh.as_deref().ok_or(MeshError::NotFound)
}

/// Liveness, without authorisation (as MESH).
async fn ping() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "mesh_build": concat!("refgate ", env!("CARGO_PKG_VERSION")),
        "ping": true,
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Handshake: the token and certificate checks are the whole point; the mex-OS*
/// telemetry headers are accepted and not kept.
async fn handshake(caller: MeshCaller) -> HttpResponse {
    HttpResponse::Ok().json(json!({"mailbox_id": caller.mailbox}))
}

/// The API version the client asked for: v2 with `application/vnd.mesh.v2+json`,
/// v1 without a `vnd.mesh` type; a malformed `vnd.mesh` type is 400 (as the sandbox).
fn version(req: &HttpRequest) -> Result<u8, MeshError> {
    let accept = header_str(req.headers(), "accept")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !accept.contains("vnd.mesh") {
        return Ok(1);
    }
    if accept.contains("application/vnd.mesh.v2+json") {
        Ok(2)
    } else if accept.contains("application/vnd.mesh.v1+json") {
        Ok(1)
    } else {
        Err(MeshError::BadRequest {
            code: "06",
            msg: "unsupported accept type",
        })
    }
}

/// `GET /inbox` parameters.
#[derive(Debug, serde::Deserialize)]
struct InboxQuery {
    max_results: Option<u32>,
    continue_from: Option<String>,
    workflow_filter: Option<String>,
}

async fn list(
    req: HttpRequest,
    query: web::Query<InboxQuery>,
    caller: MeshCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MeshError> {
    let (v, mesh) = (version(&req)?, directory(&state)?);
    // MESH allows 10..=5000; smaller pages are served too, since they do no harm.
    let limit = query.max_results.unwrap_or(500).clamp(1, 5000);
    let after = query.continue_from.as_deref().map(message_id).transpose()?;
    let wanted = query
        .workflow_filter
        .as_deref()
        .is_none_or(|f| workflow_matches(f, &mesh.workflow_id));
    let page = if wanted {
        mesh::page(&state.deliver, &caller.org, after, limit + 1)
            .await
            .map_err(|e| from_deliver(e, &state.metrics))?
    } else {
        crate::store::InboxPage {
            entries: Vec::new(),
            total: 0,
        }
    };
    let more = page.entries.len() > limit as usize;
    let ids: Vec<String> = page
        .entries
        .iter()
        .take(limit as usize)
        .map(|e| e.id.to_string())
        .collect();
    let base = format!("/messageexchange/{}/inbox", caller.mailbox);
    let mut links = json!({"self": base});
    if let (true, Some(last)) = (more, ids.last()) {
        let filter = query
            .workflow_filter
            .as_deref()
            .map(|f| format!("&workflow_filter={}", percent_encode(f)))
            .unwrap_or_default();
        links["next"] = json!(format!(
            "{base}?max_results={limit}&continue_from={last}{filter}"
        ));
    }
    Ok(HttpResponse::Ok().json(match v {
        2 => json!({"messages": ids, "links": links, "approx_inbox_count": page.total}),
        _ => json!({"messages": ids}),
    }))
}

/// Deprecated in MESH, still called by older clients.
async fn count(caller: MeshCaller, state: web::Data<AppState>) -> Result<HttpResponse, MeshError> {
    let page = mesh::page(&state.deliver, &caller.org, None, 1)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    Ok(HttpResponse::Ok()
        .json(json!({"count": page.total, "internalID": "", "allResultsIncluded": true})))
}

async fn download(
    path: web::Path<(String, String)>,
    caller: MeshCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MeshError> {
    let id = message_id(&path.1)?;
    let summary = mesh::envelope(&state.deliver, &caller.org, id)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    let bundle = inbox::download(&state.deliver, &caller.org, id)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    let mut resp = HttpResponse::Ok();
    mex_headers(&mut resp, directory(&state)?, &caller, &summary);
    Ok(resp.content_type(FHIR_JSON).json(bundle))
}

/// The download's headers without the body; the message stays undownloaded.
async fn head(
    path: web::Path<(String, String)>,
    caller: MeshCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MeshError> {
    let id = message_id(&path.1)?;
    let summary = mesh::envelope(&state.deliver, &caller.org, id)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    let mut resp = HttpResponse::Ok();
    mex_headers(&mut resp, directory(&state)?, &caller, &summary);
    Ok(resp.content_type(FHIR_JSON).finish())
}

/// The message's MESH headers. Only ids, mailboxes and constants: nothing here may
/// carry patient data (no subject, a file name made from the message id).
fn mex_headers(
    resp: &mut actix_web::HttpResponseBuilder,
    mesh: &MeshDirectory,
    caller: &MeshCaller,
    s: &ReferralSummary,
) {
    let from = mesh.mailbox_of(&s.referrer).unwrap_or(&mesh.intake_mailbox);
    resp.insert_header(("mex-MessageID", s.id.to_string()))
        .insert_header(("mex-From", from.as_str()))
        .insert_header(("mex-To", caller.mailbox.as_str()))
        .insert_header(("mex-WorkflowID", mesh.workflow_id.as_str()))
        .insert_header(("mex-Content-Type", FHIR_JSON))
        .insert_header(("mex-Chunk-Range", "1:1"))
        .insert_header(("mex-Total-Chunks", "1"))
        .insert_header(("mex-MessageType", "DATA"))
        .insert_header(("mex-FileName", format!("{}.json", s.id)))
        .insert_header(("mex-Content-Compressed", "N"))
        .insert_header(("mex-Content-Encrypted", "N"));
}

/// Acknowledges a downloaded message: it leaves the inbox (audited by the inbox).
async fn acknowledge(
    path: web::Path<(String, String)>,
    caller: MeshCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MeshError> {
    let id = message_id(&path.1)?;
    inbox::acknowledge(&state.deliver, &caller.org, id)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    Ok(HttpResponse::Ok().json(json!({"message_id": id})))
}

/// Sends a referral to the gateway's intake mailbox. 202 only after intake committed.
async fn send_message(
    req: HttpRequest,
    payload: web::Payload,
    caller: MeshCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MeshError> {
    let v = version(&req)?;
    let mesh = directory(&state)?;
    if caller.role != Role::Referrer {
        return Err(MeshError::Send(send::SendError::SenderNotAllowed));
    }
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let headers = req.headers();
    let envelope = send::Envelope {
        to: mex(headers, "mex-to")?,
        workflow_id: mex(headers, "mex-workflowid")?,
        chunk_range: mex(headers, "mex-chunk-range")?,
        media_type: mex(headers, "mex-content-type")?.or(mex(headers, "content-type")?),
    };
    let raw = send::submission(
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

/// The body, un-gzipped when the sender compressed it (the only encoding MESH allows).
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<bytes::Bytes, MeshError> {
    let body = read_limited(req, payload, limit)
        .await
        .map_err(|_| MeshError::TooLarge(limit))?;
    match header_str(req.headers(), "content-encoding").map(str::trim) {
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
struct TrackingQuery {
    #[serde(rename = "messageID")]
    message_id: Option<String>,
}

/// The status of a referral this mailbox sent by MESH.
async fn tracking(
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

/// A message id as a client sends it: the referral id, in either case (the MESH
/// sandbox upper-cases ids, and clients may too).
fn message_id(raw: &str) -> Result<ReferralId, MeshError> {
    ReferralId::parse(&raw.trim().to_ascii_lowercase()).map_err(|_| MeshError::NotFound)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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

/// MESH `workflow_filter`: `WF` exact, `!WF` not equal, `WF*` starts with, `*x*`
/// contains, each negated by a leading `!` (standards.md §1.5).
fn workflow_matches(filter: &str, workflow: &str) -> bool {
    let (negate, pattern) = match filter.strip_prefix('!') {
        Some(p) => (true, p),
        None => (false, filter),
    };
    let matched = if let Some(inner) = pattern.strip_prefix('*').and_then(|p| p.strip_suffix('*')) {
        workflow.contains(inner)
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        workflow.starts_with(prefix)
    } else {
        workflow == pattern
    };
    matched != negate
}

/// Query-string encoding for a value echoed into `links.next`.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' | b'!' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_filters_follow_mesh_syntax() {
        let wf = "TALKING_THERAPIES_REFERRAL";
        assert!(workflow_matches(wf, wf));
        assert!(!workflow_matches("!TALKING_THERAPIES_REFERRAL", wf));
        assert!(workflow_matches("TALKING*", wf));
        assert!(!workflow_matches("!TALKING*", wf));
        assert!(workflow_matches("*THERAPIES*", wf));
        assert!(workflow_matches("!*PATHOLOGY*", wf));
        assert!(!workflow_matches("PATHOLOGY", wf));
    }

    #[test]
    fn message_ids_are_read_in_either_case() {
        let id = ReferralId::new();
        let upper = id.to_string().to_ascii_uppercase();
        assert_eq!(message_id(&upper).unwrap(), id);
        assert!(matches!(message_id("nope"), Err(MeshError::NotFound)));
    }
}
