//! Intake benchmark: `POST /referrals` with a FHIR message Bundle over TLS with
//! keep-alive, presenting a client certificate, at 1 and 64 connections.
//!
//! Run: `cargo bench --bench intake` (env: BENCH_SECS=10, BENCH_CONNECTIONS="1 64").
//! It initialises a demo configuration in a temp folder, starts the release
//! `refgate` binary as its own process (so its memory can be read from /proc), and
//! drives it from this process with a small HTTP/1.1 client on tokio-rustls. Every
//! request carries different content, so each one is a new durable referral.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use support::{Conn, Report, free_port, load};

const FHIR: &[(&str, &str)] = &[("Content-Type", "application/fhir+json")];

const FIXTURE: &str = include_str!("../fixtures/json/FJ01.json");
const MARKER: &str = "Telephone CBT for chronic pain";
/// Numbers every submission of every run, so each one has new content (a repeat would
/// be answered as a duplicate, not stored again).
static SUBMISSIONS: AtomicU64 = AtomicU64::new(0);

fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let conns: Vec<usize> = std::env::var("BENCH_CONNECTIONS")
        .unwrap_or_else(|_| "1 64".into())
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let dir = tempfile::tempdir()?;
    refgate::init::init(dir.path())?;
    let port = free_port()?;
    let mut server = start_server(dir.path(), port)?;
    let result = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?.block_on(async {
        wait_ready(dir.path(), port).await?;
        println!("refgate intake benchmark: {secs}s per run, release build, demo configuration, SQLite on {}", dir.path().display());
        println!("{:>11} {:>10} {:>10} {:>9} {:>9} {:>9} {:>12}", "connections", "requests", "req/s", "p50 ms", "p99 ms", "errors", "server RSS");
        for &c in &conns {
            let r = run(dir.path(), port, c, Duration::from_secs(secs)).await?;
            let rss = peak_rss_kib(server.id()).map(|k| format!("{} MiB", k / 1024)).unwrap_or_else(|| "?".into());
            println!(
                "{:>11} {:>10} {:>10.0} {:>9.2} {:>9.2} {:>9} {:>12}",
                c, r.ok, r.ok as f64 / r.elapsed.as_secs_f64(), r.p(0.50), r.p(0.99), r.errors, rss
            );
        }
        anyhow::Ok(())
    });
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn start_server(dir: &Path, port: u16) -> anyhow::Result<Child> {
    Ok(Command::new(env!("CARGO_BIN_EXE_refgate"))
        .args(["serve", "--config"])
        .arg(dir.join("refgate.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?)
}

/// Peak resident memory (VmHWM) of the server process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn tls_config(dir: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let certs = dir.join("certs");
    let cfg = refgate::tls::client_config(
        &certs.join("ca.pem"),
        Some(&certs.join("orgs/RCB55.pem")),
        Some(&certs.join("orgs/RCB55-key.pem")),
    )?;
    Ok(Arc::new(cfg))
}

async fn wait_ready(dir: &Path, port: u16) -> anyhow::Result<()> {
    let cfg = tls_config(dir)?;
    for _ in 0..300 {
        if let Ok(mut c) = Conn::open(cfg.clone(), port).await
            && c.request("GET", "/healthz", &[], b"")
                .await
                .is_ok_and(|(s, _)| s == 200)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("gateway did not become ready")
}

async fn run(
    dir: &Path,
    port: u16,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Report> {
    let cfg = tls_config(dir)?;
    load(
        connections,
        duration,
        move |_| Conn::open(cfg.clone(), port),
        |mut conn: Conn| async move {
            let n = SUBMISSIONS.fetch_add(1, Ordering::Relaxed);
            let body = FIXTURE.replacen(
                MARKER,
                &format!("{MARKER} (bench {n} {})", std::process::id()),
                1,
            );
            let result = match conn
                .request("POST", "/referrals", FHIR, body.as_bytes())
                .await
            {
                Ok((201, _)) => Ok(()),
                Ok((status, _)) => Err(anyhow::anyhow!("intake answered {status}")),
                Err(e) => Err(e),
            };
            (conn, result)
        },
    )
    .await
}
