//! The provider inbox: list, download, acknowledge; each provider sees only its own.

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn submit(app: &TestApp, r: &Value) -> String {
    let (status, body) = app
        .post_referral(MSK, "application/json", r.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_provider_downloads_and_acknowledges_and_the_referrer_sees_each_step() {
    let app = spawn_app().await;
    let id = submit(&app, &flat_referral()).await;

    let (status, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inbox["count"], 1);
    assert_eq!(inbox["messages"][0]["id"], id.as_str());

    let (status, bundle) = app.get(NORTH, &format!("/inbox/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "message");
    assert_eq!(
        bundle["entry"][0]["resource"]["resourceType"],
        "MessageHeader"
    );
    let kinds: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["resource"]["resourceType"].as_str())
        .collect();
    for k in [
        "ServiceRequest",
        "Patient",
        "DocumentReference",
        "Provenance",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }

    let (status, ack) = app.acknowledge(NORTH, &id).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["state"], "acknowledged");
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 0, "acknowledged referrals leave the inbox");
    assert_eq!(
        app.get(NORTH, &format!("/inbox/{id}")).await.0,
        StatusCode::NOT_FOUND
    );

    let (_, view) = app.get(MSK, &format!("/referrals/{id}")).await;
    let states: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["received", "ready", "delivered", "acknowledged"]);
    assert_eq!(view["state"], "acknowledged");
}

#[actix_web::test]
async fn the_same_message_comes_back_when_downloaded_twice() {
    let app = spawn_app().await;
    let id = submit(&app, &flat_referral()).await;
    let (_, first) = app.get(NORTH, &format!("/inbox/{id}")).await;
    let (status, second) = app.get(NORTH, &format!("/inbox/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        first["identifier"], second["identifier"],
        "a stable message id lets providers drop duplicates"
    );
}

#[actix_web::test]
async fn acknowledging_before_downloading_is_refused() {
    let app = spawn_app().await;
    let id = submit(&app, &flat_referral()).await;
    let (status, oo) = app.acknowledge(NORTH, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{oo}");
    assert_eq!(oo["resourceType"], "OperationOutcome");
}

#[actix_web::test]
async fn one_provider_cannot_see_or_take_another_providers_referrals() {
    let app = spawn_app().await;
    let id = submit(&app, &flat_referral()).await;
    let (_, west) = app.get(WEST, "/inbox").await;
    assert_eq!(west["count"], 0);
    assert_eq!(
        app.get(WEST, &format!("/inbox/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            WEST,
            &format!("/inbox/{id}/acknowledge"),
            "application/json",
            ""
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, north) = app.get(NORTH, "/inbox").await;
    assert_eq!(north["count"], 1, "the right provider still has it");
}

#[actix_web::test]
async fn urgent_referrals_are_at_the_front_of_the_inbox() {
    let app = spawn_app().await;
    let routine = submit(&app, &flat_referral()).await;
    let mut r = flat_referral();
    r["patient"]["nhs_number"] = json!("9990000026");
    r["risk_flag"] = json!(true);
    r["urgency"] = json!("urgent");
    let urgent = submit(&app, &r).await;
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["messages"][0]["id"], urgent.as_str());
    assert_eq!(inbox["messages"][0]["urgency"], "urgent");
    assert_eq!(inbox["messages"][1]["id"], routine.as_str());
}
