//! Provider status updates and the status as a FHIR Task:
//! `POST /referrals/{id}/status` (plain JSON), `PUT /fhir/Task/{id}` and
//! `POST /fhir/Task` (a FHIR Task) from the referral's provider, and
//! `GET /fhir/Task/{id}` for its referrer or provider. HTTP only: reading and applying
//! an update is `feedback::update`'s.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::body::read_limited;
use super::error::{ApiError, from_feedback, from_update};
use crate::config::Role;
use crate::domain::{OrgId, ReferralId};
use crate::feedback::{self, update};
use crate::normalise::{IssueCode, Problem};

/// The plain JSON status call: `{"status", "reason"?, "outcome"?}`.
pub async fn update_status(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let provider = caller.require(Role::Provider, &state)?.clone();
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let body = read_limited(&req, payload, state.max_body_bytes).await?;
    apply(&state, &provider, Some(id), &body).await?;
    let view = summary_json(&state, id).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A FHIR Task update for the referral `{id}`.
pub async fn put_task(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let provider = caller.require(Role::Provider, &state)?.clone();
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let body = read_limited(&req, payload, state.max_body_bytes).await?;
    apply(&state, &provider, Some(id), &body).await?;
    task_response(&state, &provider, id).await
}

/// A FHIR Task naming its referral in `focus`.
pub async fn post_task(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let provider = caller.require(Role::Provider, &state)?.clone();
    let body = read_limited(&req, payload, state.max_body_bytes).await?;
    let id = apply(&state, &provider, None, &body).await?;
    task_response(&state, &provider, id).await
}

/// The referral's status as a FHIR Task, for its referrer or provider.
pub async fn get_task(
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    task_response(&state, &caller.org, id).await
}

/// Reads the body, checks it names the same referral as the URL (when both do), and
/// applies it. Returns the referral's id.
async fn apply(
    state: &AppState,
    provider: &OrgId,
    path_id: Option<ReferralId>,
    body: &[u8],
) -> Result<ReferralId, ApiError> {
    let m = &state.metrics;
    let (body_id, update) = update::parse(body).map_err(|e| from_update(e, m))?;
    let id = match (path_id, body_id) {
        (Some(p), Some(b)) if p != b => {
            return Err(ApiError::Invalid(vec![Problem::new(
                IssueCode::BusinessRule,
                "Task.focus",
                "the body names another referral than the URL",
            )]));
        }
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => {
            return Err(ApiError::Invalid(vec![Problem::new(
                IssueCode::Required,
                "Task.focus",
                "focus must name the referral",
            )]));
        }
    };
    let d = &state.deliver;
    update::apply(
        d.store.as_ref(),
        d.mail.as_ref(),
        d.clock.now(),
        provider,
        id,
        &update,
    )
    .await
    .map_err(|e| from_update(e, m))?;
    Ok(id)
}

async fn task_response(
    state: &AppState,
    caller: &OrgId,
    id: ReferralId,
) -> Result<HttpResponse, ApiError> {
    let d = &state.deliver;
    let task = feedback::task_for(d.store.as_ref(), &d.names, caller, id)
        .await
        .map_err(|e| from_feedback(e, &state.metrics))?;
    Ok(HttpResponse::Ok()
        .content_type("application/fhir+json")
        .json(task))
}

/// What the provider is told after a plain status call: the state it is now in.
async fn summary_json(state: &AppState, id: ReferralId) -> Result<Value, ApiError> {
    let stored = state
        .deliver
        .store
        .get_referral(id)
        .await
        .map_err(|e| ApiError::internal(e, &state.metrics))?;
    let reason = stored.history.last().and_then(|t| t.reason.clone());
    Ok(json!({
        "id": id,
        "state": stored.summary.state,
        "task_status": stored.summary.state.fhir_task_status(),
        "reason": reason,
    }))
}
