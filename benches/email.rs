//! Email benchmark: referrals sent over SMTP with STARTTLS, each a short cover note with
//! the clinic letter attached (fixtures/letters/F05.txt, base64), as a secretary's mail
//! client sends them.
//!
//! Run: `cargo bench --bench email` (env: BENCH_SECS=10, BENCH_CONNECTIONS="1 16",
//! BENCH_LATENCY_SAMPLES=50). It initialises a demo configuration in a temp folder,
//! starts the release `refgate` binary as its own process and measures:
//!   1. the time from the final 250 to the referral sitting in the provider's inbox,
//!      one message at a time, polling `GET /inbox` over mutual TLS (first, while the
//!      inbox is small enough to count in one page);
//!   2. messages accepted per second (final 250 received) at each connection count,
//!      each connection one STARTTLS session sending message after message (messages
//!      built with lettre, sent by a small pipelining client with Nagle off).
//!
//! Each message carries a different (valid, 999-range) NHS number, so each is a new
//! referral rather than a copy of one received before.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use rustls_pki_types::ServerName;
use support::{Report, free_port, load};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const LETTER: &str = include_str!("../fixtures/letters/F05.txt");
const LETTER_NHS: &str = "9998442222";
const FROM: &str = "jane.morley@example.nhs.uk";
const TO: &str = "referrals@refgate.localhost";
/// Numbers every message of every run, so each one is a different patient.
static MESSAGES: AtomicU64 = AtomicU64::new(0);

fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let secs: u64 = env("BENCH_SECS", "10").parse()?;
    let samples: usize = env("BENCH_LATENCY_SAMPLES", "50").parse()?;
    let conns: Vec<usize> = env("BENCH_CONNECTIONS", "1 16")
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let dir = tempfile::tempdir()?;
    refgate::init::init(dir.path())?;
    let (https, smtp) = (free_port()?, free_port()?);
    let mut server = start_server(dir.path(), https, smtp)?;
    // awc (the inbox client) runs on a LocalSet; the load itself is plain tokio tasks.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = tokio::task::LocalSet::new().block_on(&rt, async {
        let inbox = Inbox::new(dir.path(), https)?;
        inbox.wait_ready().await?;
        let r = to_inbox(dir.path(), smtp, &inbox, samples).await?;
        println!(
            "final 250 -> in TTNORTH's inbox ({} messages, one at a time): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            r.latencies_us.len(), r.p(0.50), r.p(0.99), r.p(1.0)
        );
        println!(
            "refgate email benchmark: SMTP + STARTTLS, letter as a base64 text attachment, {secs}s per run, release build, SQLite on {}",
            dir.path().display()
        );
        println!("{:>11} {:>10} {:>10} {:>9} {:>9} {:>9}", "connections", "messages", "msg/s", "p50 ms", "p99 ms", "errors");
        for &c in &conns {
            let r = throughput(dir.path(), smtp, c, Duration::from_secs(secs)).await?;
            println!(
                "{:>11} {:>10} {:>10.0} {:>9.2} {:>9.2} {:>9}",
                c, r.ok, r.ok as f64 / r.elapsed.as_secs_f64(), r.p(0.50), r.p(0.99), r.errors
            );
        }
        anyhow::Ok(())
    });
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn start_server(dir: &Path, https: u16, smtp: u16) -> anyhow::Result<Child> {
    Ok(Command::new(env!("CARGO_BIN_EXE_refgate"))
        .args(["serve", "--config"])
        .arg(dir.join("refgate.toml"))
        .args(["--listen", &format!("127.0.0.1:{https}")])
        .env("REFGATE__SMTP__LISTEN", format!("127.0.0.1:{smtp}"))
        .env("REFGATE__SMTP__MAX_CONNECTIONS_PER_IP", "256")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?)
}

/// A valid NHS number in the 999 test range, different for each `n`: each `n` has
/// three candidates of its own (one in eleven has no valid check digit, and two
/// neighbours never both lack one), so two messages never share a patient.
fn nhs_number(n: u64) -> String {
    (0..3)
        .find_map(|k| {
            let digits = format!("999{:06}", (n * 3 + k) % 1_000_000);
            let sum: u32 = digits
                .bytes()
                .zip((2..=10).rev())
                .map(|(d, w)| u32::from(d - b'0') * w)
                .sum();
            let check = (11 - sum % 11) % 11;
            (check != 10).then(|| format!("{digits}{check}"))
        })
        .unwrap_or_else(|| "9990000018".to_owned())
}

fn message() -> anyhow::Result<Message> {
    let n = MESSAGES.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id()) * 1000;
    let letter = LETTER.replacen(LETTER_NHS, &nhs_number(n), 1);
    Ok(Message::builder()
        .from(FROM.parse()?)
        .to(TO.parse()?)
        .subject("Referral letter")
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(
                    "Hello,\n\nPlease find attached a referral.\n\nJane Morley\n".to_owned(),
                ))
                .singlepart(
                    Attachment::new("referral.txt".to_owned())
                        .body(letter.into_bytes(), ContentType::TEXT_PLAIN),
                ),
        )?)
}

/// A client session over STARTTLS, kept open for many messages, pipelining MAIL, RCPT
/// and DATA as mail servers do, with Nagle off (lettre leaves it on, and then each
/// message waits out delayed ACKs: that measured the client, not the gateway).
struct Smtp {
    stream: BufReader<TlsStream<TcpStream>>,
}

impl Smtp {
    async fn connect(tls: Arc<rustls::ClientConfig>, port: u16) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        let mut plain = BufReader::new(tcp);
        reply(&mut plain, 220).await?;
        plain
            .get_mut()
            .write_all(b"EHLO bench.example.nhs.uk\r\n")
            .await?;
        reply(&mut plain, 250).await?;
        plain.get_mut().write_all(b"STARTTLS\r\n").await?;
        reply(&mut plain, 220).await?;
        let name = ServerName::try_from("localhost")?.to_owned();
        let tls = TlsConnector::from(tls)
            .connect(name, plain.into_inner())
            .await?;
        let mut smtp = Smtp {
            stream: BufReader::new(tls),
        };
        smtp.stream
            .get_mut()
            .write_all(b"EHLO bench.example.nhs.uk\r\n")
            .await?;
        reply(&mut smtp.stream, 250).await?;
        Ok(smtp)
    }

    /// Sends one message; returns when the final 250 arrives.
    async fn send(&mut self, message: &[u8]) -> anyhow::Result<()> {
        let envelope = format!("MAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nDATA\r\n");
        self.stream.get_mut().write_all(envelope.as_bytes()).await?;
        reply(&mut self.stream, 250).await?;
        reply(&mut self.stream, 250).await?;
        reply(&mut self.stream, 354).await?;
        let mut data = Vec::with_capacity(message.len() + 8);
        for line in message.split_inclusive(|&b| b == b'\n') {
            if line.first() == Some(&b'.') {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        data.extend_from_slice(b"\r\n.\r\n");
        self.stream.get_mut().write_all(&data).await?;
        reply(&mut self.stream, 250).await
    }
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn reply(r: &mut (impl AsyncBufRead + Unpin), code: u16) -> anyhow::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        anyhow::ensure!(r.read_line(&mut line).await? > 0, "connection closed");
        anyhow::ensure!(
            line.starts_with(&code.to_string()),
            "expected {code}, got {}",
            line.trim_end()
        );
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

fn client_tls(dir: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    Ok(Arc::new(refgate::tls::client_config(
        &dir.join("certs/ca.pem"),
        None,
        None,
    )?))
}

async fn throughput(
    dir: &Path,
    port: u16,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Report> {
    let tls = client_tls(dir)?;
    let opening = tls.clone();
    load(
        connections,
        duration,
        move |_| Smtp::connect(opening.clone(), port),
        move |mut smtp: Smtp| {
            let tls = tls.clone();
            async move {
                let result = match message() {
                    Ok(m) => smtp.send(&m.formatted()).await,
                    Err(e) => Err(e),
                };
                // A session that failed is replaced before the next message.
                if result.is_err()
                    && let Ok(fresh) = Smtp::connect(tls, port).await
                {
                    smtp = fresh;
                }
                (smtp, result)
            }
        },
    )
    .await
}

async fn to_inbox(dir: &Path, port: u16, inbox: &Inbox, samples: usize) -> anyhow::Result<Report> {
    let mut smtp = Smtp::connect(client_tls(dir)?, port).await?;
    let mut report = Report::new();
    let started = Instant::now();
    for _ in 0..samples {
        let before = inbox.count().await?;
        smtp.send(&message()?.formatted()).await?;
        let accepted = Instant::now();
        let deadline = accepted + Duration::from_secs(10);
        while inbox.count().await? == before {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the referral did not reach the inbox"
            );
        }
        let latency = accepted.elapsed().as_micros() as u64;
        report.add(1, 0, vec![latency]);
    }
    Ok(report.finish(started.elapsed()))
}

/// TTNORTH reading its inbox over mutual TLS.
struct Inbox {
    client: awc::Client,
    url: String,
}

impl Inbox {
    fn new(dir: &Path, port: u16) -> anyhow::Result<Self> {
        let certs = dir.join("certs");
        let tls = refgate::tls::client_config(
            &certs.join("ca.pem"),
            Some(&certs.join("orgs/TTNORTH.pem")),
            Some(&certs.join("orgs/TTNORTH-key.pem")),
        )?;
        let client = awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(Arc::new(tls)))
            .finish();
        Ok(Self {
            client,
            url: format!("https://localhost:{port}/inbox?limit=5000"),
        })
    }

    async fn count(&self) -> anyhow::Result<u64> {
        let mut res = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let body: serde_json::Value = res.json().limit(1 << 24).await?;
        body["count"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("no count"))
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        for _ in 0..300 {
            if self.count().await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("gateway did not become ready")
    }
}
