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
use serde_json::json;

use super::mesh_auth::{MeshCaller, MeshDirectory};
use super::mesh_error::{MeshError, from_deliver};
use super::{AppState, mesh_outbox};
use crate::deliver::{inbox, mesh};
use crate::domain::ReferralId;
use crate::store::ReferralSummary;

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
            .route("/{mailbox}/outbox", web::post().to(mesh_outbox::send))
            .route(
                "/{mailbox}/outbox/tracking",
                web::get().to(mesh_outbox::tracking),
            ),
    );
}

pub(super) fn directory(state: &AppState) -> Result<&MeshDirectory, MeshError> {
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
pub(super) fn version(req: &HttpRequest) -> Result<u8, MeshError> {
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

/// Lists message ids, urgent first, a page at a time (`links.next`, server-relative,
/// as mesh-client follows it).
async fn list(
    req: HttpRequest,
    query: web::Query<InboxQuery>,
    caller: MeshCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MeshError> {
    let (v, mesh) = (version(&req)?, directory(&state)?);
    // MESH allows 10..=5000; smaller pages are served too, since they do no harm.
    let limit = query.max_results.unwrap_or(500).clamp(1, 5000);
    let after = query
        .continue_from
        .as_deref()
        .map(continue_from)
        .transpose()?;
    let filter = query.workflow_filter.as_deref();
    // One more than asked for tells whether another page follows.
    let mut page = mesh::page(&state.deliver, &caller.org, after, limit + 1)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    if filter.is_some_and(|f| !workflow_matches(f, &mesh.workflow_id)) {
        page.ids.clear();
    }
    let more = page.ids.len() > limit as usize;
    let ids = &page.ids[..page.ids.len().min(limit as usize)];
    let next = ids.last().filter(|_| more).map(ReferralId::to_string);
    let links = inbox_links(&caller, limit, next.as_deref(), filter);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(listing_body(v, ids, &links, page.total)))
}

/// The listing as JSON: `{"messages": [...]}`, with `links` and `approx_inbox_count`
/// in version 2. Written directly rather than through a `serde_json::Value` of up to
/// 5,000 strings, since providers poll it more than anything else; ids are UUIDs and
/// need no escaping.
fn listing_body(v: u8, ids: &[ReferralId], links: &serde_json::Value, total: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + ids.len() * 39);
    out.extend_from_slice(b"{\"messages\":[");
    let mut buf = uuid::Uuid::encode_buffer();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(id.as_uuid().hyphenated().encode_lower(&mut buf).as_bytes());
        out.push(b'"');
    }
    out.push(b']');
    if v == 2 {
        out.extend_from_slice(b",\"links\":");
        out.extend_from_slice(links.to_string().as_bytes());
        out.extend_from_slice(format!(",\"approx_inbox_count\":{total}").as_bytes());
    }
    out.push(b'}');
    out
}

fn continue_from(raw: &str) -> Result<ReferralId, MeshError> {
    message_id(raw).map_err(|_| MeshError::BadRequest {
        code: "06",
        msg: "continue_from is not from this inbox",
    })
}

/// `links.self`, and `links.next` when another page follows `last`.
fn inbox_links(
    caller: &MeshCaller,
    limit: u32,
    last: Option<&str>,
    filter: Option<&str>,
) -> serde_json::Value {
    let base = format!("/messageexchange/{}/inbox", caller.mailbox);
    let mut links = json!({"self": base});
    if let Some(last) = last {
        let filter = filter
            .map(|f| format!("&workflow_filter={}", percent_encode(f)))
            .unwrap_or_default();
        links["next"] = json!(format!(
            "{base}?max_results={limit}&continue_from={last}{filter}"
        ));
    }
    links
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
    req: HttpRequest,
    path: web::Path<(String, String)>,
    caller: MeshCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MeshError> {
    let id = message_id(&path.1)?;
    mesh::acknowledge(&state.deliver, &caller.org, id)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    // v2 answers with an empty body, v1 with the id (as MESH).
    Ok(match version(&req)? {
        2 => HttpResponse::Ok().finish(),
        _ => HttpResponse::Ok().json(json!({"messageId": id})),
    })
}

/// A message id as a client sends it: the referral id, in either case (the MESH
/// sandbox upper-cases ids, and clients may too).
pub(super) fn message_id(raw: &str) -> Result<ReferralId, MeshError> {
    ReferralId::parse(&raw.trim().to_ascii_lowercase()).map_err(|_| MeshError::NotFound)
}

pub(super) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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
    fn the_listing_is_the_json_mesh_clients_read() {
        let ids = [ReferralId::new(), ReferralId::new()];
        let links = json!({"self": "/messageexchange/MB1/inbox"});
        let v2: serde_json::Value =
            serde_json::from_slice(&listing_body(2, &ids, &links, 7)).unwrap();
        assert_eq!(
            v2,
            json!({
                "messages": [ids[0].to_string(), ids[1].to_string()],
                "links": links,
                "approx_inbox_count": 7
            })
        );
        let v1: serde_json::Value =
            serde_json::from_slice(&listing_body(1, &[], &links, 0)).unwrap();
        assert_eq!(v1, json!({"messages": []}));
    }

    #[test]
    fn message_ids_are_read_in_either_case() {
        let id = ReferralId::new();
        let upper = id.to_string().to_ascii_uppercase();
        assert_eq!(message_id(&upper).unwrap(), id);
        assert!(matches!(message_id("nope"), Err(MeshError::NotFound)));
    }
}
