//! The HTTPS API: routes, authentication and error mapping, nothing else.
//!
//! Handlers extract, call one stage function, and map the result. SQL, rules and
//! record handling live in the stages. Only `app` uses this module.

pub mod auth;
pub mod body;
pub mod dead_letter;
pub mod error;
pub mod fhir;
pub mod health;
pub mod inbox;
pub mod mesh;
pub mod mesh_auth;
pub mod mesh_error;
pub mod mesh_outbox;
pub mod referrals;
pub mod review;
pub mod stats;
pub mod status;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::deliver::DeliverContext;
use crate::intake::IntakeContext;
use crate::telemetry::metrics::{Metrics, RouteLabels};

/// Paging for queue listings (`GET /inbox`, `GET /review`).
#[derive(Debug, serde::Deserialize)]
pub struct ListQuery {
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    500
}

impl ListQuery {
    /// The requested page size, within 1..=5000.
    pub fn limit(&self) -> u32 {
        self.limit.clamp(1, 5000)
    }
}

/// A queue entry as listed: ids, state, urgency and time only, never patient data.
pub fn entries_json(entries: &[crate::store::InboxEntry]) -> Vec<serde_json::Value> {
    entries
        .iter()
        .map(|e| serde_json::json!({"id": e.id, "state": e.state, "urgency": e.urgency, "received_at": e.received_at}))
        .collect()
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub intake: IntakeContext,
    pub deliver: DeliverContext,
    pub directory: Arc<auth::Directory>,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
    /// MESH mailboxes and secrets; `None` when the MESH API is off.
    pub mesh: Option<Arc<mesh_auth::MeshDirectory>>,
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/referrals", web::post().to(referrals::submit))
        .route("/referrals/{id}", web::get().to(referrals::status))
        .route(
            "/referrals/{id}/status",
            web::post().to(status::update_status),
        )
        .route("/fhir/Task", web::post().to(status::post_task))
        .route("/fhir/Task/{id}", web::get().to(status::get_task))
        .route("/fhir/Task/{id}", web::put().to(status::put_task))
        .route("/stats", web::get().to(stats::stats))
        .route("/fhir/metadata", web::get().to(fhir::metadata))
        .route(
            "/fhir/$process-message",
            web::post().to(fhir::process_message),
        )
        .route("/inbox", web::get().to(inbox::list))
        .route("/inbox/{id}", web::get().to(inbox::download))
        .route(
            "/inbox/{id}/acknowledge",
            web::post().to(inbox::acknowledge),
        )
        .route("/review", web::get().to(review::list))
        .route("/review/{id}", web::get().to(review::show))
        .route("/review/{id}/release", web::post().to(review::release))
        .route("/review/{id}/reject", web::post().to(review::reject))
        .route("/dead-letter", web::get().to(dead_letter::list))
        .route(
            "/dead-letter/{id}/redrive",
            web::post().to(dead_letter::redrive),
        )
        .configure(mesh::configure)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(error::ApiError::NotFound)
        }));
}

/// Records latency per route pattern (never the concrete path, which holds ids).
pub async fn record_latency(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let labels = RouteLabels {
            route,
            status: res.status().as_u16().to_string(),
        };
        m.requests
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}
