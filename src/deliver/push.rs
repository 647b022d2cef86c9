//! Push delivery for providers configured with `delivery = "push"`: each referral is
//! POSTed as its FHIR message Bundle to the provider's `$process-message` over mutual
//! TLS (the gateway's client certificate).
//!
//! Input: referrals in state `ready` routed to a push provider, whose next attempt is
//! due (`Store::due_pushes`). Output: the referral moved to `delivered` (2xx), and on to
//! `acknowledged` when the answer is a FHIR response message with code `ok` (the
//! provider says it processed it, standards.md §2); or left `ready` with its next
//! attempt time (transient failure: 5xx, 408, 429, a FHIR `transient-error`, timeout,
//! connection or TLS failure), or dead-lettered (any other 4xx, a FHIR `fatal-error`,
//! or `push.max_attempts` failures), operators alerted (log + metric + audit).
//!
//! At least once: the attempt's outcome is committed after the provider answered, so
//! a crash in between sends the message again. Every attempt carries the same message
//! id (Bundle.id = the referral id, MessageHeader.id derived from it, and
//! `X-Request-ID`), so the provider can drop duplicates. Only `ready` referrals are
//! sent, so one already delivered is never sent again. The shared message builder is
//! [`super::inbox::message_for`], as for the inbox and email, so every route gives the
//! same message. Must never log the body or the provider's answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use serde_json::Value;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

use super::inbox::message_for;
use super::push_client::{self, Answer, Target};
use super::retry::{PushNext, after_push_failure, random_u64};
use crate::config::{Delivery, PushSettings, Settings};
use crate::crypto::DataKeys;
use crate::domain::{OrgId, ReferralId, State};
use crate::feedback::reply::status_notification;
use crate::outbox::MailContext;
use crate::store::{DuePush, OutgoingMail, PushAttempt, Store, StoreError};
use crate::telemetry::events::{PushDelivered, PushGivenUp, PushRetry};
use crate::telemetry::metrics::Metrics;

/// Referrals taken per provider per sweep.
const BATCH: u32 = 256;

/// Why a push attempt failed, or push delivery could not be set up. Messages never
/// carry the provider's answer or any of the message.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("push_url is not an https URL")]
    Url,
    #[error("push TLS settings are unusable")]
    TlsConfig(#[source] crate::tls::TlsError),
    #[error("provider unreachable")]
    Connect(#[source] std::io::Error),
    #[error("TLS with the provider failed")]
    Tls(#[source] std::io::Error),
    #[error("connection to the provider broke")]
    Io(#[source] std::io::Error),
    #[error("provider did not answer in time")]
    Timeout,
    #[error("provider's answer is not HTTP/1.1")]
    Protocol,
    #[error("provider answered {status}")]
    Status { status: u16 },
    #[error("provider's response message says {code}")]
    Response { code: &'static str, status: u16 },
    #[error("stored referral could not be opened")]
    Open(#[source] super::DeliverError),
    #[error("store failure")]
    Store(#[source] StoreError),
}

impl PushError {
    /// Whether another attempt may succeed (read only by `retry.rs`).
    pub fn is_transient(&self) -> bool {
        match self {
            PushError::Connect(_)
            | PushError::Tls(_)
            | PushError::Io(_)
            | PushError::Timeout
            | PushError::Protocol
            | PushError::Store(_) => true,
            // RFC 9110 §15.5.9, §15.5.29 (408, 429): "try again later"; 5xx: the
            // provider's fault, which it may fix. Other 4xx: it refuses this message.
            PushError::Status { status } => *status >= 500 || matches!(status, 408 | 429),
            // http://hl7.org/fhir/response-code: transient-error "may succeed if
            // resent"; fatal-error "do not resend unchanged".
            PushError::Response { code, .. } => *code == "transient-error",
            PushError::Url | PushError::TlsConfig(_) | PushError::Open(_) => false,
        }
    }

    /// A short class for metrics, the store and the audit detail.
    pub fn class(&self) -> &'static str {
        match self {
            PushError::Url | PushError::TlsConfig(_) => "config",
            PushError::Connect(_) => "connection",
            PushError::Tls(_) => "tls",
            PushError::Io(_) => "io",
            PushError::Timeout => "timeout",
            PushError::Protocol => "protocol",
            PushError::Status { status } if *status >= 500 => "http-5xx",
            PushError::Status { status: 408 | 429 } => "http-retry-later",
            PushError::Status { .. } => "rejected",
            PushError::Response { code, .. } => code,
            PushError::Open(_) => "unreadable",
            PushError::Store(_) => "store",
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            PushError::Status { status } | PushError::Response { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Everything the push worker needs; cheap to clone.
#[derive(Clone)]
pub struct PushContext {
    pub store: Arc<dyn Store>,
    pub keys: Arc<DataKeys>,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<PushSettings>,
    /// How the gateway names itself in FHIR messages.
    pub source_endpoint: String,
    /// Organisation display names, for the message header.
    pub names: Arc<HashMap<OrgId, String>>,
    /// Outgoing mail, when a relay is configured: an acknowledgement is told to the
    /// referrer, as when a provider acknowledges through its inbox.
    pub mail: Option<MailContext>,
    targets: Arc<Vec<(OrgId, Target)>>,
    tls: TlsConnector,
}

impl PushContext {
    /// The push context, or `None` when no provider takes pushes.
    ///
    /// # Errors
    /// [`PushError::Url`] or [`PushError::TlsConfig`].
    pub fn from_settings(
        settings: &Settings,
        store: Arc<dyn Store>,
        keys: Arc<DataKeys>,
        metrics: Arc<Metrics>,
        mail: Option<MailContext>,
    ) -> Result<Option<Self>, PushError> {
        let targets = settings
            .organisations
            .iter()
            .filter(|o| o.delivery == Delivery::Push)
            .map(|o| {
                Ok((
                    o.id.clone(),
                    Target::parse(o.push_url.as_deref().unwrap_or(""))?,
                ))
            })
            .collect::<Result<Vec<_>, PushError>>()?;
        let Some(push) = settings.push.as_ref().filter(|_| !targets.is_empty()) else {
            return Ok(None);
        };
        let names = settings
            .organisations
            .iter()
            .map(|o| (o.id.clone(), o.name.clone()))
            .collect();
        Ok(Some(Self {
            store,
            keys,
            metrics,
            settings: Arc::new(push.clone()),
            source_endpoint: settings.server.public_url.clone(),
            names: Arc::new(names),
            mail,
            targets: Arc::new(targets),
            tls: push_client::connector(push)?,
        }))
    }
}

/// Runs until `shutdown`: one loop per push provider, so a slow or unreachable
/// provider never holds up another's deliveries.
///
/// On shutdown an attempt in flight is abandoned, not awaited: its outcome was not
/// recorded, so the referral stays `ready` and is sent again (same message id) after
/// the restart. Waiting could hold shutdown for `push.timeout_secs` per delivery.
pub async fn run(ctx: PushContext, shutdown: CancellationToken) {
    let loops = ctx
        .targets
        .iter()
        .map(|(provider, target)| run_provider(&ctx, provider, target, &shutdown));
    futures_util::future::join_all(loops).await;
}

/// Pushes every due referral of one provider, then sleeps until the next retry is
/// due or the poll interval passes.
async fn run_provider(
    ctx: &PushContext,
    provider: &OrgId,
    target: &Target,
    shutdown: &CancellationToken,
) {
    let poll = Duration::from_millis(ctx.settings.poll_interval_ms);
    loop {
        let busy = tokio::select! {
            () = shutdown.cancelled() => break,
            r = sweep(ctx, provider, target) => r.unwrap_or_else(|e| {
                tracing::error!(provider = %provider, error = %e, "push sweep failed");
                false
            }),
        };
        if busy {
            continue;
        }
        let wait = match ctx.store.next_push_due().await {
            Ok(Some(at)) => until(at).min(poll),
            // Nothing to retry, or the store is briefly unavailable: look again after
            // the poll interval, not in a tight loop.
            Ok(None) | Err(_) => poll,
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {}
        }
    }
}

fn until(at: DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}

/// One batch of a provider's due referrals, `push.concurrency` at a time; `true` when
/// the batch was full (more may wait).
async fn sweep(ctx: &PushContext, provider: &OrgId, target: &Target) -> Result<bool, StoreError> {
    let due = ctx.store.due_pushes(provider, Utc::now(), BATCH).await?;
    let full = due.len() == BATCH as usize;
    futures_util::stream::iter(due)
        .map(|d| deliver_one(ctx, provider, target, d))
        .buffer_unordered(ctx.settings.concurrency)
        .for_each(|()| async {})
        .await;
    Ok(full)
}

#[tracing::instrument(skip_all, fields(referral_id = %due.id, provider = %provider))]
async fn deliver_one(ctx: &PushContext, provider: &OrgId, target: &Target, due: DuePush) {
    let made = due.attempts + 1;
    let outcome = attempt(ctx, provider, target, due.id).await;
    let at = Utc::now();
    let record = match outcome {
        Ok((status, acknowledged)) => {
            PushDelivered {
                id: due.id,
                provider,
                attempts: made,
                status,
                acknowledged,
            }
            .emit(&ctx.metrics);
            PushAttempt::Delivered {
                id: due.id,
                provider: provider.clone(),
                at,
                attempts: made,
                status,
                acknowledged,
                notify: if acknowledged {
                    notification(ctx, due.id).await
                } else {
                    None
                },
            }
        }
        Err(e) => failed(ctx, provider, due.id, made, at, &e),
    };
    let queued = matches!(
        &record,
        PushAttempt::Delivered {
            notify: Some(_),
            ..
        }
    );
    // If this fails after a 2xx the referral stays ready and is sent again (same
    // message id): at least once, never lost.
    match ctx.store.record_push_attempt(record).await {
        Ok(()) if queued => ctx.mail.iter().for_each(MailContext::wake),
        Ok(()) => {}
        Err(e) => tracing::error!(error = %e, "push attempt could not be recorded; will retry"),
    }
}

/// The referrer's notification that the provider has the referral, when mail is
/// configured. A failure to prepare it is logged and does not hold up the delivery.
async fn notification(ctx: &PushContext, id: ReferralId) -> Option<OutgoingMail> {
    let mail = ctx.mail.as_ref()?;
    status_notification(mail, id, State::Acknowledged, None)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "status notification could not be prepared");
            None
        })
}

fn failed(
    ctx: &PushContext,
    provider: &OrgId,
    id: ReferralId,
    made: u32,
    at: DateTime<Utc>,
    e: &PushError,
) -> PushAttempt {
    let (error, status) = (e.class(), e.status());
    match after_push_failure(e, made, &ctx.settings, random_u64()) {
        PushNext::Retry(delay) => {
            PushRetry {
                id,
                provider,
                attempts: made,
                error,
                status,
                retry_in: delay,
            }
            .emit(&ctx.metrics);
            PushAttempt::Retry {
                id,
                provider: provider.clone(),
                at,
                next_at: at + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                attempts: made,
                error,
                status,
            }
        }
        PushNext::GiveUp => {
            let reason = if e.is_transient() {
                "push-attempts-exhausted".to_owned()
            } else if let Some(s) = status {
                format!("push-refused-{s}")
            } else {
                format!("push-{error}")
            };
            PushGivenUp {
                id,
                provider,
                attempts: made,
                error,
                status,
            }
            .emit(&ctx.metrics);
            PushAttempt::GiveUp {
                id,
                provider: provider.clone(),
                at,
                attempts: made,
                error,
                status,
                reason,
            }
        }
    }
}

/// Builds the message and POSTs it once. `Ok((status, acknowledged))` on a 2xx.
async fn attempt(
    ctx: &PushContext,
    provider: &OrgId,
    target: &Target,
    id: ReferralId,
) -> Result<(u16, bool), PushError> {
    let stored = ctx.store.get_referral(id).await.map_err(PushError::Store)?;
    let message = message_for(
        ctx.store.as_ref(),
        &ctx.keys,
        &ctx.names,
        &ctx.source_endpoint,
        &stored,
        provider,
    )
    .await
    .map_err(PushError::Open)?;
    let header_id = message.bundle["entry"][0]["resource"]["id"]
        .as_str()
        .map(str::to_owned);
    let body = serde_json::to_vec(&message.bundle).map_err(|_| PushError::Protocol)?;
    let timeout = Duration::from_secs(ctx.settings.timeout_secs);
    let answer = tokio::time::timeout(
        timeout,
        push_client::post(&ctx.tls, target, &id.to_string(), &body),
    )
    .await
    .map_err(|_| PushError::Timeout)??;
    judge(&answer, header_id.as_deref())
}

/// Reads the provider's answer: non-2xx is a failure by status; a 2xx carrying a FHIR
/// response message is judged by its `response.code` (and acknowledges the referral
/// when `ok` answers our MessageHeader); any other 2xx (202 for `async`, an empty
/// body, an OperationOutcome) means taken but not yet processed.
fn judge(answer: &Answer, header_id: Option<&str>) -> Result<(u16, bool), PushError> {
    let status = answer.status;
    if !(200..300).contains(&status) {
        return Err(PushError::Status { status });
    }
    let Ok(body) = serde_json::from_slice::<Value>(&answer.body) else {
        return Ok((status, false));
    };
    let header = &body["entry"][0]["resource"];
    if body["resourceType"] != "Bundle" || header["resourceType"] != "MessageHeader" {
        return Ok((status, false));
    }
    let response = &header["response"];
    let answers_ours = response["identifier"]
        .as_str()
        .is_none_or(|i| Some(i) == header_id);
    match response["code"].as_str() {
        Some("ok") => Ok((status, answers_ours)),
        Some("transient-error") if answers_ours => Err(PushError::Response {
            code: "transient-error",
            status,
        }),
        Some("fatal-error") if answers_ours => Err(PushError::Response {
            code: "fatal-error",
            status,
        }),
        _ => Ok((status, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    fn response(code: &str, to: &str) -> Value {
        serde_json::json!({"resourceType": "Bundle", "type": "message", "entry": [{"resource": {
            "resourceType": "MessageHeader", "response": {"identifier": to, "code": code}}}]})
    }

    #[test]
    fn a_response_message_with_code_ok_acknowledges_only_our_message() {
        assert_eq!(
            judge(&answer(200, response("ok", "h1")), Some("h1")).unwrap(),
            (200, true)
        );
        assert_eq!(
            judge(&answer(200, response("ok", "other")), Some("h1")).unwrap(),
            (200, false)
        );
        assert_eq!(
            judge(&answer(202, Value::Null), Some("h1")).unwrap(),
            (202, false)
        );
    }

    #[test]
    fn failures_are_classified_by_status_and_response_code() {
        let transient = |s: u16| {
            judge(&answer(s, Value::Null), None)
                .unwrap_err()
                .is_transient()
        };
        assert!(transient(500) && transient(503) && transient(408) && transient(429));
        assert!(!transient(400) && !transient(403) && !transient(422) && !transient(301));
        let e = judge(&answer(200, response("fatal-error", "h1")), Some("h1")).unwrap_err();
        assert!(!e.is_transient());
        let e = judge(&answer(200, response("transient-error", "h1")), Some("h1")).unwrap_err();
        assert!(e.is_transient());
        assert!(PushError::Timeout.is_transient());
    }
}
