//! `spawn_app()`: a gateway of its own for each test.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::dev::ServerHandle;
use awc::http::StatusCode;
use refgate::app::App;
use refgate::clock::Clock;
use refgate::config::{
    Delivery, KeySettings, LogSettings, Organisation, Role, Route, RoutingSettings, ServerSettings,
    Settings, StoreSettings, TlsSettings,
};
use refgate::domain::OrgId;
use refgate::init::{PkiPaths, write_dev_pki};
use serde_json::Value;
use tempfile::TempDir;

pub const MSK: &str = "RCB55";
pub const GP: &str = "B82005";
pub const NORTH: &str = "TTNORTH";
pub const WEST: &str = "TTWEST";
pub const OPS: &str = "OPS";

/// Every log line the gateway writes during the test run, for the no-patient-data test.
pub fn captured_logs() -> String {
    let buf = log_buffer().lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&buf).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

struct BufWriter;
impl std::io::Write for BufWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = log_buffer().lock() {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logging() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,refgate=trace")
            .with_writer(|| BufWriter)
            .json()
            .try_init();
    });
}

/// A running gateway and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    /// The inbound SMTP port, when the test configured `[smtp]`.
    pub smtp_port: Option<u16>,
    pub settings: Settings,
    pub pki: PkiPaths,
    pub dir: TempDir,
    handle: ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Builds settings for a test in `dir`: two referrers, two providers, one operator.
pub fn test_settings(dir: &Path, pki: &PkiPaths) -> Settings {
    let key = dir.join("data.key");
    if !key.exists() {
        std::fs::write(
            &key,
            hex::encode(refgate::crypto::DataKeys::generate_master().unwrap()),
        )
        .unwrap();
    }
    let org = |id: &str, role| Organisation {
        id: OrgId::parse(id).unwrap(),
        name: format!("{id} test organisation"),
        role,
        client_cert: pki.orgs[&OrgId::parse(id).unwrap()].0.clone(),
        email_senders: vec![],
        notify_email: None,
        delivery: Delivery::Inbox,
        delivery_email: None,
        push_url: None,
        mesh_mailbox: None,
        mesh_password_file: None,
    };
    Settings {
        server: ServerSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            max_body_bytes: 256 * 1024,
            workers: 2,
            ..ServerSettings::default()
        },
        tls: TlsSettings {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: pki.ca.clone(),
        },
        store: StoreSettings {
            path: dir.join("refgate.db"),
        },
        keys: KeySettings { data_key: key },
        log: LogSettings::default(),
        organisations: vec![
            org(MSK, Role::Referrer),
            org(GP, Role::Referrer),
            org(NORTH, Role::Provider),
            org(WEST, Role::Provider),
            org(OPS, Role::Operator),
        ],
        routing: RoutingSettings {
            default_provider: OrgId::parse(NORTH).unwrap(),
            routes: vec![Route {
                provider: OrgId::parse(WEST).unwrap(),
                gp_ods: vec![],
                postcode_prefixes: vec!["LS".into()],
                pathways: vec![],
            }],
        },
        drop_folders: vec![],
        smtp: None,
        mail: None,
        mesh: None,
        push: None,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_, _| {}).await
}

/// As [`spawn_app`], after `adjust` has changed the settings (given the test folder).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings, &Path)) -> TestApp {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<OrgId> = [MSK, GP, NORTH, WEST, OPS]
        .iter()
        .map(|s| OrgId::parse(s).unwrap())
        .collect();
    let pki = write_dev_pki(&dir.path().join("certs"), &ids).unwrap();
    let mut settings = test_settings(dir.path(), &pki);
    adjust(&mut settings, dir.path());
    settings.validate().unwrap();
    start(dir, pki, settings, Clock::system()).await
}

/// As [`spawn_app`], with the gateway's clock fixed at `clock`.
pub async fn spawn_app_with_clock(clock: Clock) -> TestApp {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<OrgId> = [MSK, GP, NORTH, WEST, OPS]
        .iter()
        .map(|s| OrgId::parse(s).unwrap())
        .collect();
    let pki = write_dev_pki(&dir.path().join("certs"), &ids).unwrap();
    let settings = test_settings(dir.path(), &pki);
    start(dir, pki, settings, clock).await
}

async fn start(dir: TempDir, pki: PkiPaths, settings: Settings, clock: Clock) -> TestApp {
    let app = App::build_with_clock(settings.clone(), clock)
        .await
        .expect("gateway starts");
    let address = format!("https://127.0.0.1:{}", app.port());
    let smtp_port = app.smtp_port();
    let handle = app.handle();
    let task = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        smtp_port,
        settings,
        pki,
        dir,
        handle,
        task: Some(task),
    }
}

impl TestApp {
    /// Stops the gateway (in-flight requests finish, the store closes).
    pub async fn stop(&mut self) {
        self.handle.stop(true).await;
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// Stops and starts the gateway again on the same database and keys.
    pub async fn restart(self) -> TestApp {
        self.restart_with_clock(Clock::system()).await
    }

    /// Stops and starts the gateway again with its clock fixed at `clock`.
    pub async fn restart_with_clock(mut self, clock: Clock) -> TestApp {
        self.stop().await;
        let TestApp {
            dir, pki, settings, ..
        } = self;
        start(dir, pki, settings, clock).await
    }

    /// Submits a flat referral from `referrer` (made distinct by `service`) and has its
    /// provider download and acknowledge it. Returns (referral id, provider).
    pub async fn acknowledged_referral(&self, referrer: &str, service: &str) -> (String, String) {
        let (id, provider) = self.submitted_referral(referrer, service).await;
        let (status, _) = self.get(&provider, &format!("/inbox/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = self.acknowledge(&provider, &id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (id, provider)
    }

    /// Submits a flat referral from `referrer` (made distinct by `service`).
    /// Returns (referral id, provider).
    pub async fn submitted_referral(&self, referrer: &str, service: &str) -> (String, String) {
        let mut r = flat_referral();
        r["requested_service"] = service.into();
        let (status, body) = self
            .post_referral(referrer, "application/json", r.to_string())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let provider = body["provider"].as_str().unwrap().to_owned();
        (id, provider)
    }

    pub fn db_path(&self) -> PathBuf {
        self.settings.store.path.clone()
    }

    /// An HTTPS client presenting `org`'s certificate.
    pub fn client(&self, org: &str) -> awc::Client {
        let (cert, key) = &self.pki.orgs[&OrgId::parse(org).unwrap()];
        client_with(&self.pki.ca, Some((cert, key)))
    }

    /// An HTTPS client with no client certificate.
    pub fn anonymous(&self) -> awc::Client {
        client_with(&self.pki.ca, None)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(
        &self,
        org: &str,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> (StatusCode, Value) {
        self.send(awc::http::Method::POST, org, path, content_type, body)
            .await
    }

    pub async fn put(
        &self,
        org: &str,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> (StatusCode, Value) {
        self.send(awc::http::Method::PUT, org, path, content_type, body)
            .await
    }

    async fn send(
        &self,
        method: awc::http::Method,
        org: &str,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> (StatusCode, Value) {
        send_body(
            self.client(org)
                .request(method, self.url(path))
                .insert_header(("Content-Type", content_type)),
            body.into(),
        )
        .await
    }

    pub async fn post_referral(
        &self,
        org: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> (StatusCode, Value) {
        self.post(org, "/referrals", content_type, body).await
    }

    /// The provider acknowledges a downloaded referral.
    pub async fn acknowledge(&self, provider: &str, id: &str) -> (StatusCode, Value) {
        let path = format!("/inbox/{id}/acknowledge");
        self.post(provider, &path, "application/json", "").await
    }

    pub async fn get(&self, org: &str, path: &str) -> (StatusCode, Value) {
        send_body(self.client(org).get(self.url(path)), Vec::new()).await
    }
}

pub fn client_with(ca: &Path, cert: Option<(&PathBuf, &PathBuf)>) -> awc::Client {
    let cfg =
        refgate::tls::client_config(ca, cert.map(|c| c.0.as_path()), cert.map(|c| c.1.as_path()))
            .unwrap();
    awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(cfg)))
        .timeout(std::time::Duration::from_secs(30))
        .finish()
}

pub async fn send_body(req: awc::ClientRequest, body: Vec<u8>) -> (StatusCode, Value) {
    let mut resp = req
        .send_body(body)
        .await
        .expect("request reaches the gateway");
    let status = resp.status();
    let bytes = resp.body().limit(16 * 1024 * 1024).await.unwrap();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, json)
}

/// A fixture from this repository's `fixtures/` folder.
/// A file under the project's `fixtures/`.
pub fn fixture_path(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(fixture_path(path)).unwrap()
}

/// A valid flat-form referral for a synthetic patient; tweak it per test.
pub fn flat_referral() -> Value {
    serde_json::json!({
        "is_referral": true,
        "patient": {
            "nhs_number": "9990000018", "nhs_number_valid": true, "title": "Ms", "given_names": ["Testa"],
            "family_name": "Fixturewoman", "date_of_birth": "1980-02-29", "sex": "female",
            "address_lines": ["1 Example Street", "Harrogate"], "postcode": "HG2 0DJ",
            "phone": "07700900123", "email": null
        },
        "gp": {"name": "Dr Ann Example", "practice": "Example Surgery", "ods_code": "B82999"},
        "referrer": {"name": "Dr Rhee Furrer", "role": "Consultant Rheumatologist", "organisation": "Example MSK", "professional_id": "GMC 1234567"},
        "letter_date": "2026-01-15",
        "diagnoses": ["Fibromyalgia"],
        "measures": {"hads_anxiety": 12, "hads_depression": 9, "phq9": null, "gad7": null},
        "risk_flag": false,
        "urgency": "routine",
        "preferences": {"telephone_ok": true, "interpreter": null},
        "requested_service": "Telephone CBT"
    })
}

/// The OperationOutcome's issue expressions, flattened.
pub fn issue_paths(oo: &Value) -> Vec<String> {
    assert_eq!(oo["resourceType"], "OperationOutcome", "{oo}");
    oo["issue"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["expression"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect()
}
