//! Logs never contain patient identifiers.

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn no_patient_identifier_reaches_the_logs() {
    let app = spawn_app().await;
    let mut r = flat_referral();
    r["patient"]["given_names"] = json!(["Logwatch"]);
    r["patient"]["family_name"] = json!("Zanzibarovic");
    r["patient"]["nhs_number"] = json!("9990000034");
    r["patient"]["postcode"] = json!("YO1 7HH");
    r["patient"]["phone"] = json!("07700900777");
    r["diagnoses"] = json!(["Quixotic syndrome"]);
    let (status, body) = app
        .post_referral(MSK, "application/json", r.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["id"].as_str().unwrap();
    app.get(NORTH, &format!("/inbox/{id}")).await;
    app.get(MSK, &format!("/referrals/{id}")).await;
    // A rejected one too: errors are where values most often leak.
    r["patient"]["nhs_number"] = json!("9990000035");
    r["patient"]["date_of_birth"] = json!("2999-01-01");
    app.post_referral(MSK, "application/json", r.to_string())
        .await;

    let logs = captured_logs();
    assert!(
        logs.contains(id),
        "the referral id is logged, so the capture works"
    );
    for needle in [
        "Logwatch",
        "Zanzibarovic",
        "9990000034",
        "9990000035",
        "999 000 0034",
        "YO1 7HH",
        "07700900777",
        "Quixotic",
        "2999-01-01",
    ] {
        assert!(!logs.contains(needle), "{needle} leaked into the logs");
    }
}
