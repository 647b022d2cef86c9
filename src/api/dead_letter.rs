//! The dead letters over HTTPS, for operators: `GET /dead-letter` lists referrals that
//! could not be delivered (ids, reason codes and attempt counts, never patient data);
//! `POST /dead-letter/{id}/redrive` sends one back to be delivered again.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::auth::Caller;
use super::error::{ApiError, from_deliver};
use super::{AppState, ListQuery};
use crate::config::Role;
use crate::deliver::dead_letter;
use crate::domain::ReferralId;

/// `GET /dead-letter`: oldest first.
pub async fn list(
    query: web::Query<ListQuery>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Operator, &state)?;
    let entries = dead_letter::list(&state.deliver, query.limit())
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    let referrals: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({"id": e.id, "provider": e.provider, "urgency": e.urgency,
                "received_at": e.received_at, "dead_letter_since": e.since, "reason": e.reason,
                "attempts": e.attempts, "last_error": e.last_error, "last_status": e.last_status})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"count": referrals.len(), "referrals": referrals})))
}

/// `POST /dead-letter/{id}/redrive`: back to `ready`, attempts reset; 409 unless it is
/// in the dead letters.
pub async fn redrive(
    path: web::Path<String>,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let operator = caller.require(Role::Operator, &state)?;
    let id = ReferralId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let s = dead_letter::redrive(&state.deliver, &state.metrics, operator, id)
        .await
        .map_err(|e| from_deliver(e, &state.metrics))?;
    Ok(HttpResponse::Ok().json(json!({"id": s.id, "state": s.state, "provider": s.provider})))
}
