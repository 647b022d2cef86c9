//! Push benchmark: deliveries per second to a fast local `$process-message` endpoint.
//!
//! Run: `cargo bench --bench push` (env: BENCH_REFERRALS=2000, BENCH_CONCURRENCY=16).
//! It initialises a demo configuration in a temp folder, stores BENCH_REFERRALS
//! referrals for one provider (through intake, with the gateway not yet running),
//! then starts the gateway in this process with that provider set to
//! `delivery = "push"` and times until the endpoint has received every one. The
//! endpoint is a minimal HTTP/1.1 server on tokio-rustls that requires the gateway's
//! client certificate and answers 200 at once, so the figure is the gateway's: build
//! the message, TLS (resumed sessions), POST, and the durable `delivered` commit.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use refgate::app::App;
use refgate::clock::Clock;
use refgate::config::{Delivery, PushSettings, Settings};
use refgate::crypto::DataKeys;
use refgate::domain::OrgId;
use refgate::intake::{Channel, IntakeContext, RawSubmission};
use refgate::route::Router;
use refgate::store::Store;
use refgate::store::sqlite::SqliteStore;
use refgate::telemetry::metrics::Metrics;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const FIXTURE: &str = include_str!("../fixtures/json/FJ01.json");
const MARKER: &str = "Telephone CBT for chronic pain";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let n = env("BENCH_REFERRALS", 2000);
    let concurrency = env("BENCH_CONCURRENCY", 16);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(n, concurrency))
}

async fn run(n: usize, concurrency: usize) -> anyhow::Result<()> {
    refgate::tls::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let report = refgate::init::init(dir.path())?;
    let mut settings = Settings::load(&report.config)?;
    settings.server.listen = "127.0.0.1:0".parse()?;
    settings.smtp = None;
    settings.routing.routes.clear();
    let provider = settings.routing.default_provider.clone();
    seed(&settings, &provider, n).await?;

    let seen = Arc::new(Mutex::new(HashSet::new()));
    let port = endpoint(&report.pki, seen.clone()).await?;
    settings.push = Some(PushSettings {
        client_cert: report.pki.gateway.0.clone(),
        client_key: report.pki.gateway.1.clone(),
        ca: report.pki.ca.clone(),
        max_attempts: 10,
        timeout_secs: 30,
        first_retry_ms: 100,
        max_retry_secs: 5,
        poll_interval_ms: 100,
        concurrency,
    });
    for org in &mut settings.organisations {
        if org.id == provider {
            org.delivery = Delivery::Push;
            org.push_url = Some(format!("https://127.0.0.1:{port}/fhir/$process-message"));
        }
    }
    println!(
        "refgate push benchmark: {n} referrals to one provider, {concurrency} in flight, SQLite on {}",
        dir.path().display()
    );
    let started = Instant::now();
    let app = App::build(settings).await?;
    let handle = app.handle();
    let task = tokio::spawn(app.run_until_stopped());
    let deadline = started + Duration::from_secs(600);
    let count = loop {
        let count = seen.lock().map(|s| s.len()).unwrap_or(0);
        if count >= n || Instant::now() > deadline {
            break count;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let elapsed = started.elapsed();
    handle.stop(true).await;
    let _ = task.await;
    println!(
        "{count} delivered in {:.2} s: {:.0} push deliveries/s",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    anyhow::ensure!(count == n, "only {count} of {n} delivered");
    Ok(())
}

/// Stores `n` distinct referrals routed to `provider` while no push worker runs.
async fn seed(settings: &Settings, provider: &OrgId, n: usize) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&settings.store.path).await?);
    let ctx = IntakeContext {
        store: store.clone(),
        router: Arc::new(Router::new(&settings.routing)),
        keys: Arc::new(DataKeys::load(&settings.keys.data_key)?),
        metrics: Arc::new(Metrics::new()),
        clock: Clock::system(),
    };
    let referrer = OrgId::parse("RCB55")?;
    let mut pending = Vec::new();
    for i in 0..n {
        let body = FIXTURE.replacen(MARKER, &format!("{MARKER} (push bench {i})"), 1);
        let raw = RawSubmission::new(
            referrer.clone(),
            Channel::Http,
            "application/fhir+json",
            Bytes::from(body),
        );
        let ctx = ctx.clone();
        pending.push(tokio::spawn(async move {
            refgate::intake::accept(&ctx, raw).await
        }));
        if pending.len() == 64 || i + 1 == n {
            for p in pending.drain(..) {
                let receipt = p.await??;
                anyhow::ensure!(
                    receipt.summary.provider.as_ref() == Some(provider),
                    "seeded referral not routed to the push provider"
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

/// A fast `$process-message`: requires a client certificate from the demo CA, records
/// each request's X-Request-ID and answers 200, keeping the connection open.
async fn endpoint(
    pki: &refgate::init::PkiPaths,
    seen: Arc<Mutex<HashSet<String>>>,
) -> anyhow::Result<u16> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pki.ca)? {
        roots.add(cert?)?;
    }
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots)).build()?;
    let certs = CertificateDer::pem_file_iter(&pki.server_cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&pki.server_key)?;
    let config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // Keep-alive: answer each request on the connection until it closes.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16384];
                loop {
                    let (id, used) = loop {
                        if let Some(found) = whole_request(&buf) {
                            break found;
                        }
                        match tls.read(&mut chunk).await {
                            Ok(k) if k > 0 => buf.extend_from_slice(&chunk[..k]),
                            _ => return,
                        }
                    };
                    buf.drain(..used);
                    if tls
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if let Ok(mut s) = seen.lock() {
                        s.insert(id);
                    }
                }
            });
        }
    });
    Ok(port)
}

/// The request's X-Request-ID and length, once its head and whole body have arrived.
fn whole_request(buf: &[u8]) -> Option<(String, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let value = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let len: usize = value("content-length")?.parse().ok()?;
    let used = end + 4 + len;
    (buf.len() >= used)
        .then(|| value("x-request-id"))
        .flatten()
        .map(|id| (id, used))
}
