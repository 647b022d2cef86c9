//! Prometheus metrics, rendered in the text exposition format at `GET /metrics`.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::domain::State;

/// Labels of a submission outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubmissionLabels {
    pub channel: String,
    pub outcome: String,
}

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub status: String,
}

/// Labels of a state gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

/// Labels of an operational event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: String,
    pub reason: String,
}

/// Labels of outgoing mail: what it was for and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MailLabels {
    pub kind: String,
    pub outcome: String,
}

/// Labels of push deliveries: the provider (an ODS code) and how the attempt ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PushLabels {
    pub provider: String,
    pub outcome: String,
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub submissions: Family<SubmissionLabels, Counter>,
    pub requests: Family<RouteLabels, Histogram>,
    pub referrals_by_state: Family<StateLabels, Gauge>,
    pub events: Family<EventLabels, Counter>,
    /// Outgoing mail sent or given up, by kind.
    pub mail: Family<MailLabels, Counter>,
    /// Push attempts by provider and outcome (delivered, retry, dead_letter).
    pub push: Family<PushLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers all metrics under the `refgate` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("refgate");
        let submissions = Family::<SubmissionLabels, Counter>::default();
        registry.register(
            "submissions",
            "Submissions by channel and outcome",
            submissions.clone(),
        );
        let requests = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            requests.clone(),
        );
        let referrals_by_state = Family::<StateLabels, Gauge>::default();
        registry.register(
            "referrals",
            "Referrals in each lifecycle state",
            referrals_by_state.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "operational_events",
            "Rejections, denials and failures by kind",
            events.clone(),
        );
        let mail = Family::<MailLabels, Counter>::default();
        registry.register(
            "outbound_mail",
            "Outgoing mail by kind and outcome (sent, given_up)",
            mail.clone(),
        );
        let push = Family::<PushLabels, Counter>::default();
        registry.register(
            "push_attempts",
            "Push delivery attempts by provider and outcome (delivered, retry, dead_letter)",
            push.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            submissions,
            requests,
            referrals_by_state,
            events,
            mail,
            push,
        }
    }

    /// Sets the state gauges from a fresh count (states with no referrals read 0).
    pub fn set_state_counts(&self, counts: &[(State, i64)]) {
        for s in State::ALL {
            let n = counts
                .iter()
                .find(|(st, _)| *st == s)
                .map_or(0, |(_, n)| *n);
            self.referrals_by_state
                .get_or_create(&StateLabels {
                    state: s.as_str().to_owned(),
                })
                .set(n);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // The registry lock is held only while encoding, never across an await.
        if let Ok(reg) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        }
        out
    }
}
