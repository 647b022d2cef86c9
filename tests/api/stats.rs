//! `GET /stats` and the statistics gauges of `/metrics`, asserted against a known set
//! of referrals made with the gateway's clock fixed at chosen instants (the gateway
//! restarts between steps with a new clock, on the same store).

use awc::http::StatusCode;
use chrono::{DateTime, Duration, TimeZone, Utc};
use refgate::clock::Clock;
use serde_json::{Value, json};

use crate::helpers::*;

/// Monday 2 February 2026, 09:00 UTC: ISO week 2026-W06.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 9, 0, 0).unwrap()
}

async fn at(app: TestApp, offset: Duration) -> TestApp {
    app.restart_with_clock(Clock::fixed(t0() + offset)).await
}

async fn download_and_acknowledge(app: &TestApp, id: &str) {
    let (status, _) = app.get(NORTH, &format!("/inbox/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.acknowledge(NORTH, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn decide(app: &TestApp, id: &str, body: Value) {
    let path = format!("/referrals/{id}/status");
    let (status, reply) = app
        .post(NORTH, &path, "application/json", body.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

/// The value of one sample line of the Prometheus text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} not in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn stats_are_computed_from_the_store_for_operators_only() {
    let app = spawn_app_with_clock(Clock::fixed(t0())).await;
    // Week 6: three referrals from the clinic, one from the GP, all to TTNORTH.
    let (a, _) = app.submitted_referral(MSK, "stats a").await;
    let (b, _) = app.submitted_referral(MSK, "stats b").await;
    app.submitted_referral(MSK, "stats c").await;
    app.submitted_referral(GP, "stats d").await;
    // Acknowledged 1 h and 3 h after receipt; one accepted, one rejected.
    let app = at(app, Duration::hours(1)).await;
    download_and_acknowledge(&app, &a).await;
    let app = at(app, Duration::hours(3)).await;
    download_and_acknowledge(&app, &b).await;
    decide(&app, &a, json!({"status": "accepted"})).await;
    decide(
        &app,
        &b,
        json!({"status": "rejected", "reason": "out-of-area"}),
    )
    .await;
    // Booked after accepted: still counted once as accepted.
    decide(&app, &a, json!({"status": "booked"})).await;
    // Week 7: one more from the clinic.
    let app = at(app, Duration::days(7)).await;
    app.submitted_referral(MSK, "stats e").await;
    let app = at(app, Duration::days(7) + Duration::hours(2)).await;

    let (status, stats) = app.get(OPS, "/stats").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(
        stats["referrals_per_week"],
        json!([
            {"referrer": GP, "week": "2026-W06", "count": 1},
            {"referrer": MSK, "week": "2026-W06", "count": 3},
            {"referrer": MSK, "week": "2026-W07", "count": 1},
        ])
    );
    assert_eq!(
        stats["acknowledgement"],
        json!({"count": 2, "median_seconds": 3600.0, "p90_seconds": 10800.0})
    );
    assert_eq!(
        stats["acceptance"],
        json!({"accepted": 1, "rejected": 1, "rate": 0.5})
    );
    let providers = stats["providers"].as_array().unwrap();
    let north = providers.iter().find(|p| p["provider"] == NORTH).unwrap();
    assert_eq!(north["queue_depth"], 3);
    // The oldest waiting referral came in at t0: 7 days 2 hours ago.
    assert_eq!(
        north["oldest_unacknowledged_seconds"],
        7.0 * 86400.0 + 7200.0
    );
    let west = providers.iter().find(|p| p["provider"] == WEST).unwrap();
    assert_eq!(west["queue_depth"], 0);
    assert_eq!(west["oldest_unacknowledged_seconds"], Value::Null);
    assert_eq!(west["acceptance"]["rate"], Value::Null);

    for org in [MSK, NORTH] {
        let (status, oo) = app.get(org, "/stats").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{org}");
        assert_eq!(oo["resourceType"], "OperationOutcome");
    }

    let (status, text) = app.get(OPS, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    let q = |p: &str, q: &str| {
        format!("refgate_acknowledgement_delay_seconds{{provider=\"{p}\",quantile=\"{q}\"}}")
    };
    assert_eq!(sample(text, &q("all", "0.5")), 3600.0);
    assert_eq!(sample(text, &q(NORTH, "0.9")), 10800.0);
    assert_eq!(
        sample(
            text,
            &format!("refgate_acceptance_ratio{{provider=\"{NORTH}\"}}")
        ),
        0.5
    );
    assert_eq!(
        sample(
            text,
            &format!("refgate_provider_queue_depth{{provider=\"{NORTH}\"}}")
        ),
        3.0
    );
    assert_eq!(
        sample(
            text,
            &format!("refgate_provider_queue_depth{{provider=\"{WEST}\"}}")
        ),
        0.0
    );
    assert_eq!(
        sample(
            text,
            &format!("refgate_oldest_unacknowledged_seconds{{provider=\"{NORTH}\"}}")
        ),
        7.0 * 86400.0 + 7200.0
    );
    assert_eq!(
        sample(
            text,
            &format!("refgate_referrals_received_this_week{{referrer=\"{MSK}\"}}")
        ),
        1.0
    );
    assert!(
        !text.contains("referrals_received_this_week{referrer=\"B82005\"}"),
        "last week's referrers are not this week's"
    );
    for needle in ["9990000018", "Fixturewoman", "HG2"] {
        assert!(!text.contains(needle) && !stats.to_string().contains(needle));
    }
}
