//! `POST /referrals` and `GET /referrals/{id}`: referrers submit and follow referrals.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::body::{media_type, multipart_document, read_limited};
use super::error::{ApiError, from_feedback, from_intake};
use crate::config::Role;
use crate::domain::{ReferralId, State};
use crate::feedback;
use crate::intake::{self, Channel, RawSubmission, Receipt};
use crate::normalise::Format;

/// Accepts a referral. 201 routed, 202 held for review, 200 when it repeats one
/// already received (the same referral is returned, nothing new is made).
pub async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.require(Role::Referrer, &state)?.clone();
    let raw = raw_submission(&req, payload, org, Channel::Http, &state).await?;
    let receipt = intake::accept(&state.intake, raw)
        .await
        .map_err(|e| from_intake(e, &state.metrics))?;
    Ok(receipt_response(&receipt))
}

/// Reads a submission off the request, enforcing the size limit.
///
/// # Errors
/// [`ApiError::TooLarge`] or a broken body.
pub async fn raw_submission(
    req: &HttpRequest,
    payload: web::Payload,
    org: crate::domain::OrgId,
    channel: Channel,
    state: &AppState,
) -> Result<RawSubmission, ApiError> {
    let body = read_limited(req, payload, state.max_body_bytes).await?;
    let mut media_type = media_type(req);
    let body = if media_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let (declared, document) = multipart_document(&media_type, body).await?;
        // A browser or script often labels a file application/octet-stream: then the
        // content decides, as it does for drop folders.
        media_type = match declared.as_str() {
            "" | "application/octet-stream" => Format::detect(&document)
                .map(Format::media_type)
                .unwrap_or("application/octet-stream")
                .to_owned(),
            _ => declared,
        };
        document
    } else {
        body
    };
    let idempotency_key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(RawSubmission {
        org,
        channel,
        media_type,
        body,
        idempotency_key,
        // A `message/rfc822` body brings its own: intake reads the email.
        supporting: Vec::new(),
    })
}

fn receipt_response(r: &Receipt) -> HttpResponse {
    let status = match (r.duplicate, r.summary.state) {
        (true, _) => StatusCode::OK,
        (false, State::NeedsReview) => StatusCode::ACCEPTED,
        _ => StatusCode::CREATED,
    };
    let location = format!("/referrals/{}", r.summary.id);
    HttpResponse::build(status)
        .insert_header(("Location", location.clone()))
        .json(json!({
            "id": r.summary.id,
            "state": r.summary.state,
            "urgency": r.summary.urgency,
            "provider": r.summary.provider,
            "duplicate": r.duplicate,
            "review_reasons": r.review_reasons,
            "record": r.record,
            "links": {"self": location},
        }))
}

/// The referral's record, state and history, for the organisation that sent it.
pub async fn status(
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.require(Role::Referrer, &state)?;
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let view = feedback::status(state.intake.store.as_ref(), &state.intake.keys, org, id)
        .await
        .map_err(|e| from_feedback(e, &state.metrics))?;
    Ok(HttpResponse::Ok().json(view))
}
