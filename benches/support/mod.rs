//! What the benchmarks share: a free port, latency percentiles and a small keep-alive
//! HTTP/1.1 client over TLS (no HTTP client crate: measuring the server, not a client).

// Each benchmark is its own crate and uses only part of this.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs `connections` clients for `duration`: client `k` opens its connection with
/// `open(k)`, then repeats `step` (which hands the connection back, possibly a new one
/// after a failure) until told to stop; each step is timed, and counted as an error
/// when it fails.
pub async fn load<C, O, OF, S, SF>(
    connections: usize,
    duration: Duration,
    open: O,
    step: S,
) -> anyhow::Result<Report>
where
    C: Send + 'static,
    O: Fn(usize) -> OF,
    OF: Future<Output = anyhow::Result<C>> + Send + 'static,
    S: Fn(C) -> SF + Clone + Send + 'static,
    SF: Future<Output = (C, anyhow::Result<()>)> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..connections {
        let (opening, step, stop) = (open(k), step.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = opening.await?;
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (next, result) = step(conn).await;
                conn = next;
                match result {
                    Ok(()) => {
                        ok += 1;
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => errors += 1,
                }
            }
            anyhow::Ok((ok, errors, lat))
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut report = Report::new();
    for t in tasks {
        let (ok, errors, lat) = t.await??;
        report.add(ok, errors, lat);
    }
    Ok(report.finish(started.elapsed()))
}

/// Counts and sorted latencies of one run.
pub struct Report {
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub latencies_us: Vec<u64>,
}

impl Report {
    pub fn new() -> Self {
        Report {
            ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latencies_us: Vec::new(),
        }
    }

    /// Adds one task's counts and latencies.
    pub fn add(&mut self, ok: u64, errors: u64, latencies_us: Vec<u64>) {
        self.ok += ok;
        self.errors += errors;
        self.latencies_us.extend(latencies_us);
    }

    /// Sorts the latencies; call once all are in.
    pub fn finish(mut self, elapsed: Duration) -> Self {
        self.elapsed = elapsed;
        self.latencies_us.sort_unstable();
        self
    }

    /// The `q` quantile in milliseconds (NaN when nothing was measured).
    pub fn p(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// One keep-alive HTTP/1.1 connection over TLS.
pub struct Conn {
    stream: tokio_rustls::client::TlsStream<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(cfg: Arc<rustls::ClientConfig>, port: u16) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from("localhost")?.to_owned();
        let stream = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        self.stream.write_all(head.as_bytes()).await?;
        self.stream.write_all(body).await?;
        self.stream.flush().await?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])?.to_owned();
                let status: u16 = head.split_whitespace().nth(1).unwrap_or("0").parse()?;
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + len {
                    let n = self.stream.read(&mut chunk).await?;
                    anyhow::ensure!(n > 0, "connection closed");
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return Ok((status, self.buf[end + 4..end + 4 + len].to_vec()));
            }
            let n = self.stream.read(&mut chunk).await?;
            anyhow::ensure!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
