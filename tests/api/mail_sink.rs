//! A real SMTP server on loopback for tests: STARTTLS with the test's development
//! certificates (commands parsed by smtp-proto, TLS by tokio-rustls), capturing every
//! message it accepts. It can answer 451 to the next N messages or 550 to all, to test
//! retries and giving up. An idle connection or EOF without QUIT is normal: lettre's
//! pool keeps connections open (crates.md gotcha 12).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use refgate::config::TlsSettings;
use refgate::init::PkiPaths;
use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

#[derive(Default)]
struct State {
    messages: Vec<Captured>,
    /// The next this many messages are answered 451 at the end of DATA.
    transient: u32,
    /// Every message is answered 550 at the end of DATA.
    refuse: bool,
    /// Ends of DATA seen, whatever the answer.
    attempts: u32,
}

/// A running capture server; it stops when the test's runtime ends.
#[derive(Clone)]
pub struct MailSink {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl MailSink {
    /// Starts on a random loopback port, presenting the test's server certificate.
    pub async fn start(pki: &PkiPaths) -> MailSink {
        let mut config = refgate::tls::server_config(&TlsSettings {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: pki.ca.clone(),
        })
        .unwrap();
        config.alpn_protocols.clear();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, state) = (acceptor.clone(), shared.clone());
                tokio::spawn(async move {
                    let _ = connection(tcp, acceptor, state).await;
                });
            }
        });
        MailSink { port, state }
    }

    /// Answer 451 to the next `n` messages.
    pub fn fail_next(&self, n: u32) {
        self.state.lock().unwrap().transient = n;
    }

    /// Answer 550 to every message (or stop doing so).
    pub fn refuse_all(&self, refuse: bool) {
        self.state.lock().unwrap().refuse = refuse;
    }

    pub fn messages(&self) -> Vec<Captured> {
        self.state.lock().unwrap().messages.clone()
    }

    pub fn attempts(&self) -> u32 {
        self.state.lock().unwrap().attempts
    }

    /// Waits until at least `n` messages have arrived (panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Captured> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} messages, got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

enum End {
    Closed,
    StartTls,
}

async fn connection(
    mut tcp: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    tcp.write_all(b"220 sink.test ESMTP\r\n").await?;
    if let End::StartTls = session(&mut tcp, false, &state).await? {
        // Bytes the client sent in plain text after STARTTLS were read into the
        // session's buffer and dropped with it (the STARTTLS injection class).
        let mut tls = acceptor.accept(tcp).await?;
        session(&mut tls, true, &state).await?;
    }
    Ok(())
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    secure: bool,
    state: &Arc<Mutex<State>>,
) -> std::io::Result<End> {
    let mut receiver = RequestReceiver::default();
    let mut data: Option<(DataReceiver, Vec<u8>)> = None;
    let (mut from, mut to) = (String::new(), Vec::<String>::new());
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            return Ok(End::Closed);
        }
        let mut bytes = buf[..n].iter();
        loop {
            if let Some((rx, message)) = data.as_mut() {
                if !rx.ingest(&mut bytes, message) {
                    break;
                }
                let message = std::mem::take(message);
                data = None;
                let reply = finish(state, &from, &to, message);
                io.write_all(reply).await?;
                continue;
            }
            let reply: Vec<u8> = match receiver.ingest(&mut bytes) {
                Ok(Request::Ehlo { .. }) if secure => {
                    b"250-sink.test\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n".to_vec()
                }
                Ok(Request::Ehlo { .. }) => {
                    b"250-sink.test\r\n250-8BITMIME\r\n250 STARTTLS\r\n".to_vec()
                }
                Ok(Request::StartTls) if !secure => {
                    io.write_all(b"220 ready to start TLS\r\n").await?;
                    return Ok(End::StartTls);
                }
                Ok(Request::Mail { from: f }) if secure => {
                    from = f.address.to_string();
                    to.clear();
                    b"250 ok\r\n".to_vec()
                }
                Ok(Request::Mail { .. }) => b"530 must issue STARTTLS first\r\n".to_vec(),
                Ok(Request::Rcpt { to: t }) => {
                    to.push(t.address.to_string());
                    b"250 ok\r\n".to_vec()
                }
                Ok(Request::Data) => {
                    data = Some((DataReceiver::new(), Vec::new()));
                    b"354 go ahead\r\n".to_vec()
                }
                Ok(Request::Rset) => {
                    to.clear();
                    b"250 ok\r\n".to_vec()
                }
                Ok(Request::Noop { .. }) => b"250 ok\r\n".to_vec(),
                Ok(Request::Quit) => {
                    io.write_all(b"221 bye\r\n").await?;
                    return Ok(End::Closed);
                }
                Ok(_) => b"502 not implemented\r\n".to_vec(),
                Err(ProtoError::NeedsMoreData { .. }) => break,
                Err(_) => b"500 syntax error\r\n".to_vec(),
            };
            io.write_all(&reply).await?;
        }
    }
}

fn finish(state: &Arc<Mutex<State>>, from: &str, to: &[String], data: Vec<u8>) -> &'static [u8] {
    let mut s = state.lock().unwrap();
    s.attempts += 1;
    if s.refuse {
        return b"550 5.7.1 refused by policy\r\n";
    }
    if s.transient > 0 {
        s.transient -= 1;
        return b"451 4.3.0 try again later\r\n";
    }
    s.messages.push(Captured {
        from: from.to_owned(),
        to: to.to_vec(),
        data,
    });
    b"250 2.0.0 queued\r\n"
}
