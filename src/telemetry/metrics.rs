//! Prometheus metrics, rendered in the text exposition format at `GET /metrics`.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

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

/// Labels of a per-provider statistic (`provider="all"` for every provider together).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

/// Labels of an acknowledgement-delay quantile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QuantileLabels {
    pub provider: String,
    pub quantile: String,
}

/// Labels of a per-referrer statistic.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReferrerLabels {
    pub referrer: String,
}

/// A gauge with a fractional value (seconds, ratios).
type FloatGauge = Gauge<f64, AtomicU64>;

/// The statistics of `GET /stats` as gauges, set from the store at each scrape.
pub struct StatsGauges {
    pub received_this_week: Family<ReferrerLabels, Gauge>,
    pub ack_delay: Family<QuantileLabels, FloatGauge>,
    pub acceptance: Family<ProviderLabels, FloatGauge>,
    pub queue_depth: Family<ProviderLabels, Gauge>,
    pub oldest_unacknowledged: Family<ProviderLabels, FloatGauge>,
}

impl StatsGauges {
    fn register(registry: &mut Registry) -> Self {
        let g = Self {
            received_this_week: Family::default(),
            ack_delay: Family::default(),
            acceptance: Family::default(),
            queue_depth: Family::default(),
            oldest_unacknowledged: Family::default(),
        };
        registry.register(
            "referrals_received_this_week",
            "Referrals received in the current ISO week, by referring organisation",
            g.received_this_week.clone(),
        );
        registry.register(
            "acknowledgement_delay_seconds",
            "Time from receipt to provider acknowledgement (nearest-rank quantiles)",
            g.ack_delay.clone(),
        );
        registry.register(
            "acceptance_ratio",
            "Accepted / (accepted + rejected) referrals",
            g.acceptance.clone(),
        );
        registry.register(
            "provider_queue_depth",
            "Referrals waiting in a provider's inbox, not yet acknowledged",
            g.queue_depth.clone(),
        );
        registry.register(
            "oldest_unacknowledged_seconds",
            "Age of the oldest referral waiting in a provider's inbox",
            g.oldest_unacknowledged.clone(),
        );
        g
    }

    /// Replaces every statistics gauge with `stats` (label sets that no longer apply,
    /// e.g. last week's referrers, disappear).
    pub fn set(&self, stats: &crate::stats::Stats) {
        use chrono::Datelike;
        self.received_this_week.clear();
        self.ack_delay.clear();
        self.acceptance.clear();
        self.queue_depth.clear();
        self.oldest_unacknowledged.clear();
        let w = stats.generated_at.iso_week();
        let this_week = format!("{:04}-W{:02}", w.year(), w.week());
        for c in stats
            .referrals_per_week
            .iter()
            .filter(|c| c.week == this_week)
        {
            let labels = ReferrerLabels {
                referrer: c.referrer.to_string(),
            };
            self.received_this_week
                .get_or_create(&labels)
                .set(i64::try_from(c.count).unwrap_or(i64::MAX));
        }
        let overall = ("all".to_owned(), &stats.acknowledgement, &stats.acceptance);
        let each = stats
            .providers
            .iter()
            .map(|p| (p.provider.to_string(), &p.acknowledgement, &p.acceptance));
        for (provider, delays, acceptance) in std::iter::once(overall).chain(each) {
            for (q, v) in [("0.5", delays.median_seconds), ("0.9", delays.p90_seconds)] {
                if let Some(v) = v {
                    let labels = QuantileLabels {
                        provider: provider.clone(),
                        quantile: q.to_owned(),
                    };
                    self.ack_delay.get_or_create(&labels).set(v);
                }
            }
            if let Some(rate) = acceptance.rate {
                let labels = ProviderLabels {
                    provider: provider.clone(),
                };
                self.acceptance.get_or_create(&labels).set(rate);
            }
        }
        for p in &stats.providers {
            let labels = ProviderLabels {
                provider: p.provider.to_string(),
            };
            self.queue_depth
                .get_or_create(&labels)
                .set(i64::try_from(p.queue_depth).unwrap_or(i64::MAX));
            self.oldest_unacknowledged
                .get_or_create(&labels)
                .set(p.oldest_unacknowledged_seconds.unwrap_or(0.0));
        }
    }
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
    /// The operators' statistics, refreshed from the store at each scrape.
    pub stats: StatsGauges,
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
        let stats = StatsGauges::register(&mut registry);
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
            stats,
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
