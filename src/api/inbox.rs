//! The provider inbox over HTTPS: list, download (FHIR message Bundle), acknowledge.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::auth::Caller;
use super::error::{ApiError, from_deliver};
use super::{AppState, ListQuery, entries_json};
use crate::config::Role;
use crate::deliver::inbox;
use crate::domain::ReferralId;

/// Referrals waiting for the calling provider, urgent first.
pub async fn list(
    query: web::Query<ListQuery>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let provider = caller.require(Role::Provider, &state)?;
    let entries = inbox::list(&state.deliver, provider, query.limit())
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    let messages = entries_json(&entries);
    Ok(HttpResponse::Ok()
        .json(json!({"provider": provider, "count": messages.len(), "messages": messages})))
}

/// The referral as a FHIR message Bundle.
pub async fn download(
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let provider = caller.require(Role::Provider, &state)?;
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let bundle = inbox::download(&state.deliver, provider, id)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    Ok(HttpResponse::Ok()
        .content_type("application/fhir+json")
        .json(bundle))
}

/// Acknowledges a downloaded referral; it leaves the inbox.
pub async fn acknowledge(
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let provider = caller.require(Role::Provider, &state)?;
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let s = inbox::acknowledge(&state.deliver, provider, id)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    Ok(HttpResponse::Ok().json(json!({"id": s.id, "state": s.state})))
}
