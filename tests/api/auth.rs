//! Mutual TLS: who may do what.

use awc::http::StatusCode;

use crate::helpers::*;

#[actix_web::test]
async fn no_client_certificate_gets_401() {
    let app = spawn_app().await;
    let (status, oo) = send_body(
        app.anonymous()
            .post(app.url("/referrals"))
            .insert_header(("Content-Type", "application/json")),
        fixture("json/FJ03.json"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(oo["issue"][0]["code"], "login");
    let (status, _) = send_body(app.anonymous().get(app.url("/inbox")), vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_certificate_from_our_ca_for_an_unknown_organisation_gets_403() {
    let app = spawn_app().await;
    let (cert, key) =
        refgate::init::issue_client_cert(&app.pki, "STRANGER", &app.dir.path().join("stranger"))
            .unwrap();
    let client = client_with(&app.pki.ca, Some((&cert, &key)));
    let (status, oo) = send_body(
        client
            .post(app.url("/referrals"))
            .insert_header(("Content-Type", "application/json")),
        fixture("json/FJ03.json"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(oo["issue"][0]["code"], "forbidden");
}

#[actix_web::test]
async fn a_certificate_from_a_foreign_ca_fails_the_handshake() {
    let app = spawn_app().await;
    let (cert, key) =
        refgate::init::write_self_signed_client(&app.dir.path().join("foreign"), "RCB55").unwrap();
    let client = client_with(&app.pki.ca, Some((&cert, &key)));
    let result = client.get(app.url("/inbox")).send().await;
    assert!(
        result.is_err(),
        "a foreign certificate must not get a response"
    );
}

#[actix_web::test]
async fn a_referrer_cannot_read_another_referrers_referral() {
    let app = spawn_app().await;
    let (_, body) = app
        .post_referral(MSK, "application/json", fixture("json/FJ03.json"))
        .await;
    let path = format!("/referrals/{}", body["id"].as_str().unwrap());
    assert_eq!(app.get(MSK, &path).await.0, StatusCode::OK);
    let (status, oo) = app.get(GP, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!oo.to_string().contains("Odell"));
    assert_eq!(
        app.get(NORTH, &path).await.0,
        StatusCode::FORBIDDEN,
        "providers read status through their inbox"
    );
}

#[actix_web::test]
async fn providers_cannot_submit_and_referrers_cannot_read_inboxes() {
    let app = spawn_app().await;
    let (status, _) = app
        .post_referral(NORTH, "application/json", fixture("json/FJ03.json"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(MSK, "/inbox").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn unknown_paths_and_bad_ids_get_404_operation_outcomes() {
    let app = spawn_app().await;
    let (status, oo) = app.get(MSK, "/nothing-here").await;
    assert_eq!(
        (status, oo["resourceType"].as_str()),
        (StatusCode::NOT_FOUND, Some("OperationOutcome"))
    );
    let (status, _) = app.get(MSK, "/referrals/not-a-uuid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
