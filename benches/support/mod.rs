//! What the benchmarks share: a free port and latency percentiles.

use std::time::Duration;

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
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
