//! Dictated letters as referrals: each format over HTTPS ends in the provider's inbox
//! as a FHIR message with the structured fields and the original document; what cannot
//! be read with confidence waits for review; the same letter twice is one referral.

use awc::http::StatusCode;
use base64::Engine as _;
use serde_json::Value;

use crate::helpers::*;

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

fn resource<'a>(bundle: &'a Value, kind: &str) -> &'a Value {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[actix_web::test]
async fn a_text_letter_reaches_the_provider_with_its_fields_and_the_original() {
    let app = spawn_app().await;
    let letter = fixture("letters/F01.txt");
    let (status, body) = app.post_referral(MSK, "text/plain", letter.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "ready");
    let record = &body["record"];
    assert_eq!(record["patient"]["nhs_number"], "9990702314");
    assert_eq!(record["referrer"]["name"], "Dr Martin Oduya");
    assert_eq!(record["measures"]["hads_anxiety"], 11);
    // Each value points at the words it was read from.
    let span = &record["provenance"]["patient.nhs_number"];
    let (start, end) = (
        span["start"].as_u64().unwrap() as usize,
        span["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        String::from_utf8_lossy(&letter[start..end]).replace(' ', ""),
        "9990702314"
    );

    let id = body["id"].as_str().unwrap();
    let provider = body["provider"].as_str().unwrap();
    let (status, bundle) = app.get(provider, &format!("/inbox/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let patient = resource(&bundle, "Patient");
    assert_eq!(patient["identifier"][0]["value"], "9990702314");
    let attachment = &resource(&bundle, "DocumentReference")["content"][0]["attachment"];
    assert_eq!(attachment["contentType"], "text/plain");
    let original = base64::engine::general_purpose::STANDARD
        .decode(attachment["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        original, letter,
        "the provider reads the clinician's own words"
    );
}

#[actix_web::test]
async fn every_letter_format_gives_the_same_referral_fields() {
    let app = spawn_app().await;
    for (file, media_type) in [
        ("letters/formats/F07.pdf", "application/pdf"),
        ("letters/formats/F07.docx", DOCX),
        ("letters/formats/F07.rtf", "application/rtf"),
        ("letters/formats/F07.html", "text/html"),
        // Mislabelled: the content decides.
        ("letters/formats/F01.pdf", "text/plain"),
        ("letters/formats/F01.docx", "application/octet-stream"),
    ] {
        let (status, body) = app.post_referral(GP, media_type, fixture(file)).await;
        assert!(status.is_success(), "{file}: {status} {body}");
        let text = if file.contains("F07") {
            "letters/F07.txt"
        } else {
            "letters/F01.txt"
        };
        let (_, from_text) = app.post_referral(MSK, "text/plain", fixture(text)).await;
        for field in [
            "/patient/nhs_number",
            "/patient/family_name",
            "/referrer/name",
            "/letter_date",
        ] {
            assert_eq!(
                body["record"].pointer(field),
                from_text["record"].pointer(field),
                "{file} {field}"
            );
        }
    }
}

#[actix_web::test]
async fn a_letter_reporting_current_risk_is_urgent_and_first_in_the_inbox() {
    let app = spawn_app().await;
    // Two routine referrals for the default provider arrive first.
    for letter in ["letters/F01.txt", "letters/F05.txt"] {
        let (status, routine) = app.post_referral(MSK, "text/plain", fixture(letter)).await;
        assert_eq!(status, StatusCode::CREATED, "{routine}");
        assert_eq!(routine["provider"], NORTH);
        assert_eq!(routine["record"]["urgency"], "routine");
    }
    let (status, risky) = app
        .post_referral(MSK, "text/plain", fixture("letters/L03.txt"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{risky}");
    assert_eq!(risky["record"]["risk_flag"], true);
    assert_eq!(risky["record"]["urgency"], "urgent");
    assert_eq!(risky["provider"], NORTH);
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 3);
    assert_eq!(
        inbox["messages"][0]["id"], risky["id"],
        "risk goes to the front"
    );
    let id = risky["id"].as_str().unwrap();
    let (_, bundle) = app.get(NORTH, &format!("/inbox/{id}")).await;
    assert_eq!(resource(&bundle, "ServiceRequest")["priority"], "urgent");
    assert_eq!(resource(&bundle, "Flag")["status"], "active");
}

#[actix_web::test]
async fn a_letter_that_is_not_a_referral_or_cannot_be_read_waits_for_review() {
    let app = spawn_app().await;
    // A discharge letter saying no referral is needed.
    let (status, body) = app
        .post_referral(MSK, "text/plain", fixture("letters/F06.txt"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["record"]["is_referral"], false);
    assert!(
        body["review_reasons"].to_string().contains("is_referral"),
        "{body}"
    );
    let (_, queue) = app.get(OPS, "/review").await;
    assert_eq!(queue["count"], 1);
    let (_, held) = app
        .get(OPS, &format!("/review/{}", body["id"].as_str().unwrap()))
        .await;
    assert!(held["document"]["text"].as_str().unwrap().contains("Dear"));
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 0);
}

#[actix_web::test]
async fn a_broken_document_is_refused_with_an_operation_outcome() {
    let app = spawn_app().await;
    let mut pdf = fixture("letters/formats/F01.pdf");
    pdf.truncate(pdf.len() / 3);
    let (status, oo) = app.post_referral(MSK, "application/pdf", pdf).await;
    assert!(status.is_client_error(), "{status} {oo}");
    assert_eq!(oo["resourceType"], "OperationOutcome");
    let (status, oo) = app
        .post_referral(MSK, "text/plain", vec![0u8, 159, 146, 150, 0, 1, 2, 3])
        .await;
    assert!(status.is_client_error(), "{status} {oo}");
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(
        inbox["count"], 0,
        "nothing is stored for a refused document"
    );
}

#[actix_web::test]
async fn the_same_letter_by_two_routes_is_one_referral() {
    let app = spawn_app().await;
    let (status, first) = app
        .post_referral(MSK, "text/plain", fixture("letters/F01.txt"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Typed as DOCX and sent again: different bytes, same patient and letter date.
    let (status, again) = app
        .post_referral(MSK, DOCX, fixture("letters/formats/F01.docx"))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["id"], first["id"]);
    let (_, inbox) = app.get(first["provider"].as_str().unwrap(), "/inbox").await;
    assert_eq!(inbox["count"], 1);
}
