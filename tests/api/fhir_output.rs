//! Bundles the gateway emits are valid FHIR R4 according to third-party validators
//! (fhir.resources 6.4.0 and SMART fhirclient, via ../shared/tools/validate_fhir.py).

use std::path::{Path, PathBuf};
use std::process::Command;

use awc::http::StatusCode;

use crate::helpers::*;

/// The Python that has the validators: `REFGATE_FHIR_PYTHON`, else the repository's
/// `.venv` made by `scripts/test`.
pub fn validator() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("REFGATE_FHIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let script = std::env::var_os("REFGATE_FHIR_VALIDATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/tools/validate_fhir.py"));
    assert!(
        python.exists(),
        "FHIR validators not installed: run scripts/test (it creates .venv), or set REFGATE_FHIR_PYTHON"
    );
    assert!(
        script.exists(),
        "validate_fhir.py not found at {}: set REFGATE_FHIR_VALIDATOR",
        script.display()
    );
    (python, script)
}

#[actix_web::test]
async fn emitted_message_bundles_pass_third_party_fhir_validation() {
    let (python, script) = validator();
    let app = spawn_app().await;
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fhir-out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let inputs = [
        ("FJ01", "application/fhir+json", "json/FJ01.json"),
        ("FJ02", "application/fhir+json", "json/FJ02.json"),
        ("FJ03", "application/json", "json/FJ03.json"),
        // An email: the letter and its supporting documents as DocumentReferences.
        ("FE11", "message/rfc822", "emails/FE11.eml"),
    ];
    for (name, ct, path) in inputs {
        let (status, body) = app.post_referral(GP, ct, fixture(path)).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let provider = body["provider"].as_str().unwrap();
        let (status, bundle) = app
            .get(
                provider,
                &format!("/inbox/{}", body["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let file = out_dir.join(format!("{name}.bundle.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
        let (ok, text) = validate(&python, &script, &file);
        assert!(ok, "{name}: {text}");
    }
    // A referral released from the review queue carries the operator in its Provenance.
    let mut held = flat_referral();
    held["referrer"]["name"] = serde_json::Value::Null;
    let (_, body) = app
        .post_referral(MSK, "application/json", held.to_string())
        .await;
    let id = body["id"].as_str().unwrap();
    held["referrer"]["name"] = "Dr Rhee Furrer".into();
    let release = format!("/review/{id}/release");
    let (status, _) = app
        .post(OPS, &release, "application/json", held.to_string())
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, bundle) = app.get(NORTH, &format!("/inbox/{id}")).await;
    let file = out_dir.join("reviewed.bundle.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    let (ok, text) = validate(&python, &script, &file);
    assert!(ok, "reviewed: {text}");

    // The response message of $process-message is emitted too.
    let (_, response) = app
        .post(
            MSK,
            "/fhir/$process-message",
            "application/fhir+json",
            fixture("json/FJ01.json"),
        )
        .await;
    let file = out_dir.join("process-message-response.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&response).unwrap()).unwrap();
    let (ok, text) = validate(&python, &script, &file);
    assert!(ok, "{text}");
}

/// Runs both third-party validators on `file`: success and what they printed.
pub fn validate(python: &Path, script: &Path, file: &Path) -> (bool, String) {
    let out = Command::new(python)
        .arg(script)
        .arg(file)
        .arg("--with-fhirclient")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.starts_with("OK"), text)
}
