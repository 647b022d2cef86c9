//! An email submitted whole (`message/rfc822`) is read as the letter it carries; its
//! other attachments are stored sealed with the referral and delivered with it.

use std::process::Command;

use awc::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use crate::helpers::*;

fn document_references(bundle: &Value) -> Vec<&Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "DocumentReference")
        .collect()
}

#[actix_web::test]
async fn an_emailed_letter_arrives_with_its_supporting_documents() {
    let app = spawn_app().await;
    let email = fixture("emails/FE11.eml");
    let (status, body) = app
        .post_referral(MSK, "message/rfc822", email.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["record"]["patient"]["nhs_number"], "9995908301");
    let id = body["id"].as_str().unwrap().to_owned();
    let provider = body["provider"].as_str().unwrap().to_owned();

    let (status, bundle) = app.get(&provider, &format!("/inbox/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let docs = document_references(&bundle);
    assert_eq!(docs.len(), 3, "the letter and two supporting documents");
    let attachment = |i: usize| &docs[i]["content"][0]["attachment"];
    // The letter is the original; the PDF that reads like a letter.
    assert_eq!(attachment(0)["contentType"], "application/pdf");
    assert_eq!(attachment(0)["title"], "Referral as submitted");
    let letter = BASE64
        .decode(attachment(0)["data"].as_str().unwrap())
        .unwrap();
    assert!(letter.starts_with(b"%PDF-"));
    assert_eq!(attachment(1)["title"], "bloods.txt");
    assert_eq!(attachment(1)["contentType"], "text/plain; charset=utf-8");
    let bloods = BASE64
        .decode(attachment(1)["data"].as_str().unwrap())
        .unwrap();
    assert!(String::from_utf8(bloods).unwrap().contains("CRP: 4 mg/L"));
    assert_eq!(attachment(2)["title"], "clinic summary.pdf");
    assert_eq!(docs[2]["type"]["text"], "Supporting document");
    // Each is referenced from the ServiceRequest.
    let request = bundle["entry"][1]["resource"].clone();
    let info: Vec<String> = request["supportingInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap().to_owned())
        .collect();
    for entry in bundle["entry"].as_array().unwrap() {
        if entry["resource"]["resourceType"] == "DocumentReference" {
            assert!(info.contains(&entry["fullUrl"].as_str().unwrap().to_owned()));
        }
    }

    // The same email again is the same referral, with no second set of documents.
    let (status, again) = app.post_referral(MSK, "message/rfc822", email).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], body["id"]);
    assert_eq!(again["duplicate"], true);
    let (_, bundle) = app.get(&provider, &format!("/inbox/{id}")).await;
    assert_eq!(document_references(&bundle).len(), 3);
}

#[actix_web::test]
async fn supporting_documents_are_sealed_at_rest() {
    let mut app = spawn_app().await;
    let (status, body) = app
        .post_referral(MSK, "message/rfc822", fixture("emails/FE11.eml"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.stop().await;
    let mut db = std::fs::read(app.db_path()).unwrap();
    let wal = app.db_path().with_extension("db-wal");
    db.extend(std::fs::read(wal).unwrap_or_default());
    for plain in [&b"CRP: 4 mg/L"[..], b"bloods.txt", b"clinic summary"] {
        assert!(
            !db.windows(plain.len()).any(|w| w == plain),
            "{} stored in the clear",
            String::from_utf8_lossy(plain)
        );
    }
}

#[actix_web::test]
async fn an_email_with_no_letter_is_refused_with_a_clear_problem() {
    let app = spawn_app().await;
    let raw = "MIME-Version: 1.0\r\nFrom: a@example.nhs.uk\r\nSubject: hi\r\n\
               Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
               Content-Type: text/plain\r\n\r\n \r\n--b\r\n\
               Content-Type: image/png\r\nContent-Disposition: attachment; filename=\"x.png\"\r\n\r\n\
               PNG\r\n--b--\r\n";
    let (status, body) = app.post_referral(MSK, "message/rfc822", raw).await;
    // Nothing readable to refer: 400, like any unreadable submission.
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["resourceType"], "OperationOutcome");
    let text = body.to_string();
    assert!(text.contains("no letter"), "{text}");
}

#[actix_web::test]
async fn an_email_posted_as_octet_stream_is_recognised_by_its_content() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_referral(MSK, "application/octet-stream", fixture("emails/FE02.eml"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["record"]["referrer"]["name"], "Mr Gareth Hughes");
}

#[test]
fn normalise_prints_the_record_of_the_letter_an_email_carries() {
    for (file, nhs) in [("FE02.eml", "9998442222"), ("FE10.eml", "9997465075")] {
        let out = Command::new(env!("CARGO_BIN_EXE_refgate"))
            .arg("normalise")
            .arg(fixture_path(&format!("emails/{file}")))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let record: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(record["patient"]["nhs_number"], nhs, "{file}");
    }
}

#[actix_web::test]
async fn no_identifier_from_an_emailed_referral_reaches_the_logs() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_referral(MSK, "message/rfc822", fixture("emails/FE11.eml"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap();
    let provider = body["provider"].as_str().unwrap();
    app.get(provider, &format!("/inbox/{id}")).await;
    // A refused one too: errors are where values most often leak.
    let broken = "MIME-Version: 1.0\r\nFrom: gill.hartley@example.nhs.uk\r\nSubject: Turner\r\n\
                  Content-Type: image/png; name=\"Turner 9995908301.png\"\r\n\r\nPNG\r\n";
    app.post_referral(MSK, "message/rfc822", broken).await;
    let logs = captured_logs();
    assert!(logs.contains(id), "the referral id is logged");
    for needle in [
        "Turner",
        "9995908301",
        "999 590 8301",
        "BD20 6LH",
        "bloods.txt",
        "clinic summary",
        "gill.hartley",
        "Mackay",
    ] {
        assert!(!logs.contains(needle), "{needle} leaked into the logs");
    }
}
