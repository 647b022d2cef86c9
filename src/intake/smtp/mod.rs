//! The inbound SMTP listener: referrers' mail systems deliver referral emails here.
//!
//! Inputs: TCP connections on `[smtp].listen`. Outputs: messages committed, sealed, to
//! the store's inbound spool (see [`crate::intake::email`], which makes referrals of
//! them). The listener never parses a message and never calls `intake::accept`: it
//! answers 250 only after the spool commit, so an accepted message survives a crash
//! and a bad one cannot hold up the conversation.
//!
//! Limits are enforced before any work: a global and a per-IP connection limit (421 at
//! the greeting), line length, message size, per-command and whole-DATA timeouts.
//! STARTTLS uses the server certificate of `[tls]` (no client certificate: senders are
//! identified by the allow-listed envelope sender).

mod conn;
mod session;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use self::conn::Conn;
use self::session::{End, Session};
use crate::config::{Settings, SmtpSettings};
use crate::intake::email::Spool;
use crate::telemetry::events::SmtpRefused;
use crate::telemetry::metrics::Metrics;

/// Messages of the largest size that may be received at once (more connections may
/// be sending smaller ones): with the 25 MB default, 100 MB in all. Past it, senders
/// are told 452 and retry later.
const BUDGET_MESSAGES: usize = 4;

/// How long open sessions get to finish after shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(10);

/// A start-up failure of the listener.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("smtp is not configured")]
    NotConfigured,
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("tls")]
    Tls(#[from] crate::tls::TlsError),
}

/// Size and time limits of one session.
#[derive(Debug, Clone)]
struct Limits {
    max_message: usize,
    command_timeout: Duration,
    data_timeout: Duration,
}

/// What every session reads.
struct Shared {
    hostname: String,
    referral_addresses: Vec<String>,
    settings: Arc<Settings>,
    limits: Limits,
    spool: Spool,
    tls: TlsAcceptor,
    metrics: Arc<Metrics>,
    /// Memory for messages being received, all connections together.
    budget: conn::Budget,
}

/// Connections open now, in all and per IP address.
struct Gate {
    all: Arc<Semaphore>,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_ip: usize,
}

/// A place held by one connection; dropping it frees the place.
struct Admitted {
    _all: OwnedSemaphorePermit,
    ip: IpAddr,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Ok(mut map) = self.per_ip.lock()
            && let Some(n) = map.get_mut(&self.ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Gate {
    fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let all = self.all.clone().try_acquire_owned().ok()?;
        let mut map = self.per_ip.lock().ok()?;
        let n = map.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return None;
        }
        *n += 1;
        Some(Admitted {
            _all: all,
            ip,
            per_ip: self.per_ip.clone(),
        })
    }
}

/// A bound SMTP listener, ready to run.
pub struct SmtpServer {
    listener: TcpListener,
    shared: Arc<Shared>,
    gate: Gate,
}

impl SmtpServer {
    /// Binds `[smtp].listen` and loads the STARTTLS certificate.
    ///
    /// # Errors
    /// [`SmtpError`] when smtp is not configured, the address cannot be bound or the
    /// certificate cannot be loaded.
    pub async fn bind(settings: Arc<Settings>, spool: Spool) -> Result<Self, SmtpError> {
        let smtp: &SmtpSettings = settings.smtp.as_ref().ok_or(SmtpError::NotConfigured)?;
        let tls = TlsAcceptor::from(Arc::new(crate::tls::smtp_server_config(&settings.tls)?));
        let listener = TcpListener::bind(smtp.listen)
            .await
            .map_err(|source| SmtpError::Bind {
                addr: smtp.listen,
                source,
            })?;
        let gate = Gate {
            all: Arc::new(Semaphore::new(smtp.max_connections)),
            per_ip: Arc::new(Mutex::new(HashMap::new())),
            max_per_ip: smtp.max_connections_per_ip,
        };
        let shared = Shared {
            hostname: smtp.hostname.clone(),
            referral_addresses: smtp.referral_addresses.clone(),
            limits: Limits {
                max_message: smtp.max_message_bytes,
                command_timeout: Duration::from_secs(smtp.command_timeout_secs),
                data_timeout: Duration::from_secs(smtp.data_timeout_secs),
            },
            settings: settings.clone(),
            metrics: spool.metrics.clone(),
            budget: conn::budget(smtp.max_message_bytes.saturating_mul(BUDGET_MESSAGES)),
            spool,
            tls,
        };
        Ok(Self {
            listener,
            shared: Arc::new(shared),
            gate,
        })
    }

    /// The bound port (useful with port 0).
    ///
    /// # Errors
    /// When the socket has no local address.
    pub fn port(&self) -> std::io::Result<u16> {
        Ok(self.listener.local_addr()?.port())
    }

    /// Accepts connections until `stop`; then open sessions are told 421 between
    /// commands, and a message being spooled finishes first.
    pub async fn run(self, stop: CancellationToken) {
        let mut sessions = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                () = stop.cancelled() => break,
                a = self.listener.accept() => a,
                // Reap finished sessions so the set does not grow.
                Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "smtp accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(place) = self.gate.admit(peer.ip()) else {
                refuse(tcp, &self.shared.metrics);
                continue;
            };
            let shared = self.shared.clone();
            let stop = stop.clone();
            sessions.spawn(async move {
                connection(&shared, tcp, &stop).await;
                drop(place);
            });
        }
        drop(self.listener);
        if tokio::time::timeout(DRAIN, async {
            while sessions.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            sessions.abort_all();
        }
    }
}

/// Tells a connection over the limits to come back later, without waiting on it: a
/// new socket's send buffer is empty, so a non-blocking write of one line succeeds, and
/// a flood cannot hold up the accept loop.
fn refuse(tcp: TcpStream, metrics: &Metrics) {
    SmtpRefused {
        reason: "too-many-connections",
        org: None,
    }
    .emit(metrics);
    let _ = tcp.try_write(b"421 4.7.0 Too many connections, try again later\r\n");
    drop(tcp);
}

async fn connection(shared: &Shared, tcp: TcpStream, stop: &CancellationToken) {
    let _ = tcp.set_nodelay(true);
    let mut plain = Conn::new(tcp);
    plain.reply(&format!("220 {} ESMTP refgate\r\n", shared.hostname));
    if Session::new(false).serve(&mut plain, shared, stop).await != End::StartTls {
        return;
    }
    // Dropping the plaintext buffers here is the STARTTLS injection defence.
    let tcp = plain.into_stream();
    let handshake = tokio::time::timeout(shared.limits.command_timeout, shared.tls.accept(tcp));
    let tls = match handshake.await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(error = %e, channel = "email", "smtp tls handshake failed");
            return;
        }
        Err(_) => return,
    };
    let mut secure = Conn::new(tls);
    // RFC 3207 4.2: after TLS the session starts over (a new EHLO is required).
    Session::new(true).serve(&mut secure, shared, stop).await;
}
