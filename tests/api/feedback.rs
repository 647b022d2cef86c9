//! Status feedback: a provider reports accepted / rejected (reason) / booked /
//! completed (outcome) by the JSON status call, by FHIR Task and by MESH, and the
//! referrer sees each state on `GET /referrals/{id}` and `GET /fhir/Task/{id}`.

use std::path::Path;
use std::time::Duration;

use awc::http::StatusCode;
use refgate::config::MailSettings;
use refgate::domain::OrgId;
use refgate::feedback::codes::{OUTCOME_SYSTEM, REASON_SYSTEM};
use refgate::init::write_dev_pki;
use refgate::store::Store;
use refgate::store::sqlite::SqliteStore;
use serde_json::{Value, json};

use crate::fhir_output::{validate, validator};
use crate::helpers::*;
use crate::mail_sink::MailSink;

/// Posts a plain JSON status update.
async fn set_status(app: &TestApp, provider: &str, id: &str, body: Value) -> (StatusCode, Value) {
    let path = format!("/referrals/{id}/status");
    app.post(provider, &path, "application/json", body.to_string())
        .await
}

/// What the referrer sees: (state, JSON view, Task).
async fn referrer_sees(app: &TestApp, referrer: &str, id: &str) -> (String, Value, Value) {
    let (status, view) = app.get(referrer, &format!("/referrals/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let (status, task) = app.get(referrer, &format!("/fhir/Task/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(task["resourceType"], "Task");
    assert_eq!(task["businessStatus"]["text"], view["state"]);
    (view["state"].as_str().unwrap().to_owned(), view, task)
}

fn task(status: &str, id: &str) -> Value {
    json!({
        "resourceType": "Task",
        "status": status,
        "intent": "order",
        "focus": {"reference": format!("ServiceRequest/{id}")},
    })
}

/// Writes `task` under the test target folder and runs the FHIR validators on it.
fn assert_valid_fhir(name: &str, task: &Value) {
    let (python, script) = validator();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fhir-out");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.task.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(task).unwrap()).unwrap();
    let (ok, text) = validate(&python, &script, &file);
    assert!(ok, "{name}: {text}");
}

#[actix_web::test]
async fn the_full_lifecycle_through_the_json_api_is_seen_by_the_referrer() {
    let mut app = spawn_app().await;
    let (id, provider) = app.acknowledged_referral(MSK, "json lifecycle").await;
    let (state, _, task) = referrer_sees(&app, MSK, &id).await;
    assert_eq!(
        (state.as_str(), &task["status"]),
        ("acknowledged", &json!("received"))
    );

    let steps = [
        (json!({"status": "accepted"}), "accepted", "accepted"),
        (json!({"status": "booked"}), "booked", "in-progress"),
        (
            json!({"status": "completed", "outcome": "treatment-completed"}),
            "completed",
            "completed",
        ),
    ];
    for (body, want_state, want_task) in steps {
        let (status, reply) = set_status(&app, &provider, &id, body).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["state"], want_state);
        let (state, view, task) = referrer_sees(&app, MSK, &id).await;
        assert_eq!(state, want_state);
        assert_eq!(view["task_status"], want_task);
        assert_eq!(task["status"], want_task);
    }
    let (_, view, task) = referrer_sees(&app, MSK, &id).await;
    assert_eq!(view["outcome"]["code"], "treatment-completed");
    assert_eq!(
        task["output"][0]["valueCodeableConcept"]["coding"][0],
        json!({"system": OUTCOME_SYSTEM, "code": "treatment-completed", "display": "completed a course of treatment"})
    );
    let states: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        &states[states.len() - 4..],
        ["acknowledged", "accepted", "booked", "completed"]
    );
    // Status changes log ids and states only.
    let logs = captured_logs();
    for identifier in ["9990000018", "Fixturewoman", "HG2 0DJ", "07700900123"] {
        assert!(!logs.contains(identifier), "{identifier} in the logs");
    }
    assert_valid_fhir("completed", &task);

    // The provider reads the same Task; every change is in the audit log.
    let (status, theirs) = app.get(&provider, &format!("/fhir/Task/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(theirs, task);
    app.stop().await;
    let store = SqliteStore::open(&app.db_path()).await.unwrap();
    let details: Vec<String> = store
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.referral_id.as_deref() == Some(id.as_str()) && e.action == "status-change")
        .filter_map(|e| e.detail)
        .collect();
    assert_eq!(
        details,
        [
            "state=accepted",
            "state=booked",
            "state=completed;reason=treatment-completed"
        ]
    );
    store.close().await;
}

#[actix_web::test]
async fn the_lifecycle_by_fhir_task_shows_the_reason_and_outcome_to_the_referrer() {
    let app = spawn_app().await;
    // Rejected with a coded reason, by PUT.
    let (id, provider) = app.acknowledged_referral(GP, "fhir rejected").await;
    let mut rejected = task("rejected", &id);
    rejected["statusReason"] =
        json!({"coding": [{"system": REASON_SYSTEM, "code": "out-of-area"}]});
    let (status, reply) = app
        .put(
            &provider,
            &format!("/fhir/Task/{id}"),
            "application/fhir+json",
            rejected.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["status"], "rejected");
    let (state, view, task_now) = referrer_sees(&app, GP, &id).await;
    assert_eq!(state, "rejected");
    assert_eq!(view["reason"]["code"], "out-of-area");
    assert_eq!(task_now["statusReason"]["coding"][0]["code"], "out-of-area");
    assert_eq!(task_now["owner"]["identifier"]["value"], provider.as_str());
    assert_eq!(task_now["requester"]["identifier"]["value"], GP);
    assert_eq!(
        task_now["focus"]["identifier"]["value"],
        id.as_str(),
        "focus is the ServiceRequest"
    );
    assert!(task_now["lastModified"].as_str().is_some());
    assert_valid_fhir("rejected", &task_now);

    // Accepted, booked (in-progress), completed with an outcome, by POST /fhir/Task.
    let (id, provider) = app.acknowledged_referral(GP, "fhir completed").await;
    let mut completed = task("completed", &id);
    completed["output"] = json!([{"type": {"text": "outcome"}, "valueCodeableConcept": {"coding": [{"system": OUTCOME_SYSTEM, "code": "referred-on"}]}}]);
    for (body, want) in [
        (task("accepted", &id), "accepted"),
        (task("in-progress", &id), "booked"),
        (completed, "completed"),
    ] {
        let (status, reply) = app
            .post(
                &provider,
                "/fhir/Task",
                "application/fhir+json",
                body.to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        let (state, _, _) = referrer_sees(&app, GP, &id).await;
        assert_eq!(state, want);
    }
    let (_, view, task_now) = referrer_sees(&app, GP, &id).await;
    assert_eq!(view["outcome"]["code"], "referred-on");
    assert_valid_fhir("completed-by-task", &task_now);
    // The CapabilityStatement lists the Task interactions, and is valid too.
    let (_, capability) = app.get(GP, "/fhir/metadata").await;
    assert_eq!(capability["rest"][0]["resource"][0]["type"], "Task");
    assert_valid_fhir("metadata", &capability);
}

#[actix_web::test]
async fn changes_that_break_the_lifecycle_are_refused_with_an_operation_outcome() {
    let app = spawn_app().await;
    // Not yet acknowledged: a decision is refused.
    let (waiting, provider) = app.submitted_referral(MSK, "not acknowledged").await;
    let (status, oo) = set_status(&app, &provider, &waiting, json!({"status": "accepted"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{oo}");
    assert_eq!(oo["resourceType"], "OperationOutcome");

    let (id, provider) = app.acknowledged_referral(MSK, "refusals").await;
    let (status, oo) = set_status(&app, &provider, &id, json!({"status": "booked"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{oo}");
    assert_eq!(oo["issue"][0]["code"], "conflict");
    let text = oo["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(text.contains("from acknowledged to booked"), "{text}");

    // A rejection needs a coded reason, never free text.
    let (status, oo) = set_status(&app, &provider, &id, json!({"status": "rejected"})).await;
    assert!(status.is_client_error(), "{oo}");
    assert_eq!(issue_paths(&oo), ["$.reason"]);
    let free = json!({"status": "rejected", "reason": "Testa Fixturewoman moved away"});
    let (status, oo) = set_status(&app, &provider, &id, free).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{oo}");
    assert!(
        !oo.to_string().contains("Fixturewoman"),
        "input is never quoted"
    );
    let note = json!({"status": "accepted", "note": "anything"});
    let (status, _) = set_status(&app, &provider, &id, note).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Through to completed; then nothing more.
    for body in [
        json!({"status": "accepted"}),
        json!({"status": "completed", "outcome": "assessed-no-treatment"}),
    ] {
        let (status, reply) = set_status(&app, &provider, &id, body).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    // The same update again changes nothing and succeeds (a retried request).
    let again = json!({"status": "completed", "outcome": "assessed-no-treatment"});
    let (status, _) = set_status(&app, &provider, &id, again).await;
    assert_eq!(status, StatusCode::OK);
    for s in ["accepted", "booked"] {
        let (status, oo) = set_status(&app, &provider, &id, json!({"status": s})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{oo}");
        let text = oo["issue"][0]["diagnostics"].as_str().unwrap();
        assert!(text.contains(&format!("from completed to {s}")), "{text}");
    }
    let (status, oo) = app
        .put(
            &provider,
            &format!("/fhir/Task/{id}"),
            "application/fhir+json",
            task("in-progress", &id).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{oo}");
    let (_, view, _) = referrer_sees(&app, MSK, &id).await;
    assert_eq!(view["state"], "completed");
}

#[actix_web::test]
async fn another_provider_or_referrer_gets_404_and_referrers_cannot_set_status() {
    let app = spawn_app().await;
    let (id, provider) = app.acknowledged_referral(MSK, "not yours").await;
    let other = if provider == NORTH { WEST } else { NORTH };
    let (status, oo) = set_status(&app, other, &id, json!({"status": "accepted"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{oo}");
    assert_eq!(oo["resourceType"], "OperationOutcome");
    let (status, _) = app
        .put(
            other,
            &format!("/fhir/Task/{id}"),
            "application/fhir+json",
            task("accepted", &id).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown = refgate::domain::ReferralId::new().to_string();
    let (status, _) = set_status(&app, &provider, &unknown, json!({"status": "accepted"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for org in [other, GP] {
        let (status, _) = app.get(org, &format!("/fhir/Task/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{org}");
    }
    let (status, _) = set_status(&app, MSK, &id, json!({"status": "accepted"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, view, _) = referrer_sees(&app, MSK, &id).await;
    assert_eq!(view["state"], "acknowledged");
}

#[actix_web::test]
async fn the_referrer_is_emailed_when_the_provider_accepts_and_rejects() {
    const TO: &str = "msk.clinic@rcb.example.nhs.uk";
    let relay_dir = tempfile::tempdir().unwrap();
    let relay_pki = write_dev_pki(relay_dir.path(), &[]).unwrap();
    let sink = MailSink::start(&relay_pki).await;
    let mail = MailSettings {
        relay_host: "localhost".into(),
        relay_port: sink.port,
        from: "refgate@refgate.test".into(),
        ca: Some(relay_pki.ca.clone()),
        notify_status: true,
        max_attempts: 5,
    };
    let app = spawn_app_with(|s, _| {
        s.mail = Some(mail);
        let msk = OrgId::parse(MSK).unwrap();
        if let Some(o) = s.organisations.iter_mut().find(|o| o.id == msk) {
            o.notify_email = Some(TO.into());
        }
    })
    .await;
    let (id, provider) = app.acknowledged_referral(MSK, "emailed decisions").await;
    sink.wait_for(1, Duration::from_secs(20)).await; // "received by the provider"
    let (status, _) = set_status(&app, &provider, &id, json!({"status": "accepted"})).await;
    assert_eq!(status, StatusCode::OK);
    let got = sink.wait_for(2, Duration::from_secs(20)).await;
    let text = got[1].text();
    assert_eq!(got[1].to, vec![TO.to_owned()]);
    assert!(text.contains(&id) && text.contains("accepted"), "{text}");
    for needle in ["9990000018", "Fixturewoman", "Testa", "HG2 0DJ"] {
        assert!(!text.contains(needle), "{needle} in the notification");
    }

    let (id, provider) = app.acknowledged_referral(MSK, "emailed rejection").await;
    let body = json!({"status": "rejected", "reason": "needs-crisis-service"});
    let (status, _) = set_status(&app, &provider, &id, body).await;
    assert_eq!(status, StatusCode::OK);
    let got = sink.wait_for(4, Duration::from_secs(20)).await;
    let text = got
        .iter()
        .map(|m| m.text())
        .find(|t| t.contains(&id) && t.contains("not been accepted"))
        .expect("a rejection notification");
    assert!(
        text.contains("Reason: needs urgent or crisis care"),
        "the reason in words: {text}"
    );
}

#[actix_web::test]
async fn the_lifecycle_by_mesh_status_messages_is_seen_by_the_referrer() {
    use crate::mesh::{INTAKE, MSK_MB, NORTH_MB, WORKFLOW, mesh, send, spawn_mesh_app};
    use awc::http::Method;
    use refgate::intake::mesh::STATUS_WORKFLOW_ID;

    let app = spawn_mesh_app().await;
    // The clinic sends the referral by MESH too, so it can track it there.
    let referral = [
        ("mex-To", INTAKE),
        ("mex-WorkflowID", WORKFLOW),
        ("Content-Type", "application/json"),
    ];
    let body = flat_referral().to_string().into_bytes();
    let r = send(&app, MSK, MSK_MB, &referral, body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.body["message_id"].as_str().unwrap().to_owned();
    let r = mesh(&app, NORTH, NORTH_MB, Method::GET, &format!("/inbox/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let ack = format!("/inbox/{id}/status/acknowledged");
    let r = mesh(&app, NORTH, NORTH_MB, Method::PUT, &ack).await;
    assert_eq!(r.status, StatusCode::OK);

    let headers = [
        ("mex-To", INTAKE),
        ("mex-WorkflowID", STATUS_WORKFLOW_ID),
        ("Content-Type", "application/json"),
    ];
    let booked = task("in-progress", &id);
    let messages = [
        (json!({"referral_id": id, "status": "accepted"}), "accepted"),
        (booked, "booked"),
        (
            json!({"referral_id": id, "status": "completed", "outcome": "dropped-out"}),
            "completed",
        ),
    ];
    for (body, want) in messages {
        let r = send(
            &app,
            NORTH,
            NORTH_MB,
            &headers,
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        assert!(r.body["message_id"].is_string());
        let (state, _, _) = referrer_sees(&app, MSK, &id).await;
        assert_eq!(state, want);
    }
    let (_, view, task_now) = referrer_sees(&app, MSK, &id).await;
    assert_eq!(view["outcome"]["code"], "dropped-out");
    assert_eq!(task_now["status"], "completed");
    // The referrer's own MESH tracking says the same.
    let tracking = format!("/outbox/tracking?messageID={id}");
    let t = mesh(&app, MSK, MSK_MB, Method::GET, &tracking).await;
    assert_eq!(t.body["refgate_state"], "completed");

    // Refusals come back in MESH's error shape.
    let late = json!({"referral_id": id, "status": "booked"}).to_string();
    let r = send(&app, NORTH, NORTH_MB, &headers, late.into_bytes()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["detail"][0]["code"], "TRANSITION");
    let unknown = refgate::domain::ReferralId::new();
    let body = json!({"referral_id": unknown, "status": "accepted"}).to_string();
    let r = send(&app, NORTH, NORTH_MB, &headers, body.into_bytes()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let body = json!({"status": "accepted"}).to_string();
    let r = send(&app, NORTH, NORTH_MB, &headers, body.into_bytes()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Only providers send status messages.
    let body = json!({"referral_id": id, "status": "accepted"}).to_string();
    let r = send(&app, MSK, MSK_MB, &headers, body.into_bytes()).await;
    assert_eq!(r.status, StatusCode::EXPECTATION_FAILED, "{}", r.body);
    assert_eq!(r.body["detail"][0]["code"], "16");
}
