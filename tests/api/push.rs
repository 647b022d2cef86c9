//! Push delivery to a real provider endpoint on loopback: an actix-web server with
//! rustls that requires the gateway's client certificate, records every message it
//! receives, and can be told to answer 500 or 400, to be slow, or not to listen at all.

use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use awc::http::StatusCode;
use base64::Engine as _;
use refgate::config::{Delivery, MailSettings, PushSettings, Settings};
use refgate::init::PkiPaths;
use refgate::tls::{CertFingerprint, PeerCert};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::mail_sink::MailSink;

const WAIT: Duration = Duration::from_secs(20);

/// How the provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 200 with an informational OperationOutcome: taken, not yet processed.
    Accept,
    /// 200 with a FHIR response message, code `ok`, answering the request's header.
    Processed,
    /// This status, with an OperationOutcome.
    Fail(u16),
    /// Waits this long, then accepts.
    Slow(Duration),
}

/// One request as the provider received it.
#[derive(Debug, Clone)]
struct Received {
    bundle: Value,
    request_id: Option<String>,
    content_type: Option<String>,
    peer: Option<CertFingerprint>,
}

#[derive(Debug)]
struct Shared {
    mode: Mode,
    received: Vec<Received>,
}

/// The provider's `$process-message` endpoint.
struct Provider {
    shared: Arc<Mutex<Shared>>,
    handle: Option<ServerHandle>,
}

impl Provider {
    fn url(port: u16) -> String {
        format!("https://127.0.0.1:{port}/fhir/$process-message")
    }

    /// Serves on `listener` with the test PKI's server certificate; only clients with
    /// a certificate from the test CA complete the handshake.
    fn start(pki: &PkiPaths, listener: TcpListener, mode: Mode) -> Provider {
        let shared = Arc::new(Mutex::new(Shared {
            mode,
            received: Vec::new(),
        }));
        let mut provider = Provider {
            shared,
            handle: None,
        };
        provider.serve(pki, listener);
        provider
    }

    fn serve(&mut self, pki: &PkiPaths, listener: TcpListener) {
        refgate::tls::install_crypto_provider();
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&pki.ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let certs = CertificateDer::pem_file_iter(&pki.server_cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(&pki.server_key).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .unwrap();
        let data = web::Data::new(self.shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .route("/fhir/$process-message", web::post().to(process_message))
        })
        .on_connect(refgate::tls::on_connect)
        // Idle connections are closed soon, so tests see the gateway find a kept
        // connection closed and send on a new one.
        .keep_alive(Duration::from_millis(150))
        .workers(1)
        .shutdown_timeout(1)
        .listen_rustls_0_23(listener, config)
        .unwrap()
        .run();
        self.handle = Some(server.handle());
        actix_web::rt::spawn(server);
    }

    /// Stops listening (connections are then refused).
    async fn down(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop(false).await;
        }
    }

    fn set_mode(&self, mode: Mode) {
        self.shared.lock().unwrap().mode = mode;
    }

    fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }
}

async fn process_message(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Mutex<Shared>>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let bundle: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mode = {
        let mut s = shared.lock().unwrap();
        s.received.push(Received {
            bundle: bundle.clone(),
            request_id: header("x-request-id"),
            content_type: header("content-type"),
            peer: req.conn_data::<PeerCert>().and_then(|p| p.0),
        });
        s.mode
    };
    let outcome = |code: &str| json!({"resourceType": "OperationOutcome", "issue": [{"severity": "information", "code": code}]});
    match mode {
        Mode::Accept => HttpResponse::Ok().json(outcome("informational")),
        Mode::Slow(d) => {
            actix_web::rt::time::sleep(d).await;
            HttpResponse::Ok().json(outcome("informational"))
        }
        Mode::Fail(status) => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap()).json(outcome("exception"))
        }
        Mode::Processed => {
            let request_header = bundle["entry"][0]["resource"]["id"].clone();
            HttpResponse::Ok().json(json!({
                "resourceType": "Bundle", "type": "message", "entry": [{"resource": {
                    "resourceType": "MessageHeader",
                    "eventCoding": {"system": "https://fhir.nhs.uk/CodeSystem/message-events-bars", "code": "servicerequest-response"},
                    "source": {"endpoint": "https://provider.example"},
                    "response": {"identifier": request_header, "code": "ok"}}}]}))
        }
    }
}

/// Push settings for the test gateway: short retries, a few attempts.
fn push_to(settings: &mut Settings, dir: &Path, port: u16, max_attempts: u32) {
    let certs = dir.join("certs");
    settings.push = Some(PushSettings {
        client_cert: certs.join("gateway.pem"),
        client_key: certs.join("gateway-key.pem"),
        ca: certs.join("ca.pem"),
        max_attempts,
        timeout_secs: 10,
        first_retry_ms: 50,
        max_retry_secs: 1,
        poll_interval_ms: 50,
        concurrency: 4,
    });
    // Every referral goes to the push provider.
    settings.routing.routes.clear();
    for org in &mut settings.organisations {
        if org.id.as_str() == NORTH {
            org.delivery = Delivery::Push;
            org.push_url = Some(Provider::url(port));
        }
    }
}

fn reserve_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

async fn refer(app: &TestApp) -> (String, Vec<u8>) {
    let letter = fixture("letters/F01.txt");
    let (status, body) = app.post_referral(MSK, "text/plain", letter.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["provider"], NORTH, "{body}");
    (body["id"].as_str().unwrap().to_owned(), letter)
}

/// Polls the referrer's view until the referral reaches `want`.
async fn wait_state(app: &TestApp, id: &str, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, view) = app.get(MSK, &format!("/referrals/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        if view["state"] == want {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} waiting for {want}",
            view["state"]
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn wait_received(provider: &Provider, n: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = provider.received();
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} received",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn metrics(app: &TestApp) -> String {
    let mut resp = app
        .anonymous()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap();
    String::from_utf8(resp.body().await.unwrap().to_vec()).unwrap()
}

/// Every request carried the referral's message id, as Bundle.id and X-Request-ID,
/// and came from the gateway's certificate.
fn all_same_message(received: &[Received], id: &str, pki: &PkiPaths) {
    let gateway = refgate::tls::fingerprint_of_pem_file(&pki.gateway.0).unwrap();
    for r in received {
        assert_eq!(r.bundle["id"], id);
        assert_eq!(r.request_id.as_deref(), Some(id));
        assert_eq!(r.peer, Some(gateway));
    }
    let headers: Vec<_> = received
        .iter()
        .map(|r| r.bundle["entry"][0]["resource"]["id"].clone())
        .collect();
    assert!(headers.windows(2).all(|w| w[0] == w[1]), "{headers:?}");
}

#[actix_web::test]
async fn a_referral_is_pushed_once_with_its_original_document() {
    let listener = reserve_port();
    let port = listener.local_addr().unwrap().port();
    let app = spawn_app_with(|s, dir| push_to(s, dir, port, 3)).await;
    let provider = Provider::start(&app.pki, listener, Mode::Accept);
    let (id, letter) = refer(&app).await;

    let view = wait_state(&app, &id, "delivered").await;
    let received = wait_received(&provider, 1).await;
    assert_eq!(received.len(), 1, "pushed once");
    all_same_message(&received, &id, &app.pki);
    let r = &received[0];
    assert!(
        r.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/fhir+json")),
        "{:?}",
        r.content_type
    );
    let bundle = &r.bundle;
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "message");
    assert_eq!(
        bundle["entry"][0]["resource"]["resourceType"],
        "MessageHeader"
    );
    let entries = bundle["entry"].as_array().unwrap();
    let patient = entries
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Patient")
        .expect("a Patient");
    assert_eq!(patient["resource"]["identifier"][0]["value"], "9990702314");
    let original = entries
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "DocumentReference")
        .map(|e| &e["resource"]["content"][0]["attachment"]["data"])
        .any(|d| d.as_str() == Some(&base64::engine::general_purpose::STANDARD.encode(&letter)));
    assert!(original, "the original letter travels with the message");
    let history: Vec<_> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(history.last().map(String::as_str), Some("delivered"));

    // Nothing more is sent for a delivered referral.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(provider.received().len(), 1);

    // The next goes on a new connection: the provider closed the kept one meanwhile.
    let (status, body) = app
        .post_referral(MSK, "application/json", flat_referral().to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let second = body["id"].as_str().unwrap().to_owned();
    wait_state(&app, &second, "delivered").await;
    let received = provider.received();
    assert_eq!(received.len(), 2, "each sent once");
    all_same_message(&received[1..], &second, &app.pki);
    let m = metrics(&app).await;
    assert!(
        m.contains("refgate_push_attempts_total{provider=\"TTNORTH\",outcome=\"delivered\"} 2"),
        "{m}"
    );
    assert!(!m.contains("outcome=\"retry\""), "no attempt failed: {m}");
}

#[actix_web::test]
async fn a_response_message_with_code_ok_acknowledges_the_referral_and_tells_the_referrer() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay_pki = refgate::init::write_dev_pki(relay_dir.path(), &[]).unwrap();
    let sink = MailSink::start(&relay_pki).await;
    let listener = reserve_port();
    let port = listener.local_addr().unwrap().port();
    let app = spawn_app_with(|s, dir| {
        push_to(s, dir, port, 3);
        s.mail = Some(MailSettings {
            relay_host: "localhost".into(),
            relay_port: sink.port,
            from: "refgate@refgate.test".into(),
            ca: Some(relay_pki.ca.clone()),
            notify_status: true,
            max_attempts: 3,
        });
        for org in &mut s.organisations {
            if org.id.as_str() == MSK {
                org.notify_email = Some("msk.secretary@rcb.example.nhs.uk".into());
            }
        }
    })
    .await;
    let provider = Provider::start(&app.pki, listener, Mode::Processed);
    let (id, _) = refer(&app).await;
    let view = wait_state(&app, &id, "acknowledged").await;
    assert_eq!(provider.received().len(), 1);
    let states: Vec<_> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        states.ends_with(&["delivered".to_owned(), "acknowledged".to_owned()]),
        "{states:?}"
    );
    let got = sink.wait_for(1, WAIT).await;
    assert!(
        got[0].text().contains(&id),
        "the notification names the referral"
    );
    assert!(
        !got[0].text().contains("9990702314"),
        "no NHS number in email"
    );
}

#[actix_web::test]
async fn a_provider_that_is_down_gets_the_referral_once_it_is_back() {
    let listener = reserve_port();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let app = spawn_app_with(|s, dir| push_to(s, dir, port, 50)).await;
    let (id, _) = refer(&app).await;

    // Connections are refused: the gateway retries.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !metrics(&app)
        .await
        .contains("refgate_push_attempts_total{provider=\"TTNORTH\",outcome=\"retry\"}")
    {
        assert!(tokio::time::Instant::now() < deadline, "no retry seen");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, view) = app.get(MSK, &format!("/referrals/{id}")).await;
    assert_eq!(view["state"], "ready");

    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let provider = Provider::start(&app.pki, listener, Mode::Accept);
    wait_state(&app, &id, "delivered").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = provider.received();
    assert_eq!(received.len(), 1, "delivered once");
    all_same_message(&received, &id, &app.pki);
}

#[actix_web::test]
async fn a_provider_failing_for_good_dead_letters_and_an_operator_redrives() {
    let listener = reserve_port();
    let port = listener.local_addr().unwrap().port();
    let app = spawn_app_with(|s, dir| push_to(s, dir, port, 3)).await;
    let mut provider = Provider::start(&app.pki, listener, Mode::Fail(500));
    let (id, _) = refer(&app).await;

    wait_state(&app, &id, "dead-letter").await;
    assert_eq!(provider.received().len(), 3, "max_attempts");
    let m = metrics(&app).await;
    assert!(
        m.contains(
            "refgate_operational_events_total{event=\"push_dead_letter\",reason=\"http-5xx\"} 1"
        ),
        "{m}"
    );
    let (status, listed) = app.get(OPS, "/dead-letter").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let entry = &listed["referrals"][0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["reason"], "push-attempts-exhausted");
    assert_eq!(entry["attempts"], 3);
    assert_eq!(entry["last_error"], "http-5xx");
    assert_eq!(entry["last_status"], 500);

    // Only operators may look or re-drive.
    let (status, _) = app.get(NORTH, "/dead-letter").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let path = format!("/dead-letter/{id}/redrive");
    let (status, _) = app.post(NORTH, &path, "application/json", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    provider.set_mode(Mode::Accept);
    let (status, body) = app.post(OPS, &path, "application/json", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "ready");
    wait_state(&app, &id, "delivered").await;
    let received = provider.received();
    assert_eq!(received.len(), 4);
    all_same_message(&received, &id, &app.pki);
    // Re-driving what is not a dead letter is a conflict.
    let (status, _) = app.post(OPS, &path, "application/json", "").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, listed) = app.get(OPS, "/dead-letter").await;
    assert_eq!(listed["count"], 0);

    let audit = refgate_audit_actions(&app, &id).await;
    for action in ["push-given-up", "redrive", "push-delivery"] {
        assert!(audit.iter().any(|a| a == action), "{action}: {audit:?}");
    }
    provider.down().await;
}

#[actix_web::test]
async fn a_provider_refusing_the_message_dead_letters_it_at_once() {
    let listener = reserve_port();
    let port = listener.local_addr().unwrap().port();
    let app = spawn_app_with(|s, dir| push_to(s, dir, port, 5)).await;
    let provider = Provider::start(&app.pki, listener, Mode::Fail(400));
    let (id, _) = refer(&app).await;
    let view = wait_state(&app, &id, "dead-letter").await;
    assert_eq!(provider.received().len(), 1, "not retried");
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reason"], "push-refused-400", "{last}");
    let (_, listed) = app.get(OPS, "/dead-letter").await;
    assert_eq!(listed["referrals"][0]["last_error"], "rejected");
}

#[actix_web::test]
async fn a_gateway_stopped_mid_delivery_delivers_after_restart_with_the_same_message_id() {
    let listener = reserve_port();
    let port = listener.local_addr().unwrap().port();
    let app = spawn_app_with(|s, dir| push_to(s, dir, port, 5)).await;
    let provider = Provider::start(&app.pki, listener, Mode::Slow(Duration::from_secs(5)));
    let (id, _) = refer(&app).await;

    // The provider has the request and is still working on it when the gateway stops.
    wait_received(&provider, 1).await;
    let mut app = app;
    app.stop().await;
    provider.set_mode(Mode::Accept);
    let app = app.restart().await;

    wait_state(&app, &id, "delivered").await;
    // The abandoned attempt and the one after the restart: a duplicate, by id.
    let received = provider.received();
    assert_eq!(received.len(), 2);
    all_same_message(&received, &id, &app.pki);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        provider.received().len(),
        received.len(),
        "nothing after delivery"
    );
}

/// The audit actions recorded for one referral (read-only, beside the running gateway).
async fn refgate_audit_actions(app: &TestApp, id: &str) -> Vec<String> {
    use sqlx::Connection as _;
    let url = format!("sqlite://{}?mode=ro", app.db_path().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query_scalar("SELECT action FROM audit_events WHERE referral_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(&mut conn)
        .await
        .unwrap()
}
