//! `GET /stats`: the operators' statistics as JSON (operator role only). The same
//! figures are gauges on `/metrics` (`health::metrics`).

use actix_web::{HttpResponse, web};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::config::Role;
use crate::domain::OrgId;
use crate::stats::{self, Stats, StatsError};

/// Referrals per referrer per week, acknowledgement delays, acceptance rates, queues.
pub async fn stats(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Operator, &state)?;
    let figures = current(&state)
        .await
        .map_err(|e| ApiError::internal(e, &state.metrics))?;
    Ok(HttpResponse::Ok().json(figures))
}

/// The statistics now, for every configured provider.
///
/// # Errors
/// [`StatsError`] when the store cannot be read.
pub async fn current(state: &AppState) -> Result<Stats, StatsError> {
    let mut providers: Vec<OrgId> = state
        .directory
        .values()
        .filter(|(_, role)| *role == Role::Provider)
        .map(|(org, _)| org.clone())
        .collect();
    providers.sort();
    providers.dedup();
    stats::compute(
        state.deliver.store.as_ref(),
        &providers,
        state.deliver.clock.now(),
    )
    .await
}
