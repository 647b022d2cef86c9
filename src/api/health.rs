//! `GET /healthz` and `GET /metrics`. Both are open (no client certificate) so that
//! load balancers and Prometheus can reach them; neither carries patient data.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;

/// 200 when the store answers, 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.intake.store.count_by_state().await {
        Ok(_) => HttpResponse::Ok().json(json!({"status": "ok"})),
        Err(_) => HttpResponse::ServiceUnavailable().json(json!({"status": "store unavailable"})),
    }
}

/// Prometheus text format; state and statistics gauges are refreshed from the store
/// at each scrape.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Ok(counts) = state.intake.store.count_by_state().await {
        state.metrics.set_state_counts(&counts);
    }
    // A failed read leaves the previous figures; the scrape still answers.
    match super::stats::current(&state).await {
        Ok(stats) => state.metrics.stats.set(&stats),
        Err(e) => tracing::warn!(error = %e, "statistics could not be refreshed"),
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}
