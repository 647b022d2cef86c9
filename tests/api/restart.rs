//! Durability: what was acknowledged with 201 survives a restart.

use awc::http::StatusCode;

use crate::helpers::*;

#[actix_web::test]
async fn a_referral_survives_a_server_restart() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_referral(MSK, "application/json", fixture("json/FJ03.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["id"].as_str().unwrap().to_owned();

    let app = app.restart().await;

    let (status, view) = app.get(MSK, &format!("/referrals/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["record"]["patient"]["family_name"], "Odell");
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["messages"][0]["id"], id.as_str());
    let (status, again) = app
        .post_referral(MSK, "application/json", fixture("json/FJ03.json"))
        .await;
    assert_eq!(
        (status, &again["id"]),
        (StatusCode::OK, &body["id"]),
        "duplicates are still recognised after restart"
    );
}

#[actix_web::test]
async fn patient_data_is_not_readable_in_the_database_file() {
    let mut app = spawn_app().await;
    app.post_referral(MSK, "application/json", fixture("json/FJ03.json"))
        .await;
    app.stop().await;
    let mut raw = std::fs::read(app.db_path()).unwrap();
    if let Ok(wal) = std::fs::read(app.db_path().with_extension("db-wal")) {
        raw.extend(wal);
    }
    for needle in ["Odell", "9999211321", "NG1 6GR", "07700900203", "Park Row"] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} found in plain text"
        );
    }
}
