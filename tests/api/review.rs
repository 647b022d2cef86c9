//! The review queue: what cannot go straight to a provider waits for an operator, who
//! corrects and releases it or rejects it; the referrer sees each step.

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A referral the gateway must hold: no referrer is named.
async fn held(app: &TestApp) -> (String, Value) {
    let mut r = flat_referral();
    r["referrer"]["name"] = Value::Null;
    let (status, body) = app
        .post_referral(MSK, "application/json", r.to_string())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    (body["id"].as_str().unwrap().to_owned(), r)
}

#[actix_web::test]
async fn an_operator_corrects_and_releases_a_held_referral_to_its_provider() {
    let app = spawn_app().await;
    let (id, mut record) = held(&app).await;

    let (status, queue) = app.get(OPS, "/review").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queue["count"], 1);
    assert_eq!(queue["referrals"][0]["id"], id.as_str());

    let (status, item) = app.get(OPS, &format!("/review/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(item["reasons"], json!(["referrer.name"]));
    assert_eq!(item["record"]["patient"]["family_name"], "Fixturewoman");
    assert_eq!(item["document"]["media_type"], "application/json");
    assert!(
        item["document"]["text"]
            .as_str()
            .unwrap()
            .contains("Fixturewoman")
    );

    // Releasing as read is refused: the referrer is still unknown.
    let release = format!("/review/{id}/release");
    let (status, oo) = app.post(OPS, &release, "application/json", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{oo}");
    assert_eq!(oo["issue"][0]["expression"][0], "$.referrer.name");

    record["referrer"]["name"] = json!("Dr Rhee Furrer");
    let (status, done) = app
        .post(OPS, &release, "application/json", record.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "ready");
    assert_eq!(done["provider"], NORTH);

    let (_, queue) = app.get(OPS, "/review").await;
    assert_eq!(queue["count"], 0, "released referrals leave the queue");
    let (status, bundle) = app.get(NORTH, &format!("/inbox/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let resources: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    let practitioner_names: Vec<&str> = resources
        .iter()
        .filter(|r| r["resourceType"] == "Practitioner")
        .filter_map(|r| r["name"][0]["text"].as_str())
        .collect();
    assert!(
        practitioner_names.contains(&"Dr Rhee Furrer"),
        "{practitioner_names:?}"
    );
    let provenance = resources
        .iter()
        .find(|r| r["resourceType"] == "Provenance")
        .unwrap();
    let verifier = provenance["agent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"]["coding"][0]["code"] == "verifier")
        .expect("the operator who released it is in the provenance");
    assert_eq!(verifier["who"]["identifier"]["value"], OPS);

    let (_, status_view) = app.get(MSK, &format!("/referrals/{id}")).await;
    let states: Vec<&str> = status_view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["received", "needs-review", "ready", "delivered"]);
    assert_eq!(status_view["record"]["referrer"]["name"], "Dr Rhee Furrer");
}

#[actix_web::test]
async fn an_operator_rejects_a_held_referral_with_a_reason_code() {
    let app = spawn_app().await;
    let (id, _) = held(&app).await;
    let reject = format!("/review/{id}/reject");
    let (status, oo) = app
        .post(
            OPS,
            &reject,
            "application/json",
            json!({"reason": "Mrs Fixturewoman moved away"}).to_string(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "free text is not a reason: {oo}"
    );
    assert!(!oo.to_string().contains("Fixturewoman"));

    let (status, done) = app
        .post(
            OPS,
            &reject,
            "application/json",
            json!({"reason": "referrer-not-identifiable"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "rejected-at-intake");

    let (_, view) = app.get(MSK, &format!("/referrals/{id}")).await;
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["state"], "rejected-at-intake");
    assert_eq!(last["reason"], "referrer-not-identifiable");
    assert_eq!(last["actor"], OPS);
    // Decided once: a second decision finds nothing to decide.
    let (status, _) = app
        .post(
            OPS,
            &format!("/review/{id}/release"),
            "application/json",
            "",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn only_operators_see_the_review_queue() {
    let app = spawn_app().await;
    let (id, _) = held(&app).await;
    for org in [MSK, NORTH] {
        let (status, _) = app.get(org, "/review").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app.get(org, &format!("/review/{id}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = app
        .post(
            NORTH,
            &format!("/review/{id}/release"),
            "application/json",
            "",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A referral that went straight through is not in the queue.
    let (_, ok) = app
        .post_referral(MSK, "application/json", flat_referral().to_string())
        .await;
    let (status, _) = app
        .get(OPS, &format!("/review/{}", ok["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn review_decisions_are_in_the_audit_chain() {
    let mut app = spawn_app().await;
    let (id, mut record) = held(&app).await;
    record["referrer"]["name"] = json!("Dr Rhee Furrer");
    let (status, _) = app
        .post(
            OPS,
            &format!("/review/{id}/release"),
            "application/json",
            record.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
    let store = refgate::store::sqlite::SqliteStore::open(&app.db_path())
        .await
        .unwrap();
    let events = refgate::store::Store::audit_events(&store).await.unwrap();
    let actions: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_deref()))
        .collect();
    assert_eq!(
        actions,
        [
            ("intake", Some(MSK)),
            ("held-for-review", Some(MSK)),
            ("review-corrected", Some(OPS)),
            ("review-released", Some(OPS)),
        ]
    );
    assert_eq!(refgate::audit::verify(events), Ok(4));
    refgate::store::Store::close(&store).await;
}
