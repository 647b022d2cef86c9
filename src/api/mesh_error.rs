//! Errors of the MESH API, rendered as MESH renders them (v2:
//! `{"message_id", "internal_id", "detail": [{"event", "code", "msg"}]}`) rather than
//! as a FHIR OperationOutcome, because MESH clients read that shape: mesh-client treats
//! a send as failed when the body has `detail`. Kept beside `error.rs`, which maps the
//! rest of the API, so that each file speaks one protocol. Internal causes become an
//! opaque 500 and are logged once, here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::deliver::DeliverError;
use crate::domain::lifecycle::TransitionError;
use crate::feedback::update::UpdateError;
use crate::intake::IntakeError;
use crate::intake::mesh::SendError;
use crate::telemetry::events::InternalFailure;
use crate::telemetry::metrics::Metrics;

/// A MESH-facing error.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// Every authorisation failure, whichever check failed (as MESH answers).
    #[error("forbidden")]
    Forbidden,
    #[error("message not found")]
    NotFound,
    /// Acknowledging a message that was never downloaded. 404 (MESH lists no other
    /// error for acknowledge), with the reason in `detail`.
    #[error("message must be downloaded before it is acknowledged")]
    NotDownloaded,
    /// A malformed request (bad paging parameters, headers).
    #[error("{msg}")]
    BadRequest {
        code: &'static str,
        msg: &'static str,
    },
    /// A send MESH refuses by its envelope (recipient, workflow, chunks, no data).
    #[error(transparent)]
    Send(SendError),
    /// The body is not a referral the gateway can read. Field paths only, never values.
    #[error("the referral is not valid")]
    InvalidContent(Vec<String>),
    /// A provider's status message the referral's lifecycle does not allow (409: MESH
    /// has no code for a business refusal, and the sender must not resend it unchanged).
    #[error(transparent)]
    Transition(TransitionError),
    /// Only `Content-Encoding: gzip` is accepted on send (MESH answers 422).
    #[error("unsupported content encoding")]
    UnsupportedEncoding,
    #[error("request body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl MeshError {
    /// Wraps an internal failure and reports it once (log + metric).
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static, metrics: &Metrics) -> Self {
        InternalFailure { error: &e }.emit(metrics);
        MeshError::Internal(Box::new(e))
    }

    fn details(&self) -> Vec<serde_json::Value> {
        let one = |event: &str, code: &str, msg: String| {
            vec![json!({"event": event, "code": code, "msg": msg})]
        };
        match self {
            MeshError::Send(e) => one("SEND", e.code(), e.to_string()),
            MeshError::BadRequest { code, msg } => one("SEND", code, (*msg).to_owned()),
            MeshError::InvalidContent(paths) if !paths.is_empty() => paths
                .iter()
                .map(|p| json!({"event": "SEND", "code": "INVALID", "msg": format!("invalid referral content at {p}")}))
                .collect(),
            MeshError::InvalidContent(_) => one("SEND", "INVALID", self.to_string()),
            MeshError::Transition(_) => one("SEND", "TRANSITION", self.to_string()),
            MeshError::UnsupportedEncoding | MeshError::TooLarge(_) => {
                one("SEND", "06", self.to_string())
            }
            MeshError::Forbidden
            | MeshError::NotFound
            | MeshError::NotDownloaded
            | MeshError::Internal(_) => {
                one("", "", self.to_string())
            }
        }
    }
}

impl ResponseError for MeshError {
    fn status_code(&self) -> StatusCode {
        match self {
            MeshError::Forbidden => StatusCode::FORBIDDEN,
            MeshError::NotFound | MeshError::NotDownloaded => StatusCode::NOT_FOUND,
            MeshError::BadRequest { .. } | MeshError::Send(SendError::MissingRecipient) => {
                StatusCode::BAD_REQUEST
            }
            // MESH answers 417 to sends it refuses by their envelope.
            MeshError::Send(_) => StatusCode::EXPECTATION_FAILED,
            MeshError::InvalidContent(_) => StatusCode::BAD_REQUEST,
            MeshError::Transition(_) => StatusCode::CONFLICT,
            MeshError::UnsupportedEncoding => StatusCode::UNPROCESSABLE_ENTITY,
            MeshError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            MeshError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(json!({
            "message_id": null,
            "internal_id": uuid::Uuid::new_v4().simple().to_string(),
            "detail": self.details(),
        }))
    }
}

/// Maps intake failures of a MESH send.
pub fn from_intake(e: IntakeError, metrics: &Metrics) -> MeshError {
    match e {
        IntakeError::UnsupportedMediaType => {
            MeshError::InvalidContent(vec!["mex-Content-Type".into()])
        }
        IntakeError::Invalid(problems) => {
            MeshError::InvalidContent(problems.into_iter().map(|p| p.path).collect())
        }
        // MESH has no idempotency key, so this cannot happen; report it as a conflict
        // in the content rather than as a server fault.
        IntakeError::IdempotencyConflict => MeshError::InvalidContent(Vec::new()),
        other => MeshError::internal(other, metrics),
    }
}

/// Maps inbox failures.
pub fn from_deliver(e: DeliverError, metrics: &Metrics) -> MeshError {
    match e {
        DeliverError::NotFound => MeshError::NotFound,
        // The only transition a MESH call can be refused: acknowledge before download.
        DeliverError::Transition(_) => MeshError::NotDownloaded,
        other => MeshError::internal(other, metrics),
    }
}

/// Maps failures of a provider's status message.
pub fn from_update(e: UpdateError, metrics: &Metrics) -> MeshError {
    match e {
        UpdateError::NotFound => MeshError::NotFound,
        UpdateError::Transition(t) => MeshError::Transition(t),
        UpdateError::Invalid(problems) => {
            MeshError::InvalidContent(problems.into_iter().map(|p| p.path).collect())
        }
        other => MeshError::internal(other, metrics),
    }
}
