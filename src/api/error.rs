//! The only place where errors become HTTP: every refusal is a FHIR OperationOutcome.
//! Internal causes become an opaque 500 and their chain is logged here, once.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::deliver::DeliverError;
use crate::feedback::FeedbackError;
use crate::feedback::update::UpdateError;
use crate::intake::IntakeError;
use crate::normalise::{IssueCode, Problem};
use crate::review::ReviewError;
use crate::telemetry::events::InternalFailure;
use crate::telemetry::metrics::Metrics;

/// An HTTP-facing error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a client certificate is required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("unsupported media type: use application/fhir+json or application/json")]
    UnsupportedMediaType,
    #[error("request body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("submission is invalid")]
    Invalid(Vec<Problem>),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// Wraps an internal failure and reports it once (log + metric).
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static, metrics: &Metrics) -> Self {
        InternalFailure { error: &e }.emit(metrics);
        ApiError::Internal(Box::new(e))
    }

    fn issues(&self) -> Vec<Value> {
        let issue = |code: &str, text: String, expr: Option<&str>| {
            let mut v = json!({"severity": "error", "code": code, "diagnostics": text});
            if let Some(e) = expr {
                v["expression"] = json!([e]);
            }
            v
        };
        match self {
            ApiError::Invalid(problems) => {
                match crate::normalise::problem::operation_outcome(problems)["issue"].take() {
                    Value::Array(issues) => issues,
                    _ => Vec::new(),
                }
            }
            ApiError::Unauthenticated => vec![issue("login", self.to_string(), None)],
            ApiError::Forbidden(_) => vec![issue("forbidden", self.to_string(), None)],
            ApiError::NotFound => vec![issue("not-found", self.to_string(), None)],
            ApiError::UnsupportedMediaType => vec![issue("not-supported", self.to_string(), None)],
            ApiError::TooLarge(_) => vec![issue("too-long", self.to_string(), None)],
            ApiError::BadRequest(_) => vec![issue("invalid", self.to_string(), None)],
            ApiError::Conflict(_) => vec![issue("conflict", self.to_string(), None)],
            ApiError::Internal(_) => vec![issue("exception", "internal error".to_owned(), None)],
        }
    }
}

/// A FHIR OperationOutcome with the given issues.
pub fn operation_outcome(issues: Vec<Value>) -> Value {
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            // Unreadable or wrongly shaped input is 400; well-formed input that breaks a
            // rule (check digit, range, future date) is 422.
            ApiError::Invalid(p)
                if p.iter()
                    .any(|p| matches!(p.code, IssueCode::Structure | IssueCode::Required)) =>
            {
                StatusCode::BAD_REQUEST
            }
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthenticated) {
            resp.insert_header(("WWW-Authenticate", "Mutual-TLS"));
        }
        resp.content_type("application/fhir+json")
            .json(operation_outcome(self.issues()))
    }
}

/// Maps intake failures; `metrics` receives internal ones.
pub fn from_intake(e: IntakeError, metrics: &Metrics) -> ApiError {
    match e {
        IntakeError::UnsupportedMediaType => ApiError::UnsupportedMediaType,
        IntakeError::Invalid(p) => ApiError::Invalid(p),
        IntakeError::IdempotencyConflict => ApiError::Conflict(e.to_string()),
        other => ApiError::internal(other, metrics),
    }
}

/// Maps inbox failures.
pub fn from_deliver(e: DeliverError, metrics: &Metrics) -> ApiError {
    match e {
        DeliverError::NotFound => ApiError::NotFound,
        DeliverError::Transition(t) => ApiError::Conflict(t.to_string()),
        other => ApiError::internal(other, metrics),
    }
}

/// Maps review-queue failures.
pub fn from_review(e: ReviewError, metrics: &Metrics) -> ApiError {
    match e {
        ReviewError::NotFound => ApiError::NotFound,
        ReviewError::Invalid(p) => ApiError::Invalid(p),
        other => ApiError::internal(other, metrics),
    }
}

/// Maps status-read failures.
pub fn from_feedback(e: FeedbackError, metrics: &Metrics) -> ApiError {
    match e {
        FeedbackError::NotFound => ApiError::NotFound,
        other => ApiError::internal(other, metrics),
    }
}

/// Maps provider status-update failures: a refused transition is 409 and names it.
pub fn from_update(e: UpdateError, metrics: &Metrics) -> ApiError {
    match e {
        UpdateError::NotFound => ApiError::NotFound,
        UpdateError::Transition(t) => ApiError::Conflict(t.to_string()),
        UpdateError::Invalid(p) => ApiError::Invalid(p),
        other => ApiError::internal(other, metrics),
    }
}
