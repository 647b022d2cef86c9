//! The review queue over HTTPS, for operators: list, show, release (optionally with a
//! corrected record), reject with a reason code.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::body::{media_type, read_limited};
use super::error::{ApiError, from_review};
use super::{AppState, ListQuery, entries_json};
use crate::config::Role;
use crate::domain::ReferralId;
use crate::review;
use crate::store::ReferralSummary;

/// `GET /review`: referrals held for review, urgent first, then oldest.
pub async fn list(
    query: web::Query<ListQuery>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Operator, &state)?;
    let held = review::queue(&state.intake, query.limit())
        .await
        .map_err(|e| from_review(e, &state.metrics))?;
    let referrals = entries_json(&held);
    Ok(HttpResponse::Ok().json(json!({"count": referrals.len(), "referrals": referrals})))
}

/// `GET /review/{id}`: the record as read, why it is held, and the original document
/// (its text, which the record's provenance spans point into, and the bytes) so the
/// operator can check the values against the source.
pub async fn show(
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Operator, &state)?;
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let held = review::show(&state.intake, id)
        .await
        .map_err(|e| from_review(e, &state.metrics))?;
    let document = held.document.as_ref().map(|(media_type, bytes)| {
        json!({
            "media_type": media_type,
            "text": held.document_text,
            "base64": base64::engine::general_purpose::STANDARD.encode(bytes),
        })
    });
    Ok(HttpResponse::Ok().json(json!({
        "id": held.summary.id,
        "state": held.summary.state,
        "referrer": held.summary.referrer,
        "received_at": held.summary.received_at,
        "reasons": held.reasons,
        "record": held.record,
        "document": document,
        "history": held.history,
    })))
}

/// `POST /review/{id}/release`: an empty body releases the record as read; an
/// `application/json` body is the corrected record (the flat form).
pub async fn release(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let operator = caller.require(Role::Operator, &state)?;
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let body = read_limited(&req, payload, state.max_body_bytes).await?;
    let correction = if body.is_empty() {
        None
    } else if media_type(&req) == "application/json" {
        Some(&body[..])
    } else {
        return Err(ApiError::UnsupportedMediaType);
    };
    let s = review::release(&state.intake, operator, id, correction)
        .await
        .map_err(|e| from_review(e, &state.metrics))?;
    Ok(HttpResponse::Ok().json(decided(&s, None)))
}

/// The body of a rejection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    reason: String,
}

/// `POST /review/{id}/reject` with `{"reason": "<code>"}` (see `review::REJECT_REASONS`).
pub async fn reject(
    path: web::Path<String>,
    body: Result<web::Json<Rejection>, actix_web::Error>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let operator = caller.require(Role::Operator, &state)?;
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let body = body.map_err(|_| ApiError::BadRequest("body must be {\"reason\": \"<code>\"}"))?;
    let s = review::reject(&state.intake, operator, id, &body.reason)
        .await
        .map_err(|e| from_review(e, &state.metrics))?;
    Ok(HttpResponse::Ok().json(decided(&s, Some(&body.reason))))
}

fn decided(s: &ReferralSummary, reason: Option<&str>) -> Value {
    json!({"id": s.id, "state": s.state, "provider": s.provider, "reason": reason})
}
