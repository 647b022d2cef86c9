//! The same submission twice makes one referral.

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn the_same_content_twice_gives_the_same_referral() {
    let app = spawn_app().await;
    let (s1, first) = app
        .post_referral(MSK, "application/fhir+json", fixture("json/FJ01.json"))
        .await;
    let (s2, second) = app
        .post_referral(MSK, "application/fhir+json", fixture("json/FJ01.json"))
        .await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["duplicate"], true);
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 1);
}

#[actix_web::test]
async fn the_same_content_from_another_organisation_is_a_separate_referral() {
    let app = spawn_app().await;
    let (_, a) = app
        .post_referral(MSK, "application/json", fixture("json/FJ03.json"))
        .await;
    let (status, b) = app
        .post_referral(GP, "application/json", fixture("json/FJ03.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(a["id"], b["id"]);
}

async fn post_with_key(app: &TestApp, key: &str, body: String) -> (StatusCode, serde_json::Value) {
    send_body(
        app.client(MSK)
            .post(app.url("/referrals"))
            .insert_header(("Content-Type", "application/json"))
            .insert_header(("Idempotency-Key", key)),
        body.into_bytes(),
    )
    .await
}

#[actix_web::test]
async fn an_idempotency_key_returns_the_first_referral_and_refuses_other_content() {
    let app = spawn_app().await;
    let r = flat_referral();
    let (s1, first) = post_with_key(&app, "order-77", r.to_string()).await;
    assert_eq!(s1, StatusCode::CREATED);
    let (s2, again) = post_with_key(&app, "order-77", r.to_string()).await;
    assert_eq!((s2, &again["id"]), (StatusCode::OK, &first["id"]));
    let mut other = flat_referral();
    other["requested_service"] = json!("Guided self-help");
    let (s3, oo) = post_with_key(&app, "order-77", other.to_string()).await;
    assert_eq!(s3, StatusCode::CONFLICT, "{oo}");
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 1);
}
