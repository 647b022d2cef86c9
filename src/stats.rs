//! Numbers for the people who run the service, computed from the store when asked
//! (`GET /stats`, and the gauges of `/metrics` at each scrape): referrals per
//! referring organisation per ISO week, time from receipt to the provider's
//! acknowledgement (median and 90th percentile), acceptance rate, and each provider's
//! queue depth and oldest unacknowledged referral.
//!
//! Inputs: a [`StatsSnapshot`] from the store and the current time. Output: counts,
//! durations and organisation ids only; nothing here can identify a patient.
//!
//! Percentiles use the nearest-rank method (the smallest value with at least p% of
//! values at or below it), so every figure reported is a delay that really happened.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use crate::domain::OrgId;
use crate::store::{StatsSnapshot, Store, StoreError};

/// The statistics as served.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub generated_at: DateTime<Utc>,
    /// Referrals received per referring organisation per ISO week (`2026-W03`).
    pub referrals_per_week: Vec<WeekCount>,
    /// Receipt to provider acknowledgement, over all providers.
    pub acknowledgement: Delays,
    /// Accepted / (accepted + rejected), over all providers.
    pub acceptance: Acceptance,
    /// One entry per provider: configured providers always appear, with zeros.
    pub providers: Vec<ProviderStats>,
}

/// Referrals from one organisation in one ISO week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekCount {
    pub referrer: OrgId,
    pub week: String,
    pub count: u64,
}

/// Delays in seconds; `None` when nothing was acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delays {
    pub count: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

/// Decisions and their ratio; `rate` is `None` before any decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Acceptance {
    pub accepted: u64,
    pub rejected: u64,
    pub rate: Option<f64>,
}

/// One provider's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderStats {
    pub provider: OrgId,
    /// Referrals waiting in its inbox (not yet acknowledged).
    pub queue_depth: u64,
    /// Age of the oldest of them, `None` when the inbox is empty.
    pub oldest_unacknowledged_seconds: Option<f64>,
    pub acknowledgement: Delays,
    pub acceptance: Acceptance,
}

/// Why statistics could not be computed.
#[derive(Debug, thiserror::Error)]
#[error("statistics could not be read from the store")]
pub struct StatsError(#[source] pub StoreError);

/// Reads the store and computes the statistics at `now`. `providers` are the
/// configured providers, listed even when they have no referrals yet.
///
/// # Errors
/// [`StatsError`] when the store cannot be read.
pub async fn compute(
    store: &dyn Store,
    providers: &[OrgId],
    now: DateTime<Utc>,
) -> Result<Stats, StatsError> {
    let snapshot = store.stats_snapshot().await.map_err(StatsError)?;
    Ok(from_snapshot(&snapshot, providers, now))
}

/// The statistics of a snapshot (pure, for tests).
pub fn from_snapshot(s: &StatsSnapshot, providers: &[OrgId], now: DateTime<Utc>) -> Stats {
    let mut weeks: BTreeMap<(OrgId, String), u64> = BTreeMap::new();
    for d in &s.received {
        let w = d.day.iso_week();
        let week = format!("{:04}-W{:02}", w.year(), w.week());
        *weeks.entry((d.referrer.clone(), week)).or_default() += d.count;
    }
    let referrals_per_week = weeks
        .into_iter()
        .map(|((referrer, week), count)| WeekCount {
            referrer,
            week,
            count,
        })
        .collect();
    let mut names: Vec<OrgId> = providers.to_vec();
    let seen = s
        .acknowledgements
        .iter()
        .map(|a| &a.provider)
        .chain(s.decisions.iter().map(|d| &d.provider))
        .chain(s.queues.iter().map(|q| &q.provider));
    for p in seen {
        if !names.contains(p) {
            names.push(p.clone());
        }
    }
    names.sort();
    let per_provider = names
        .into_iter()
        .map(|p| {
            let delays: Vec<f64> = s
                .acknowledgements
                .iter()
                .filter(|a| a.provider == p)
                .map(|a| seconds(a.delay))
                .collect();
            let d = s.decisions.iter().find(|d| d.provider == p);
            let q = s.queues.iter().find(|q| q.provider == p);
            ProviderStats {
                queue_depth: q.map_or(0, |q| q.depth),
                oldest_unacknowledged_seconds: q
                    .map(|q| seconds(now - q.oldest_received_at).max(0.0)),
                acknowledgement: delays_of(delays),
                acceptance: acceptance(d.map_or(0, |d| d.accepted), d.map_or(0, |d| d.rejected)),
                provider: p,
            }
        })
        .collect();
    let all: Vec<f64> = s
        .acknowledgements
        .iter()
        .map(|a| seconds(a.delay))
        .collect();
    let accepted = s.decisions.iter().map(|d| d.accepted).sum();
    let rejected = s.decisions.iter().map(|d| d.rejected).sum();
    Stats {
        generated_at: now,
        referrals_per_week,
        acknowledgement: delays_of(all),
        acceptance: acceptance(accepted, rejected),
        providers: per_provider,
    }
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

fn acceptance(accepted: u64, rejected: u64) -> Acceptance {
    let decided = accepted + rejected;
    Acceptance {
        accepted,
        rejected,
        rate: (decided > 0).then(|| accepted as f64 / decided as f64),
    }
}

fn delays_of(mut values: Vec<f64>) -> Delays {
    values.sort_by(f64::total_cmp);
    Delays {
        count: values.len() as u64,
        median_seconds: nearest_rank(&values, 50),
        p90_seconds: nearest_rank(&values, 90),
    }
}

/// The nearest-rank `p`th percentile of sorted `values`.
fn nearest_rank(values: &[f64], p: usize) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = (p * values.len()).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AckDelay, DayCount, Decisions, QueueDepth};
    use chrono::{Duration, NaiveDate, TimeZone};

    fn org(s: &str) -> OrgId {
        OrgId::parse(s).unwrap()
    }

    #[test]
    fn nearest_rank_percentiles_are_observed_values() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 50), Some(5.0));
        assert_eq!(nearest_rank(&v, 90), Some(9.0));
        assert_eq!(nearest_rank(&[7.0], 90), Some(7.0));
        assert_eq!(nearest_rank(&[], 50), None);
    }

    #[test]
    fn days_are_counted_in_iso_weeks_and_providers_without_referrals_show_zeros() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        let snapshot = StatsSnapshot {
            // 2026-01-04 is a Sunday (ISO week 1); the 5th starts week 2.
            received: vec![
                DayCount {
                    referrer: org("RCB55"),
                    day: day(1),
                    count: 2,
                },
                DayCount {
                    referrer: org("RCB55"),
                    day: day(4),
                    count: 1,
                },
                DayCount {
                    referrer: org("RCB55"),
                    day: day(5),
                    count: 4,
                },
            ],
            acknowledgements: vec![AckDelay {
                provider: org("TTNORTH"),
                delay: Duration::hours(2),
            }],
            decisions: vec![Decisions {
                provider: org("TTNORTH"),
                accepted: 3,
                rejected: 1,
            }],
            queues: vec![QueueDepth {
                provider: org("TTNORTH"),
                depth: 2,
                oldest_received_at: Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap(),
            }],
        };
        let now = Utc.with_ymd_and_hms(2026, 1, 6, 0, 0, 0).unwrap();
        let s = from_snapshot(&snapshot, &[org("TTWEST"), org("TTNORTH")], now);
        let weeks: Vec<_> = s
            .referrals_per_week
            .iter()
            .map(|w| (w.week.as_str(), w.count))
            .collect();
        assert_eq!(weeks, [("2026-W01", 3), ("2026-W02", 4)]);
        assert_eq!(s.acceptance.rate, Some(0.75));
        assert_eq!(s.acknowledgement.median_seconds, Some(7200.0));
        let north = &s.providers[0];
        assert_eq!(
            (north.queue_depth, north.oldest_unacknowledged_seconds),
            (2, Some(86400.0))
        );
        let west = &s.providers[1];
        assert_eq!(
            (west.queue_depth, west.oldest_unacknowledged_seconds),
            (0, None)
        );
        assert_eq!(west.acceptance.rate, None);
    }
}
