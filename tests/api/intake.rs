//! Submissions: accepted and routed, or refused with a specific OperationOutcome.

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn a_fhir_message_bundle_is_accepted_and_routed_to_the_default_provider() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_referral(MSK, "application/fhir+json", fixture("json/FJ01.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "ready");
    assert_eq!(body["provider"], NORTH);
    assert_eq!(body["record"]["patient"]["nhs_number"], "9990104735");
    assert_eq!(body["record"]["measures"]["hads_anxiety"], 12);
    assert_eq!(body["record"]["referrer"]["professional_id"], "GMC 6987012");
}

#[actix_web::test]
async fn a_fhir_transaction_bundle_with_risk_is_accepted_as_urgent() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_referral(GP, "application/fhir+json", fixture("json/FJ02.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["record"]["risk_flag"], true);
    assert_eq!(body["urgency"], "urgent");
}

#[actix_web::test]
async fn a_valid_flat_form_is_accepted_with_its_record() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_referral(MSK, "application/json", fixture("json/FJ03.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["record"]["patient"]["postcode"], "NG1 6GR");
    assert_eq!(body["record"]["measures"]["gad7"], 12);
    let id = body["id"].as_str().unwrap();
    let (status, view) = app.get(MSK, &format!("/referrals/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["state"], "ready");
}

#[actix_web::test]
async fn routing_follows_the_patients_postcode() {
    let app = spawn_app().await;
    let mut r = flat_referral();
    r["patient"]["postcode"] = json!("LS1 4AP");
    let (status, body) = app
        .post_referral(MSK, "application/json", r.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["provider"], WEST);
}

#[actix_web::test]
async fn an_nhs_number_failing_modulus_11_is_rejected_with_its_fhir_path() {
    let app = spawn_app().await;
    let (status, oo) = app
        .post_referral(MSK, "application/fhir+json", fixture("json/FJ04.json"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{oo}");
    let paths = issue_paths(&oo);
    assert_eq!(paths.len(), 1, "{oo}");
    assert!(paths[0].contains("identifier"), "{paths:?}");
    assert!(
        oo["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("modulus-11")
    );
}

#[actix_web::test]
async fn every_problem_in_a_submission_is_listed_with_its_path() {
    let app = spawn_app().await;
    let mut r = flat_referral();
    r["patient"]["nhs_number"] = json!("9990000019");
    r["patient"]["date_of_birth"] = json!("2199-01-01");
    r["patient"]["postcode"] = json!("NOT A CODE");
    r["measures"]["phq9"] = json!(27);
    r["measures"]["gad7"] = json!(20);
    r["letter_date"] = json!("2025-02-30");
    let (status, oo) = app
        .post_referral(MSK, "application/json", r.to_string())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{oo}");
    let paths = issue_paths(&oo);
    for want in [
        "$.patient.nhs_number",
        "$.patient.date_of_birth",
        "$.patient.postcode",
        "$.letter_date",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "missing {want} in {paths:?}"
        );
    }
    assert_eq!(
        paths.len(),
        4,
        "in-range scores are not problems: {paths:?}"
    );
}

#[actix_web::test]
async fn a_score_outside_its_scale_is_refused() {
    let app = spawn_app().await;
    let mut r = flat_referral();
    r["measures"]["phq9"] = json!(28);
    let (status, oo) = app
        .post_referral(MSK, "application/json", r.to_string())
        .await;
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status}"
    );
    assert!(issue_paths(&oo).iter().any(|p| p.contains("phq9")), "{oo}");
}

#[actix_web::test]
async fn malformed_json_gets_400_with_an_operation_outcome() {
    let app = spawn_app().await;
    let (status, oo) = app
        .post_referral(MSK, "application/json", "{\"patient\": ")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(oo["issue"][0]["code"], "structure");
}

#[actix_web::test]
async fn schema_errors_never_echo_the_submitted_values() {
    let app = spawn_app().await;
    let mut r = flat_referral();
    r["patient"]["family_name"] = json!(["Secretname-Zyx"]);
    r["unknown_field"] = json!("Leaky-Value-Qwv");
    let (status, oo) = app
        .post_referral(MSK, "application/json", r.to_string())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{oo}");
    assert!(issue_paths(&oo).len() >= 2, "{oo}");
    let text = oo.to_string();
    assert!(
        !text.contains("Secretname") && !text.contains("Leaky-Value"),
        "{text}"
    );
}

#[actix_web::test]
async fn an_unsupported_content_type_gets_415() {
    let app = spawn_app().await;
    let (status, oo) = app.post_referral(MSK, "text/csv", "a,b,c").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(oo["issue"][0]["code"], "not-supported");
}

#[actix_web::test]
async fn a_body_over_the_limit_gets_413_and_nothing_is_stored() {
    let app = spawn_app().await;
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(300 * 1024));
    let (status, oo) = app.post_referral(MSK, "application/json", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(oo["issue"][0]["code"], "too-long");
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 0);
}

#[actix_web::test]
async fn a_referral_without_patient_identity_is_held_for_review() {
    let app = spawn_app().await;
    let mut r = flat_referral();
    r["patient"]["nhs_number"] = json!(null);
    r["patient"]["date_of_birth"] = json!(null);
    let (status, body) = app
        .post_referral(MSK, "application/json", r.to_string())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "needs-review");
    assert!(body["provider"].is_null());
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 0, "held referrals do not reach a provider");
}

#[actix_web::test]
async fn process_message_answers_with_a_response_message_after_commit() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            MSK,
            "/fhir/$process-message",
            "application/fhir+json",
            fixture("json/FJ01.json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "message");
    assert_eq!(body["entry"][0]["resource"]["response"]["code"], "ok");
    let id = body["entry"][1]["resource"]["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, view) = app.get(MSK, &format!("/referrals/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["state"], "ready");
}

#[actix_web::test]
async fn process_message_refuses_a_bundle_that_is_not_a_message() {
    let app = spawn_app().await;
    let (status, oo) = app
        .post(
            MSK,
            "/fhir/$process-message",
            "application/fhir+json",
            fixture("json/FJ02.json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_paths(&oo), vec!["Bundle.type"]);
}

#[actix_web::test]
async fn metrics_count_submissions_by_channel_and_outcome() {
    let app = spawn_app().await;
    app.post_referral(MSK, "application/json", fixture("json/FJ03.json"))
        .await;
    app.post_referral(MSK, "application/fhir+json", fixture("json/FJ04.json"))
        .await;
    let mut resp = app
        .anonymous()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = String::from_utf8(resp.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(r#"refgate_submissions_total{channel="http",outcome="ready"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"refgate_submissions_total{channel="http",outcome="rejected"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"refgate_referrals{state="ready"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("refgate_http_request_duration_seconds_bucket"),
        "{text}"
    );
    let (status, health) = app.get(MSK, "/healthz").await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
}

#[actix_web::test]
async fn a_document_uploaded_as_a_multipart_file_is_accepted() {
    let app = spawn_app().await;
    let form = |part_headers: &str, content: &[u8]| {
        let mut body = Vec::new();
        body.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nfrom the clinic\r\n",
        );
        body.extend_from_slice(format!("--XyZ\r\n{part_headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        body
    };
    let upload = form(
        "Content-Disposition: form-data; name=\"file\"; filename=\"odell.json\"\r\nContent-Type: application/octet-stream",
        &fixture("json/FJ03.json"),
    );
    let (status, body) = app
        .post_referral(MSK, "multipart/form-data; boundary=XyZ", upload)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["record"]["patient"]["family_name"], "Odell");

    let no_file =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ--\r\n"
            .to_vec();
    let (status, oo) = app
        .post_referral(MSK, "multipart/form-data; boundary=XyZ", no_file)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{oo}");
    assert_eq!(oo["resourceType"], "OperationOutcome");
    let (status, _) = app
        .post_referral(MSK, "multipart/form-data", b"garbage".to_vec())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
