//! The audit chain: `refgate audit verify` passes on a clean log and finds an altered event.

use std::process::Command;

use awc::http::StatusCode;
use sqlx::Connection;

use crate::helpers::*;

fn verify(app: &TestApp) -> (i32, String) {
    let config = app.dir.path().join("refgate.toml");
    std::fs::write(&config, toml_for(app)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_refgate"))
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The test's settings as a TOML file, for the CLI.
fn toml_for(app: &TestApp) -> String {
    let s = &app.settings;
    let mut out = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\n[store]\npath = {:?}\n[keys]\ndata_key = {:?}\n[routing]\ndefault_provider = \"{NORTH}\"\n",
        s.tls.cert, s.tls.key, s.tls.client_ca, s.store.path, s.keys.data_key
    );
    for o in &s.organisations {
        let role = format!("{:?}", o.role).to_lowercase();
        out.push_str(&format!("[[organisations]]\nid = \"{}\"\nname = \"{}\"\nrole = \"{role}\"\nclient_cert = {:?}\n", o.id, o.name, o.client_cert));
    }
    out
}

#[actix_web::test]
async fn every_step_is_audited_and_the_chain_verifies() {
    let mut app = spawn_app().await;
    let (_, body) = app
        .post_referral(MSK, "application/json", fixture("json/FJ03.json"))
        .await;
    let id = body["id"].as_str().unwrap().to_owned();
    app.post_referral(MSK, "application/fhir+json", fixture("json/FJ04.json"))
        .await;
    app.get(NORTH, &format!("/inbox/{id}")).await;
    let (status, _) = app.acknowledge(NORTH, &id).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;

    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", app.db_path().display()))
            .await
            .unwrap();
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_events ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        actions,
        [
            "intake",
            "routed",
            "validation-failed",
            "download",
            "acknowledge"
        ]
    );
    let details: Vec<Option<String>> = sqlx::query_scalar("SELECT detail FROM audit_events")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let all = format!("{details:?}");
    assert!(
        !all.contains("Odell") && !all.contains("9999211321"),
        "{all}"
    );
    conn.close().await.unwrap();

    let (code, out) = verify(&app);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("5 events"), "{out}");
}

#[actix_web::test]
async fn an_altered_event_is_found_by_audit_verify() {
    let mut app = spawn_app().await;
    app.post_referral(MSK, "application/json", fixture("json/FJ03.json"))
        .await;
    app.post_referral(GP, "application/json", fixture("json/FJ03.json"))
        .await;
    app.stop().await;

    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", app.db_path().display()))
            .await
            .unwrap();
    // The log refuses updates; an attacker with the file drops the guard first.
    let refused = sqlx::query("UPDATE audit_events SET actor = 'B82005' WHERE seq = 2")
        .execute(&mut conn)
        .await;
    assert!(
        refused.is_err(),
        "audit events cannot be updated through SQL"
    );
    sqlx::query("DROP TRIGGER audit_events_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET actor = 'B82005' WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let (code, out) = verify(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("broken at event 2"), "{out}");
}
