//! MESH benchmark: a provider working through its mailbox, and clinics sending by MESH.
//!
//! Run: `cargo bench --bench mesh` (env: BENCH_SECS=10, BENCH_CONNECTIONS="1 16",
//! BENCH_WAITING=10000). It initialises a demo configuration in a temp folder, starts
//! the release `refgate` binary as its own process, fills TTNORTH's inbox with
//! BENCH_WAITING referrals (POST /referrals, each different), then measures over
//! mutual TLS with a fresh NHSMESH token on every call (HMAC-SHA256, single-use nonce
//! counts, as mesh-client does):
//!   1. inbox polls per second (`GET /messageexchange/{mb}/inbox`, a page of 500);
//!   2. round trips per second: poll, download the first message (the FHIR Bundle) and
//!      acknowledge it;
//!   3. sends per second (`POST /messageexchange/{mb}/outbox` from the clinic);
//!   4. how soon a referral is visible in the provider's MESH inbox after its 201.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{Conn, Report, free_port, load};

const FIXTURE: &str = include_str!("../fixtures/json/FJ01.json");
const MARKER: &str = "Telephone CBT for chronic pain";
const CLINIC: (&str, &str) = ("RCB55", "RCB55MB1");
const PROVIDER: (&str, &str) = ("TTNORTH", "TTNORTHMB1");
static SUBMISSIONS: AtomicU64 = AtomicU64::new(0);

fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let secs: u64 = env("BENCH_SECS", "10").parse()?;
    let waiting: u64 = env("BENCH_WAITING", "10000").parse()?;
    let conns: Vec<usize> = env("BENCH_CONNECTIONS", "1 16")
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let dir = tempfile::tempdir()?;
    refgate::init::init(dir.path())?;
    let port = free_port()?;
    let mut server = start_server(dir.path(), port)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        let gw = Arc::new(Gateway::new(dir.path(), port)?);
        gw.wait_ready().await?;
        println!(
            "refgate MESH benchmark: {secs}s per run, release build, demo configuration, SQLite on {}",
            dir.path().display()
        );
        let t = Instant::now();
        fill(&gw, waiting, 32).await?;
        println!(
            "filled TTNORTHMB1 with {waiting} referrals in {:.1}s",
            t.elapsed().as_secs_f64()
        );
        let visible = visibility(&gw, 200).await?;
        println!(
            "201 -> listed in the provider's MESH inbox: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            visible.p(0.50),
            visible.p(0.99),
            visible.p(1.0)
        );
        println!(
            "{:<28} {:>11} {:>9} {:>10} {:>9} {:>9} {:>7}",
            "operation", "connections", "count", "per s", "p50 ms", "p99 ms", "errors"
        );
        for op in [Op::Poll, Op::RoundTrip, Op::Send] {
            for &c in &conns {
                let r = run(&gw, op, c, Duration::from_secs(secs)).await?;
                println!(
                    "{:<28} {:>11} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>7}",
                    op.name(),
                    c,
                    r.ok,
                    r.ok as f64 / r.elapsed.as_secs_f64(),
                    r.p(0.50),
                    r.p(0.99),
                    r.errors
                );
            }
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
        // The demo's SMTP port may be taken by another gateway on this machine.
        .args(["--smtp-listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?)
}

#[derive(Clone, Copy)]
enum Op {
    Poll,
    RoundTrip,
    Send,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Poll => "inbox poll",
            Op::RoundTrip => "poll+download+acknowledge",
            Op::Send => "send (clinic outbox)",
        }
    }
}

/// The demo gateway's certificates and MESH secrets.
struct Gateway {
    port: u16,
    clinic: Arc<rustls::ClientConfig>,
    provider: Arc<rustls::ClientConfig>,
    shared: ring::hmac::Key,
    clinic_password: String,
    provider_password: String,
}

impl Gateway {
    fn new(dir: &Path, port: u16) -> anyhow::Result<Self> {
        let certs = dir.join("certs");
        let tls = |org: &str| -> anyhow::Result<Arc<rustls::ClientConfig>> {
            Ok(Arc::new(refgate::tls::client_config(
                &certs.join("ca.pem"),
                Some(&certs.join(format!("orgs/{org}.pem"))),
                Some(&certs.join(format!("orgs/{org}-key.pem"))),
            )?))
        };
        let secret = |name: &str| -> anyhow::Result<String> {
            Ok(std::fs::read_to_string(dir.join("keys/mesh").join(name))?
                .trim()
                .to_owned())
        };
        Ok(Self {
            port,
            clinic: tls(CLINIC.0)?,
            provider: tls(PROVIDER.0)?,
            shared: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret("shared.key")?.as_bytes()),
            clinic_password: secret(&format!("{}.password", CLINIC.0))?,
            provider_password: secret(&format!("{}.password", PROVIDER.0))?,
        })
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        for _ in 0..300 {
            if let Ok(mut c) = Conn::open(self.clinic.clone(), self.port).await
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
}

/// A MESH client's identity on one connection: one nonce, counting up, as mesh-client.
struct Token {
    mailbox: &'static str,
    password: String,
    nonce: String,
    count: u64,
    key: ring::hmac::Key,
}

impl Token {
    fn new(gw: &Gateway, who: (&'static str, &'static str)) -> Self {
        let password = if who == CLINIC {
            gw.clinic_password.clone()
        } else {
            gw.provider_password.clone()
        };
        Self {
            mailbox: who.1,
            password,
            nonce: uuid::Uuid::new_v4().to_string(),
            count: 0,
            key: gw.shared.clone(),
        }
    }

    fn next(&mut self) -> String {
        let time = chrono::Utc::now().format("%Y%m%d%H%M").to_string();
        let (mb, nonce, count) = (self.mailbox, &self.nonce, self.count);
        let msg = format!("{mb}:{nonce}:{count}:{}:{time}", self.password);
        let hash = hex::encode(ring::hmac::sign(&self.key, msg.as_bytes()).as_ref());
        self.count += 1;
        format!("NHSMESH {mb}:{nonce}:{count}:{time}:{hash}")
    }
}

const V2: (&str, &str) = ("Accept", "application/vnd.mesh.v2+json");

fn referral() -> String {
    let n = SUBMISSIONS.fetch_add(1, Ordering::Relaxed);
    FIXTURE.replacen(
        MARKER,
        &format!("{MARKER} (bench {n} {})", std::process::id()),
        1,
    )
}

/// POSTs `total` referrals from the clinic over `connections` connections.
async fn fill(gw: &Gateway, total: u64, connections: u64) -> anyhow::Result<()> {
    let left = Arc::new(AtomicU64::new(total));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (cfg, port, left) = (gw.clinic.clone(), gw.port, left.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(cfg, port).await?;
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                let (status, _) = conn
                    .request(
                        "POST",
                        "/referrals",
                        &[("Content-Type", "application/fhir+json")],
                        referral().as_bytes(),
                    )
                    .await?;
                anyhow::ensure!(status == 201, "intake answered {status}");
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// The provider's inbox listing (first page), as sent.
async fn listing(conn: &mut Conn, token: &mut Token) -> anyhow::Result<Vec<u8>> {
    let path = format!("/messageexchange/{}/inbox?max_results=500", token.mailbox);
    let auth = token.next();
    let (status, body) = conn
        .request("GET", &path, &[V2, ("Authorization", &auth)], b"")
        .await?;
    anyhow::ensure!(status == 200, "inbox answered {status}");
    Ok(body)
}

/// The message ids of a listing, borrowed: the client's own parsing should cost as
/// little as it can, since it shares the machine with the gateway being measured.
fn ids(body: &[u8]) -> anyhow::Result<Vec<&str>> {
    #[derive(serde::Deserialize)]
    struct Listing<'a> {
        #[serde(borrow)]
        messages: Vec<&'a str>,
    }
    Ok(serde_json::from_slice::<Listing>(body)?.messages)
}

/// Time from a referral's 201 to its id in the provider's MESH inbox listing.
async fn visibility(gw: &Gateway, samples: usize) -> anyhow::Result<Report> {
    let mut clinic = Conn::open(gw.clinic.clone(), gw.port).await?;
    let mut provider = Conn::open(gw.provider.clone(), gw.port).await?;
    let mut token = Token::new(gw, PROVIDER);
    let mut report = Report::new();
    let started = Instant::now();
    for _ in 0..samples {
        // Urgent referrals are listed first, so the new one is on the first page even
        // with thousands waiting.
        let body = referral().replacen("\"routine\"", "\"urgent\"", 1);
        let (status, created) = clinic
            .request(
                "POST",
                "/referrals",
                &[("Content-Type", "application/fhir+json")],
                body.as_bytes(),
            )
            .await?;
        let t = Instant::now();
        anyhow::ensure!(status == 201, "intake answered {status}");
        let id = serde_json::from_slice::<serde_json::Value>(&created)?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let deadline = t + Duration::from_secs(5);
        while !ids(&listing(&mut provider, &mut token).await?)?
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&id))
        {
            anyhow::ensure!(Instant::now() < deadline, "never listed");
        }
        report.add(1, 0, vec![t.elapsed().as_micros() as u64]);
        // Take it out again so the measured inbox stays as filled.
        download_and_ack(&mut provider, &mut token, &id).await?;
    }
    Ok(report.finish(started.elapsed()))
}

async fn download_and_ack(conn: &mut Conn, token: &mut Token, id: &str) -> anyhow::Result<()> {
    let mb = token.mailbox;
    let auth = token.next();
    let (status, _) = conn
        .request(
            "GET",
            &format!("/messageexchange/{mb}/inbox/{id}"),
            &[V2, ("Authorization", &auth)],
            b"",
        )
        .await?;
    anyhow::ensure!(status == 200, "download answered {status}");
    let auth = token.next();
    let (status, _) = conn
        .request(
            "PUT",
            &format!("/messageexchange/{mb}/inbox/{id}/status/acknowledged"),
            &[V2, ("Authorization", &auth)],
            b"",
        )
        .await?;
    anyhow::ensure!(status == 200, "acknowledge answered {status}");
    Ok(())
}

/// One operation by connection `k` of `n`. Connections working through the same inbox
/// share it out as a provider's workers would, each taking the messages whose id falls
/// to it, so no two download the same message.
async fn one(
    op: Op,
    (k, n): (usize, usize),
    conn: &mut Conn,
    token: &mut Token,
) -> anyhow::Result<()> {
    match op {
        Op::Poll => ids(&listing(conn, token).await?).map(drop),
        Op::RoundTrip => {
            let body = listing(conn, token).await?;
            let page = ids(&body)?;
            let mine = |id: &&&str| {
                let h = id.bytes().fold(0usize, |h, b| {
                    h.wrapping_mul(31).wrapping_add(usize::from(b))
                });
                h % n == k
            };
            let id = (page.iter().find(mine))
                .ok_or_else(|| anyhow::anyhow!("no message for this worker on the page"))?;
            download_and_ack(conn, token, id).await
        }
        Op::Send => {
            let auth = token.next();
            let body = referral();
            let (status, _) = conn
                .request(
                    "POST",
                    &format!("/messageexchange/{}/outbox", token.mailbox),
                    &[
                        V2,
                        ("Authorization", &auth),
                        ("mex-To", "REFGATE"),
                        ("mex-WorkflowID", "TALKING_THERAPIES_REFERRAL"),
                        ("mex-Content-Type", "application/fhir+json"),
                        ("Content-Type", "application/octet-stream"),
                    ],
                    body.as_bytes(),
                )
                .await?;
            anyhow::ensure!(status == 202, "send answered {status}");
            Ok(())
        }
    }
}

async fn run(
    gw: &Arc<Gateway>,
    op: Op,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Report> {
    let gw = gw.clone();
    load(
        connections,
        duration,
        move |k| {
            let gw = gw.clone();
            async move {
                let (cfg, who) = match op {
                    Op::Send => (gw.clinic.clone(), CLINIC),
                    _ => (gw.provider.clone(), PROVIDER),
                };
                let conn = Conn::open(cfg, gw.port).await?;
                anyhow::Ok((k, conn, Token::new(&gw, who)))
            }
        },
        move |(k, mut conn, mut token): (usize, Conn, Token)| async move {
            let result = one(op, (k, connections), &mut conn, &mut token).await;
            ((k, conn, token), result)
        },
    )
    .await
}
