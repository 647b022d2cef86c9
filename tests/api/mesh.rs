//! The MESH-compatible mailbox API: handshake, inbox paging, download, acknowledge,
//! send and tracking, and the NHSMESH authorisation checks on top of mutual TLS.

use awc::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use refgate::config::MeshSettings;
use refgate::domain::{MailboxId, OrgId};
use ring::hmac;
use serde_json::Value;

use crate::helpers::*;

pub const SHARED: &str = "mesh-test-shared-secret";
pub const INTAKE: &str = "REFGATE";
pub const WORKFLOW: &str = "TALKING_THERAPIES_REFERRAL";
pub const MSK_MB: &str = "RCB55MB1";
pub const NORTH_MB: &str = "TTNORTHMB1";

fn password(org: &str) -> String {
    format!("{org}-password")
}

/// A gateway with MESH on: mailboxes for the clinic and the default provider.
pub async fn spawn_mesh_app() -> TestApp {
    spawn_app_with(|s, dir| {
        let key = dir.join("mesh-shared.key");
        std::fs::write(&key, format!("{SHARED}\n")).unwrap();
        s.mesh = Some(MeshSettings {
            enabled: true,
            shared_key_file: key,
            max_clock_skew_minutes: 120,
            intake_mailbox: MailboxId::parse(INTAKE).unwrap(),
            workflow_id: WORKFLOW.into(),
        });
        for (org, mailbox) in [(MSK, MSK_MB), (NORTH, NORTH_MB)] {
            let file = dir.join(format!("{org}.password"));
            std::fs::write(&file, password(org)).unwrap();
            let o = s
                .organisations
                .iter_mut()
                .find(|o| o.id == OrgId::parse(org).unwrap())
                .unwrap();
            o.mesh_mailbox = Some(MailboxId::parse(mailbox).unwrap());
            o.mesh_password_file = Some(file);
        }
    })
    .await
}

/// An NHSMESH header as mesh-client makes it.
fn token_at(
    mailbox: &str,
    password: &str,
    nonce: &str,
    count: u64,
    at: chrono::DateTime<Utc>,
) -> String {
    let ts = at.format("%Y%m%d%H%M").to_string();
    let key = hmac::Key::new(hmac::HMAC_SHA256, SHARED.as_bytes());
    let msg = format!("{mailbox}:{nonce}:{count}:{password}:{ts}");
    let hash = hex::encode(hmac::sign(&key, msg.as_bytes()).as_ref());
    format!("NHSMESH {mailbox}:{nonce}:{count}:{ts}:{hash}")
}

/// A fresh, valid token for `org`'s mailbox.
fn token(org: &str, mailbox: &str) -> String {
    let nonce = uuid::Uuid::new_v4().to_string();
    token_at(mailbox, &password(org), &nonce, 0, Utc::now())
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A MESH call by `org`'s certificate with the given Authorization header.
async fn call(
    app: &TestApp,
    org: &str,
    method: Method,
    path: &str,
    auth: Option<String>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let mut req = app
        .client(org)
        .request(method, app.url(path))
        .insert_header(("Accept", "application/vnd.mesh.v2+json"));
    if let Some(a) = auth {
        req = req.insert_header(("Authorization", a));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut resp = req
        .send_body(body)
        .await
        .expect("request reaches the gateway");
    let bytes = resp.body().limit(16 * 1024 * 1024).await.unwrap();
    Reply {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A MESH call by `org` for its own mailbox with a fresh token.
pub async fn mesh(app: &TestApp, org: &str, mailbox: &str, method: Method, rest: &str) -> Reply {
    let path = format!("/messageexchange/{mailbox}{rest}");
    call(
        app,
        org,
        method,
        &path,
        Some(token(org, mailbox)),
        &[],
        vec![],
    )
    .await
}

async fn submit(app: &TestApp, service: &str) -> String {
    let mut r = flat_referral();
    r["requested_service"] = service.into();
    let (status, body) = app
        .post_referral(MSK, "application/json", r.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn inbox(app: &TestApp, rest: &str) -> Value {
    let r = mesh(app, NORTH, NORTH_MB, Method::GET, &format!("/inbox{rest}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

#[actix_web::test]
async fn ping_needs_no_token_and_the_handshake_checks_one() {
    let app = spawn_mesh_app().await;
    let r = call(
        &app,
        NORTH,
        Method::GET,
        "/messageexchange/_ping",
        None,
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["ping"], true);
    let r = mesh(&app, NORTH, NORTH_MB, Method::POST, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["mailbox_id"], NORTH_MB);
    // Mailbox ids are case-insensitive, as in MESH.
    let r = mesh(&app, NORTH, "ttnorthmb1", Method::GET, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[actix_web::test]
async fn a_provider_lists_downloads_and_acknowledges_by_mesh() {
    let app = spawn_mesh_app().await;
    let id = submit(&app, "Telephone CBT").await;

    let list = inbox(&app, "").await;
    assert_eq!(list["messages"], serde_json::json!([id]));
    assert_eq!(list["approx_inbox_count"], 1);
    assert_eq!(
        list["links"]["self"],
        format!("/messageexchange/{NORTH_MB}/inbox")
    );
    assert!(list["links"].get("next").is_none());

    let ack_path = format!("/inbox/{id}/status/acknowledged");
    let early = mesh(&app, NORTH, NORTH_MB, Method::PUT, &ack_path).await;
    assert_eq!(
        early.status,
        StatusCode::NOT_FOUND,
        "acknowledge before download"
    );
    assert!(
        early.body["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("downloaded")
    );

    let head = mesh(&app, NORTH, NORTH_MB, Method::HEAD, &format!("/inbox/{id}")).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("mex-MessageID"), id);

    let r = mesh(&app, NORTH, NORTH_MB, Method::GET, &format!("/inbox/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["resourceType"], "Bundle");
    assert_eq!(r.body["type"], "message");
    assert_eq!(
        r.body["entry"][0]["resource"]["resourceType"],
        "MessageHeader"
    );
    for (name, want) in [
        ("mex-MessageID", id.as_str()),
        ("mex-From", MSK_MB),
        ("mex-To", NORTH_MB),
        ("mex-WorkflowID", WORKFLOW),
        ("mex-Content-Type", "application/fhir+json"),
        ("mex-Chunk-Range", "1:1"),
        ("mex-MessageType", "DATA"),
    ] {
        assert_eq!(r.header(name), want, "{name}");
        assert_eq!(head.header(name), want, "HEAD {name}");
    }
    // No patient data in the headers: only ids, mailboxes and constants.
    let all: String = r
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v:?}\n"))
        .collect();
    for identifier in ["9990000018", "Fixturewoman", "HG2 0DJ", "07700900123"] {
        assert!(!all.contains(identifier), "{identifier} in headers");
    }

    let ack = mesh(
        &app,
        NORTH,
        NORTH_MB,
        Method::PUT,
        &format!("/inbox/{id}/status/acknowledged"),
    )
    .await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.body);
    assert_eq!(inbox(&app, "").await["messages"], serde_json::json!([]));
    // Acknowledging again (a client retrying after a lost response) still succeeds.
    let again = mesh(&app, NORTH, NORTH_MB, Method::PUT, &ack_path).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    // Another provider cannot acknowledge it.
    let other = mesh(&app, MSK, MSK_MB, Method::PUT, &ack_path).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let again = mesh(&app, NORTH, NORTH_MB, Method::GET, &format!("/inbox/{id}")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let (_, view) = app.get(MSK, &format!("/referrals/{id}")).await;
    assert_eq!(view["state"], "acknowledged", "{view}");
}

#[actix_web::test]
async fn the_inbox_pages_with_links_next() {
    let app = spawn_mesh_app().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(submit(&app, &format!("Telephone CBT {i}")).await);
    }
    let first = inbox(&app, "?max_results=2").await;
    assert_eq!(first["messages"].as_array().unwrap().len(), 2);
    assert_eq!(first["approx_inbox_count"], 3);
    let next = first["links"]["next"].as_str().unwrap().to_owned();
    assert!(
        next.starts_with(&format!("/messageexchange/{NORTH_MB}/inbox?")),
        "{next}"
    );
    let rest = next.split_once("/inbox").unwrap().1;
    let second = inbox(&app, rest).await;
    assert_eq!(second["messages"].as_array().unwrap().len(), 1);
    assert!(second["links"].get("next").is_none());
    let mut seen: Vec<String> = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["messages"].as_array().unwrap())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    let filtered = inbox(&app, "?workflow_filter=OTHER_WORKFLOW").await;
    assert_eq!(filtered["messages"], serde_json::json!([]));
}

pub async fn send(
    app: &TestApp,
    org: &str,
    mailbox: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let path = format!("/messageexchange/{mailbox}/outbox");
    call(
        app,
        org,
        Method::POST,
        &path,
        Some(token(org, mailbox)),
        headers,
        body,
    )
    .await
}

#[actix_web::test]
async fn a_referral_sent_by_mesh_reaches_the_provider_and_is_tracked() {
    let app = spawn_mesh_app().await;
    let headers = [
        ("mex-To", INTAKE),
        ("mex-WorkflowID", WORKFLOW),
        ("mex-Chunk-Range", "1:1"),
        ("Content-Type", "application/json"),
    ];
    let r = send(
        &app,
        MSK,
        MSK_MB,
        &headers,
        flat_referral().to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.body["message_id"].as_str().unwrap().to_owned();

    assert_eq!(inbox(&app, "").await["messages"], serde_json::json!([id]));
    let tracked = mesh(
        &app,
        MSK,
        MSK_MB,
        Method::GET,
        &format!("/outbox/tracking?messageID={id}"),
    )
    .await;
    assert_eq!(tracked.status, StatusCode::OK, "{}", tracked.body);
    assert_eq!(tracked.body["message_id"], id.as_str());
    assert_eq!(tracked.body["status"], "accepted");
    assert_eq!(tracked.body["recipient"], NORTH_MB);
    assert_eq!(tracked.body["workflow_id"], WORKFLOW);

    let r = mesh(&app, NORTH, NORTH_MB, Method::GET, &format!("/inbox/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("mex-From"), MSK_MB);
    let ack = mesh(
        &app,
        NORTH,
        NORTH_MB,
        Method::PUT,
        &format!("/inbox/{id}/status/acknowledged"),
    )
    .await;
    assert_eq!(ack.status, StatusCode::OK);
    let tracked = mesh(
        &app,
        MSK,
        MSK_MB,
        Method::GET,
        &format!("/outbox/tracking?messageID={id}"),
    )
    .await;
    assert_eq!(tracked.body["status"], "acknowledged");
    assert_eq!(tracked.body["refgate_state"], "acknowledged");

    // Nothing about the patient reached the logs on the way.
    let logs = captured_logs();
    for identifier in ["9990000018", "Fixturewoman", "HG2 0DJ", "07700900123"] {
        assert!(!logs.contains(identifier), "{identifier} in the logs");
    }

    // Any format the gateway reads, e.g. a clinic letter labelled only as a file (mesh-client's
    // default media type).
    let as_file = [
        ("mex-To", INTAKE),
        ("mex-WorkflowID", WORKFLOW),
        ("Content-Type", "application/octet-stream"),
    ];
    let r = send(&app, MSK, MSK_MB, &as_file, fixture("letters/F01.txt")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let tracked = mesh(
        &app,
        MSK,
        MSK_MB,
        Method::GET,
        &format!(
            "/outbox/tracking?messageID={}",
            r.body["message_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(tracked.status, StatusCode::OK, "{}", tracked.body);

    // Only the sender tracks its message.
    let other = mesh(
        &app,
        NORTH,
        NORTH_MB,
        Method::GET,
        &format!("/outbox/tracking?messageID={id}"),
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn sends_mesh_refuses_come_back_in_the_mesh_error_shape() {
    let app = spawn_mesh_app().await;
    let body = || flat_referral().to_string().into_bytes();
    let json = ("Content-Type", "application/json");
    let to_provider = [("mex-To", NORTH_MB), ("mex-WorkflowID", WORKFLOW), json];
    let r = send(&app, MSK, MSK_MB, &to_provider, body()).await;
    assert_eq!(r.status, StatusCode::EXPECTATION_FAILED, "{}", r.body);
    assert_eq!(r.body["detail"][0]["code"], "12");

    let to_intake = [("mex-To", INTAKE), ("mex-WorkflowID", WORKFLOW), json];
    let mut bad = flat_referral();
    bad["patient"]["nhs_number"] = "1234567890".into();
    bad["referrer"] = Value::Null;
    let r = send(&app, MSK, MSK_MB, &to_intake, bad.to_string().into_bytes()).await;
    assert!(r.status.is_client_error(), "{}: {}", r.status, r.body);
    assert!(
        r.body["detail"].as_array().is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
    assert!(
        !r.body.to_string().contains("1234567890"),
        "no input values in errors"
    );

    let r = send(
        &app,
        MSK,
        MSK_MB,
        &to_intake,
        b"not a referral at all".to_vec(),
    )
    .await;
    assert!(r.status.is_client_error(), "{}: {}", r.status, r.body);
    assert!(r.body["detail"].is_array());

    // Compressed sends (Content-Encoding: gzip, the only one MESH allows) are read.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut other = flat_referral();
    other["requested_service"] = "Guided self-help".into();
    std::io::Write::write_all(&mut gz, other.to_string().as_bytes()).unwrap();
    let zipped = gz.finish().unwrap();
    let gzip = [
        ("mex-To", INTAKE),
        ("mex-WorkflowID", WORKFLOW),
        json,
        ("Content-Encoding", "gzip"),
    ];
    let r = send(&app, MSK, MSK_MB, &gzip, zipped.clone()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let brotli = [
        ("mex-To", INTAKE),
        ("mex-WorkflowID", WORKFLOW),
        json,
        ("Content-Encoding", "br"),
    ];
    let r = send(&app, MSK, MSK_MB, &brotli, zipped).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A provider does not send referrals.
    let r = send(&app, NORTH, NORTH_MB, &to_intake, body()).await;
    assert_eq!(r.status, StatusCode::EXPECTATION_FAILED);
    assert_eq!(r.body["detail"][0]["code"], "16");
}

#[actix_web::test]
async fn every_authorisation_failure_is_403() {
    let app = spawn_mesh_app().await;
    let hs = format!("/messageexchange/{NORTH_MB}");
    let nonce = || uuid::Uuid::new_v4().to_string();
    let north_pw = password(NORTH);
    let cases: Vec<(&str, &str, String, Option<String>)> = vec![
        (
            "bad hmac",
            NORTH,
            hs.clone(),
            Some(token_at(NORTH_MB, "wrong", &nonce(), 0, Utc::now())),
        ),
        (
            "stale timestamp",
            NORTH,
            hs.clone(),
            Some(token_at(
                NORTH_MB,
                &north_pw,
                &nonce(),
                0,
                Utc::now() - Duration::minutes(150),
            )),
        ),
        (
            "future timestamp",
            NORTH,
            hs.clone(),
            Some(token_at(
                NORTH_MB,
                &north_pw,
                &nonce(),
                0,
                Utc::now() + Duration::minutes(150),
            )),
        ),
        (
            "token for another mailbox",
            NORTH,
            hs.clone(),
            Some(token(MSK, MSK_MB)),
        ),
        (
            "path mailbox not the caller's",
            MSK,
            hs.clone(),
            Some(token(MSK, MSK_MB)),
        ),
        (
            "other organisation's certificate with this mailbox",
            MSK,
            hs.clone(),
            Some(token(NORTH, NORTH_MB)),
        ),
        (
            "unknown mailbox",
            NORTH,
            "/messageexchange/NOSUCHMB".into(),
            Some(token_at("NOSUCHMB", &north_pw, &nonce(), 0, Utc::now())),
        ),
        ("no token", NORTH, hs.clone(), None),
        (
            "malformed token",
            NORTH,
            hs.clone(),
            Some("NHSMESH garbage".into()),
        ),
    ];
    for (what, org, path, auth) in cases {
        let r = call(&app, org, Method::POST, &path, auth, &[], vec![]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.body);
    }
    // A certificate-less caller with a valid token is refused as well.
    let anon = app
        .anonymous()
        .post(app.url(&hs))
        .insert_header(("Authorization", token(NORTH, NORTH_MB)))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::FORBIDDEN);
    // Another organisation's certificate cannot read this mailbox's inbox either.
    let r = call(
        &app,
        MSK,
        Method::GET,
        &format!("{hs}/inbox"),
        Some(token(NORTH, NORTH_MB)),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_replayed_token_is_refused_even_after_a_restart() {
    let app = spawn_mesh_app().await;
    let hs = format!("/messageexchange/{NORTH_MB}");
    let t = token(NORTH, NORTH_MB);
    let first = call(&app, NORTH, Method::POST, &hs, Some(t.clone()), &[], vec![]).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = call(&app, NORTH, Method::POST, &hs, Some(t.clone()), &[], vec![]).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "replayed nonce");
    // mesh-client keeps its nonce and counts up: the next count is a new token.
    let nonce = t.split(':').nth(1).unwrap().to_owned();
    let next = token_at(NORTH_MB, &password(NORTH), &nonce, 1, Utc::now());
    let r = call(&app, NORTH, Method::POST, &hs, Some(next), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::OK);

    let app = app.restart().await;
    let after = call(&app, NORTH, Method::POST, &hs, Some(t), &[], vec![]).await;
    assert_eq!(
        after.status,
        StatusCode::FORBIDDEN,
        "replayed after restart"
    );
}

#[actix_web::test]
async fn unknown_messages_are_404() {
    let app = spawn_mesh_app().await;
    let unknown = uuid::Uuid::new_v4();
    for rest in [
        format!("/inbox/{unknown}"),
        "/inbox/not-a-message-id".into(),
    ] {
        let r = mesh(&app, NORTH, NORTH_MB, Method::GET, &rest).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{rest}");
    }
    let r = mesh(
        &app,
        NORTH,
        NORTH_MB,
        Method::PUT,
        &format!("/inbox/{unknown}/status/acknowledged"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = mesh(
        &app,
        MSK,
        MSK_MB,
        Method::GET,
        &format!("/outbox/tracking?messageID={unknown}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_store_remembers_each_token_until_its_window_closes() {
    use refgate::store::{MeshTokenUse, Store, sqlite::SqliteStore};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
    let t0 = Utc::now();
    let window = Duration::minutes(120);
    let token = |nonce: &str, count, now| MeshTokenUse {
        mailbox: MailboxId::parse(NORTH_MB).unwrap(),
        nonce: nonce.into(),
        nonce_count: count,
        expires_at: t0 + window,
        now,
    };
    assert!(store.use_mesh_token(token("n1", 0, t0)).await.unwrap());
    assert!(!store.use_mesh_token(token("n1", 0, t0)).await.unwrap());
    assert!(store.use_mesh_token(token("n1", 1, t0)).await.unwrap());
    // After the window a token is refused as stale before the store is asked, so its
    // record is no longer needed: the next use prunes it.
    let later = t0 + window + Duration::minutes(1);
    assert!(store.use_mesh_token(token("n2", 0, later)).await.unwrap());
    assert!(store.use_mesh_token(token("n1", 0, later)).await.unwrap());
    store.close().await;
}
