//! The email channel over real SMTP: lettre (as a referrer's mail system would) and a
//! raw client for protocol edge cases talk STARTTLS to the gateway's listener; accepted
//! messages end as referrals in the provider's inbox.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use lettre::address::Envelope;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use refgate::config::SmtpSettings;
use refgate::crypto::DataKeys;
use refgate::domain::OrgId;
use refgate::store::sqlite::SqliteStore;
use refgate::store::{MailId, NewMail, Store};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::helpers::*;

const REFERRALS: &str = "referrals@refgate.test";
const SENDER: &str = "msk.secretary@rcb55.nhs.test";

fn smtp_settings() -> SmtpSettings {
    SmtpSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        hostname: "localhost".into(),
        referral_addresses: vec![REFERRALS.into()],
        max_message_bytes: 64 * 1024,
        max_connections: 32,
        max_connections_per_ip: 8,
        command_timeout_secs: 10,
        data_timeout_secs: 20,
    }
}

/// A gateway with the SMTP listener on; RCB55 may send from its whole domain.
async fn spawn_smtp_app_with(adjust: impl FnOnce(&mut SmtpSettings)) -> TestApp {
    let mut smtp = smtp_settings();
    adjust(&mut smtp);
    spawn_app_with(move |s, _| {
        s.smtp = Some(smtp);
        let msk = OrgId::parse(MSK).unwrap();
        for org in &mut s.organisations {
            if org.id == msk {
                org.email_senders = vec!["@rcb55.nhs.test".into()];
            }
        }
    })
    .await
}

async fn spawn_smtp_app() -> TestApp {
    spawn_smtp_app_with(|_| {}).await
}

fn smtp_port(app: &TestApp) -> u16 {
    app.smtp_port.expect("smtp listener is configured")
}

/// lettre with STARTTLS required, trusting the test CA (the server name is localhost).
fn lettre_client(app: &TestApp) -> AsyncSmtpTransport<Tokio1Executor> {
    let ca = Certificate::from_pem(&std::fs::read(&app.pki.ca).unwrap()).unwrap();
    let tls = TlsParameters::builder("localhost".into())
        .add_root_certificate(ca)
        .build_rustls()
        .unwrap();
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(smtp_port(app))
        .tls(Tls::Required(tls))
        .timeout(Some(Duration::from_secs(20)))
        .build()
}

fn envelope(from: &str, to: &str) -> Envelope {
    Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap()
}

/// A referrer's email with the letter as its body.
fn letter_in_body(from: &str, letter: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "From: Rheumatology Secretaries <{from}>\r\nTo: <{REFERRALS}>\r\n\
         Subject: Referral\r\nMessage-ID: <body.1@rcb55.nhs.test>\r\n\
         Date: Mon, 12 Feb 2024 15:10:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(
        &String::from_utf8_lossy(letter)
            .replace('\n', "\r\n")
            .into_bytes(),
    );
    m
}

/// A covering note in the body and the letter as a base64 text attachment.
fn letter_attached(from: &str, letter: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(letter);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: <{from}>\r\nTo: <{REFERRALS}>\r\nSubject: Referral letter\r\n\
         Message-ID: <att.1@rcb55.nhs.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n\
         --XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello,\r\n\r\nPlease find attached a referral.\r\n\r\n\
         --XYZ\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"referral.txt\"\r\n\r\n{}\r\n--XYZ--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

/// Polls the provider's inbox until it holds `n` referrals (or fails after a deadline).
async fn wait_for_inbox(app: &TestApp, provider: &str, n: u64) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, inbox) = app.get(provider, "/inbox").await;
        if inbox["count"].as_u64() >= Some(n) {
            return inbox;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "inbox never held {n}: {inbox}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The spool as the database holds it, read beside the running gateway.
async fn spool_rows(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(app.db_path())
        .read_only(true);
    let mut conn = sqlx::ConnectOptions::connect(&options).await.unwrap();
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, state, reason FROM inbound_mail ORDER BY received_at")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let _ = sqlx::Connection::close(conn).await;
    rows
}

/// Polls until `n` messages are spooled and none is pending any more.
async fn wait_until_processed(app: &TestApp, n: usize) -> Vec<(String, String, Option<String>)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rows = spool_rows(app).await;
        if rows.len() >= n && rows.iter().all(|(_, state, _)| state != "pending") {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "spool never finished: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------------ raw client

/// A line-oriented SMTP client over any stream, for protocol edge cases.
struct Raw<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    /// The next reply: its code and all its lines. Code 0 means the server closed.
    async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(Duration::from_secs(20), self.io.read_line(&mut line))
                .await
                .expect("a reply within the deadline");
            if read.unwrap_or(0) == 0 {
                return (0, text);
            }
            text.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
                return (code, text);
            }
        }
    }

    async fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes()).await;
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        let io = self.io.get_mut();
        io.write_all(bytes).await.unwrap();
        io.flush().await.unwrap();
    }

    /// Sends one command and returns the reply's code.
    async fn cmd(&mut self, text: &str) -> u16 {
        self.send(text).await;
        self.reply().await.0
    }
}

/// A plaintext connection, greeting read.
async fn connect(app: &TestApp) -> Raw<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", smtp_port(app)))
        .await
        .unwrap();
    let mut raw = Raw {
        io: BufReader::new(tcp),
    };
    let (code, _) = raw.reply().await;
    assert_eq!(code, 220, "greeting");
    raw
}

/// Completes the TLS handshake on a connection whose STARTTLS got 220.
async fn handshake(app: &TestApp, raw: Raw<TcpStream>) -> Raw<TlsStream<TcpStream>> {
    let config = refgate::tls::client_config(&app.pki.ca, None, None).unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(
            ServerName::try_from("localhost").unwrap(),
            raw.io.into_inner(),
        )
        .await
        .expect("tls handshake");
    Raw {
        io: BufReader::new(tls),
    }
}

/// A TLS session after EHLO, ready for MAIL.
async fn secure(app: &TestApp) -> Raw<TlsStream<TcpStream>> {
    let mut raw = connect(app).await;
    assert_eq!(raw.cmd("EHLO client.test\r\n").await, 250);
    assert_eq!(raw.cmd("STARTTLS\r\n").await, 220);
    let mut tls = handshake(app, raw).await;
    assert_eq!(tls.cmd("EHLO client.test\r\n").await, 250);
    tls
}

/// Sends a whole message after DATA's 354; returns the final reply.
async fn send_message<S: AsyncRead + AsyncWrite + Unpin>(
    raw: &mut Raw<S>,
    from: &str,
    message: &[u8],
) -> (u16, String) {
    assert_eq!(raw.cmd(&format!("MAIL FROM:<{from}>\r\n")).await, 250);
    assert_eq!(raw.cmd(&format!("RCPT TO:<{REFERRALS}>\r\n")).await, 250);
    assert_eq!(raw.cmd("DATA\r\n").await, 354);
    raw.send_bytes(message).await;
    raw.send("\r\n.\r\n").await;
    raw.reply().await
}

// ------------------------------------------------------------------ tests

#[actix_web::test]
async fn a_letter_in_the_body_of_an_email_reaches_the_provider_inbox() {
    let app = spawn_smtp_app().await;
    let message = letter_in_body(SENDER, &fixture("letters/F01.txt"));
    let response = lettre_client(&app)
        .send_raw(&envelope(SENDER, REFERRALS), &message)
        .await
        .expect("the gateway accepts the email");
    assert_eq!(response.code().to_string(), "250");
    let queued = response.message().collect::<Vec<_>>().join(" ");
    let id = queued.rsplit(' ').next().unwrap();
    assert!(
        MailId::parse(id).is_ok(),
        "the reply names the spool id: {queued}"
    );

    let inbox = wait_for_inbox(&app, NORTH, 1).await;
    let referral = inbox["messages"][0]["id"].as_str().unwrap();
    let (_, view) = app.get(MSK, &format!("/referrals/{referral}")).await;
    assert_eq!(view["state"], "ready", "{view}");
}

#[actix_web::test]
async fn a_letter_attached_to_an_email_reaches_the_provider_and_several_messages_share_a_session() {
    let app = spawn_smtp_app().await;
    let client = lettre_client(&app);
    let attached = letter_attached(SENDER, &fixture("letters/F01.txt"));
    client
        .send_raw(&envelope(SENDER, REFERRALS), &attached)
        .await
        .expect("the gateway accepts the email");
    wait_for_inbox(&app, NORTH, 1).await;
    // The same letter again (on the pooled connection): matched to the first referral.
    let other = "another.secretary@rcb55.nhs.test";
    let again = letter_in_body(other, &fixture("letters/F01.txt"));
    client
        .send_raw(&envelope(other, REFERRALS), &again)
        .await
        .expect("the gateway accepts the second email");
    let rows = wait_until_processed(&app, 2).await;
    assert!(rows.iter().all(|(_, state, _)| state == "done"), "{rows:?}");
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 1, "{inbox}");
}

#[actix_web::test]
async fn mail_before_starttls_is_refused_with_530() {
    let app = spawn_smtp_app().await;
    let mut raw = connect(&app).await;
    raw.send("EHLO client.test\r\n").await;
    let (code, ehlo) = raw.reply().await;
    assert_eq!(code, 250);
    for ext in ["STARTTLS", "SIZE 65536", "8BITMIME", "PIPELINING"] {
        assert!(ehlo.contains(ext), "EHLO advertises {ext}: {ehlo}");
    }
    let (code, text) = {
        raw.send(&format!("MAIL FROM:<{SENDER}>\r\n")).await;
        raw.reply().await
    };
    assert_eq!(code, 530, "{text}");
    assert!(text.starts_with("530 5.7.0"), "{text}");
    assert_eq!(raw.cmd(&format!("RCPT TO:<{REFERRALS}>\r\n")).await, 530);
    assert_eq!(raw.cmd("DATA\r\n").await, 530);
    assert_eq!(raw.cmd("QUIT\r\n").await, 221);
}

#[actix_web::test]
async fn after_starttls_the_session_starts_over_and_starttls_is_no_longer_offered() {
    let app = spawn_smtp_app().await;
    let mut raw = connect(&app).await;
    assert_eq!(raw.cmd("EHLO client.test\r\n").await, 250);
    assert_eq!(raw.cmd("STARTTLS\r\n").await, 220);
    let mut tls = handshake(&app, raw).await;
    // The greeting before TLS does not count: EHLO is needed again (RFC 3207 4.2).
    assert_eq!(tls.cmd(&format!("MAIL FROM:<{SENDER}>\r\n")).await, 503);
    tls.send("EHLO client.test\r\n").await;
    let (code, ehlo) = tls.reply().await;
    assert_eq!(code, 250);
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert_eq!(tls.cmd("STARTTLS\r\n").await, 503);
}

#[actix_web::test]
async fn an_unknown_sender_is_refused_with_550() {
    let app = spawn_smtp_app().await;
    let mut tls = secure(&app).await;
    tls.send("MAIL FROM:<someone@elsewhere.test>\r\n").await;
    let (code, text) = tls.reply().await;
    assert_eq!(code, 550);
    assert!(text.starts_with("550 5.7.1"), "{text}");
    assert!(!text.contains("elsewhere"), "input is never echoed: {text}");
    // The null sender (bounces) is not a referrer either.
    assert_eq!(tls.cmd("MAIL FROM:<>\r\n").await, 550);
    // Still usable: an allowed sender goes through.
    assert_eq!(tls.cmd(&format!("MAIL FROM:<{SENDER}>\r\n")).await, 250);
    // Refusals are counted by reason, for operators.
    let metrics = metrics_text(&app).await;
    assert!(
        metrics.contains(r#"event="smtp_refused",reason="sender-not-allowed"} 2"#),
        "{metrics}"
    );
}

async fn metrics_text(app: &TestApp) -> String {
    let mut resp = app
        .anonymous()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap();
    String::from_utf8(resp.body().await.unwrap().to_vec()).unwrap()
}

#[actix_web::test]
async fn an_unknown_recipient_is_refused_with_550_no_relaying() {
    let app = spawn_smtp_app().await;
    let mut tls = secure(&app).await;
    assert_eq!(tls.cmd(&format!("MAIL FROM:<{SENDER}>\r\n")).await, 250);
    tls.send("RCPT TO:<victim@example.org>\r\n").await;
    let (code, text) = tls.reply().await;
    assert_eq!(code, 550);
    assert!(text.starts_with("550 5.7.1"), "{text}");
    assert_eq!(tls.cmd("DATA\r\n").await, 554, "no valid recipient yet");
    // Referral addresses match without regard to case.
    assert_eq!(tls.cmd("RCPT TO:<Referrals@REFGATE.test>\r\n").await, 250);
}

#[actix_web::test]
async fn lettre_sees_the_refusals_as_permanent_errors() {
    let app = spawn_smtp_app().await;
    let client = lettre_client(&app);
    let message = letter_in_body(SENDER, b"Dear colleague");
    let err = client
        .send_raw(&envelope("nobody@elsewhere.test", REFERRALS), &message)
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
    let err = client
        .send_raw(&envelope(SENDER, "other@refgate.test"), &message)
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
}

#[actix_web::test]
async fn a_declared_size_over_the_limit_is_refused_with_552_before_data() {
    let app = spawn_smtp_app().await;
    let mut tls = secure(&app).await;
    tls.send(&format!("MAIL FROM:<{SENDER}> SIZE=70000\r\n"))
        .await;
    let (code, text) = tls.reply().await;
    assert_eq!(code, 552);
    assert!(text.starts_with("552 5.3.4"), "{text}");
    assert_eq!(
        tls.cmd(&format!("MAIL FROM:<{SENDER}> SIZE=1000\r\n"))
            .await,
        250
    );
}

#[actix_web::test]
async fn a_message_over_the_limit_is_refused_with_552_and_the_session_goes_on() {
    let app = spawn_smtp_app().await;
    let mut tls = secure(&app).await;
    let big = "x".repeat(70) + "\r\n";
    let big = big.repeat(2000); // 144 kB, over the 64 KiB limit
    let (code, text) = send_message(&mut tls, SENDER, big.as_bytes()).await;
    assert_eq!(code, 552, "{text}");
    // The same connection takes the next message.
    let letter = letter_in_body(SENDER, &fixture("letters/F01.txt"));
    let (code, text) = send_message(&mut tls, SENDER, &letter).await;
    assert_eq!(code, 250, "{text}");
    assert!(text.starts_with("250 2.0.0"), "{text}");
    assert_eq!(tls.cmd("QUIT\r\n").await, 221);
    wait_for_inbox(&app, NORTH, 1).await;
}

#[actix_web::test]
async fn a_silent_client_is_told_421_and_disconnected() {
    let app = spawn_smtp_app_with(|s| s.command_timeout_secs = 1).await;
    let mut raw = connect(&app).await;
    let started = tokio::time::Instant::now();
    let (code, text) = raw.reply().await;
    assert_eq!(code, 421, "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(raw.reply().await.0, 0, "the server closed the connection");
}

#[actix_web::test]
async fn a_client_stalling_inside_data_is_told_421() {
    let app = spawn_smtp_app_with(|s| s.command_timeout_secs = 1).await;
    let mut tls = secure(&app).await;
    assert_eq!(tls.cmd(&format!("MAIL FROM:<{SENDER}>\r\n")).await, 250);
    assert_eq!(tls.cmd(&format!("RCPT TO:<{REFERRALS}>\r\n")).await, 250);
    assert_eq!(tls.cmd("DATA\r\n").await, 354);
    tls.send("Subject: half a message\r\n").await;
    assert_eq!(tls.reply().await.0, 421);
}

#[actix_web::test]
async fn a_client_trickling_a_command_or_a_message_is_cut_off_at_the_deadline() {
    let app = spawn_smtp_app_with(|s| {
        s.command_timeout_secs = 1;
        s.data_timeout_secs = 2;
    })
    .await;
    // A byte every 200 ms never lets a read time out; the whole command must.
    let mut raw = connect(&app).await;
    let started = tokio::time::Instant::now();
    let mut code = 0;
    for _ in 0..50 {
        // The server may have closed already: a failed write is not the failure here.
        let _ = raw.io.get_mut().write_all(b"N").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), raw.io.fill_buf()).await
            && !n.is_empty()
        {
            code = raw.reply().await.0;
            break;
        }
    }
    assert_eq!(code, 421, "cut off after {:?}", started.elapsed());

    // The same inside DATA: each line is quick, the message as a whole is not.
    let mut tls = secure(&app).await;
    assert_eq!(tls.cmd(&format!("MAIL FROM:<{SENDER}>\r\n")).await, 250);
    assert_eq!(tls.cmd(&format!("RCPT TO:<{REFERRALS}>\r\n")).await, 250);
    assert_eq!(tls.cmd("DATA\r\n").await, 354);
    let started = tokio::time::Instant::now();
    let mut code = 0;
    for _ in 0..50 {
        let _ = tls
            .io
            .get_mut()
            .write_all(b"a line of a very slow letter\r\n")
            .await;
        let _ = tls.io.get_mut().flush().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), tls.io.fill_buf()).await
            && !n.is_empty()
        {
            code = tls.reply().await.0;
            break;
        }
    }
    assert_eq!(code, 421, "cut off after {:?}", started.elapsed());
}

#[actix_web::test]
async fn connections_beyond_the_per_ip_limit_get_421() {
    let app = spawn_smtp_app_with(|s| s.max_connections_per_ip = 2).await;
    let _first = connect(&app).await;
    let _second = connect(&app).await;
    let tcp = TcpStream::connect(("127.0.0.1", smtp_port(&app)))
        .await
        .unwrap();
    let mut third = Raw {
        io: BufReader::new(tcp),
    };
    let (code, text) = third.reply().await;
    assert_eq!(code, 421, "{text}");
    assert_eq!(third.reply().await.0, 0, "and closed");
    // A place freed is a place taken.
    drop(_first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let tcp = TcpStream::connect(("127.0.0.1", smtp_port(&app)))
            .await
            .unwrap();
        let mut next = Raw {
            io: BufReader::new(tcp),
        };
        if next.reply().await.0 == 220 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no place was freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn connections_beyond_the_global_limit_get_421() {
    let app = spawn_smtp_app_with(|s| s.max_connections = 1).await;
    let _first = connect(&app).await;
    let tcp = TcpStream::connect(("127.0.0.1", smtp_port(&app)))
        .await
        .unwrap();
    let mut second = Raw {
        io: BufReader::new(tcp),
    };
    assert_eq!(second.reply().await.0, 421);
}

#[actix_web::test]
async fn commands_pipelined_behind_starttls_are_not_executed_inside_tls() {
    let app = spawn_smtp_app().await;
    let mut raw = connect(&app).await;
    assert_eq!(raw.cmd("EHLO client.test\r\n").await, 250);
    // CVE-2011-0411: an attacker in the middle appends commands to the plaintext
    // STARTTLS packet, hoping they run in the client's TLS session.
    raw.send(&format!(
        "STARTTLS\r\nEHLO evil.test\r\nMAIL FROM:<{SENDER}>\r\nRCPT TO:<{REFERRALS}>\r\n"
    ))
    .await;
    assert_eq!(raw.reply().await.0, 220);
    let mut tls = handshake(&app, raw).await;
    // Had the injected commands run, DATA would be accepted (354) and their replies
    // would come first. Instead this is a fresh session that has seen nothing.
    tls.send("DATA\r\n").await;
    let (code, text) = tls.reply().await;
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("EHLO"), "{text}");
}

#[actix_web::test]
async fn over_long_lines_and_unknown_commands_get_5xx_and_the_session_goes_on() {
    let app = spawn_smtp_app().await;
    let mut raw = connect(&app).await;
    raw.send(&format!("NOOP {}\r\n", "a".repeat(10_000))).await;
    assert_eq!(raw.reply().await.0, 500);
    assert_eq!(raw.cmd("FROB\r\n").await, 500);
    assert_eq!(raw.cmd("MAIL FROM:<bad address\r\n").await / 100, 5);
    assert_eq!(raw.cmd("NOOP\r\n").await, 250);
    assert_eq!(raw.cmd("RSET\r\n").await, 250);
    assert_eq!(raw.cmd("HELO client.test\r\n").await, 250);
}

#[actix_web::test]
async fn header_injection_in_the_envelope_is_refused_and_never_echoed() {
    let app = spawn_smtp_app().await;
    let mut tls = secure(&app).await;
    tls.send(&format!(
        "MAIL FROM:<{SENDER}\r\nBcc: victim@example.org>\r\n"
    ))
    .await;
    let (code, text) = tls.reply().await;
    assert_eq!(code / 100, 5, "{text}");
    let (code, text) = tls.reply().await;
    assert_eq!(code / 100, 5, "{text}");
    assert!(!text.contains("victim"), "{text}");
    assert_eq!(tls.cmd("NOOP\r\n").await, 250);
}

#[actix_web::test]
async fn a_spooled_message_is_processed_after_a_restart_even_with_the_listener_switched_off() {
    let mut app = spawn_smtp_app().await;
    app.stop().await;
    // While the gateway is down, an entry as the listener commits it (250 sent, not yet
    // processed): the state a crash right after the 250 leaves behind.
    let store = SqliteStore::open(&app.db_path()).await.unwrap();
    let keys = DataKeys::load(&app.settings.keys.data_key).unwrap();
    let id = MailId::new();
    let message = letter_in_body(SENDER, &fixture("letters/F01.txt"));
    store
        .spool_mail(NewMail {
            id,
            org: OrgId::parse(MSK).unwrap(),
            received_at: chrono::Utc::now(),
            size: message.len(),
            sender_sealed: keys
                .seal(SENDER.as_bytes(), id.sender_context().as_bytes())
                .unwrap(),
            message_sealed: keys
                .seal(&message, id.message_context().as_bytes())
                .unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(store.pending_mail(10).await.unwrap().len(), 1);
    store.close().await;

    // Restarted without `[smtp]`: what was accepted is still read.
    app.settings.smtp = None;
    let mut app = app.restart().await;
    assert_eq!(app.smtp_port, None);
    wait_for_inbox(&app, NORTH, 1).await;
    app.stop().await;
    let store = SqliteStore::open(&app.db_path()).await.unwrap();
    let status = store.spool_status(id).await.unwrap();
    assert_eq!(status.state, refgate::store::SpoolState::Done);
    assert!(status.referral_id.is_some());
    assert!(store.pending_mail(10).await.unwrap().is_empty());
    store.close().await;
}

#[actix_web::test]
async fn an_email_without_a_letter_is_kept_as_failed_not_lost() {
    let app = spawn_smtp_app().await;
    let mut tls = secure(&app).await;
    let empty = format!("From: <{SENDER}>\r\nSubject: nothing\r\n\r\n \r\n");
    let (code, text) = send_message(&mut tls, SENDER, empty.as_bytes()).await;
    assert_eq!(code, 250, "{text}");
    let id = text.trim().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(tls.cmd("QUIT\r\n").await, 221);
    let rows = wait_until_processed(&app, 1).await;
    assert_eq!(rows, vec![(id, "failed".into(), Some("no-letter".into()))]);
}

#[actix_web::test]
async fn no_address_or_letter_text_reaches_the_logs() {
    let app = spawn_smtp_app().await;
    let sender = "quillonby.secretary@rcb55.nhs.test";
    let letter = String::from_utf8(fixture("letters/F01.txt"))
        .unwrap()
        .replace("PEARSON", "VEXWORTHYSMTP");
    let mut tls = secure(&app).await;
    let message = letter_in_body(sender, letter.as_bytes());
    let (code, _) = send_message(&mut tls, sender, &message).await;
    assert_eq!(code, 250);
    tls.send("MAIL FROM:<stranger.quillonby@elsewhere.test>\r\n")
        .await;
    assert_eq!(tls.reply().await.0, 550);
    wait_for_inbox(&app, NORTH, 1).await;
    let logs = captured_logs();
    assert!(logs.contains("email spooled"), "the capture works");
    for needle in ["quillonby", "VEXWORTHYSMTP"] {
        assert!(!logs.contains(needle), "{needle} leaked into the logs");
    }
}

#[actix_web::test]
async fn a_client_making_error_after_error_is_disconnected_with_421() {
    let app = spawn_smtp_app().await;
    let mut raw = connect(&app).await;
    raw.send(&"FROB\r\n".repeat(30)).await;
    let mut codes = Vec::new();
    loop {
        let (code, _) = raw.reply().await;
        if code == 0 {
            break;
        }
        codes.push(code);
    }
    assert_eq!(codes.last(), Some(&421), "{codes:?}");
    assert!(
        codes[..codes.len() - 1].iter().all(|&c| c == 500),
        "{codes:?}"
    );
}

#[actix_web::test]
async fn stopping_the_gateway_tells_open_sessions_421() {
    let mut app = spawn_smtp_app().await;
    let mut tls = secure(&app).await;
    app.stop().await;
    let (code, text) = tls.reply().await;
    assert_eq!(code, 421, "{text}");
}

#[actix_web::test]
async fn the_spool_audits_each_step_and_finishing_twice_changes_nothing() {
    use refgate::store::{MailOutcome, SpoolState, StoreError};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("spool.db"))
        .await
        .unwrap();
    let keys = DataKeys::from_master(&[7; 32]);
    let org = OrgId::parse(MSK).unwrap();
    let spool = |id: MailId| NewMail {
        id,
        org: org.clone(),
        received_at: chrono::Utc::now(),
        size: 5,
        sender_sealed: keys.seal(b"s", id.sender_context().as_bytes()).unwrap(),
        message_sealed: keys
            .seal(b"hello", id.message_context().as_bytes())
            .unwrap(),
    };
    let (done, failed) = (MailId::new(), MailId::new());
    store.spool_mail(spool(done)).await.unwrap();
    store.spool_mail(spool(failed)).await.unwrap();
    let pending = store.pending_mail(10).await.unwrap();
    assert_eq!(pending.len(), 2);
    let opened = keys
        .open(
            &pending[0].message_sealed,
            pending[0].id.message_context().as_bytes(),
        )
        .unwrap();
    assert_eq!(opened, b"hello", "sealed under mail/<id>");

    let referral = refgate::domain::ReferralId::new();
    let now = chrono::Utc::now();
    store
        .finish_mail(done, MailOutcome::Done(referral), now)
        .await
        .unwrap();
    store
        .finish_mail(failed, MailOutcome::Failed("no-letter"), now)
        .await
        .unwrap();
    // A second finish (a re-run after a crash) keeps the first outcome.
    store
        .finish_mail(done, MailOutcome::Failed("invalid"), now)
        .await
        .unwrap();
    let status = store.spool_status(done).await.unwrap();
    assert_eq!(status.state, SpoolState::Done);
    assert_eq!(status.referral_id, Some(referral));
    let status = store.spool_status(failed).await.unwrap();
    assert_eq!(
        (status.state, status.reason.as_deref()),
        (SpoolState::Failed, Some("no-letter"))
    );
    assert!(store.pending_mail(10).await.unwrap().is_empty());
    assert!(matches!(
        store
            .finish_mail(MailId::new(), MailOutcome::Failed("x"), now)
            .await,
        Err(StoreError::NotFound)
    ));

    let events = store.audit_events().await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "mail-spooled",
            "mail-spooled",
            "mail-processed",
            "mail-processed"
        ]
    );
    assert_eq!(events[2].referral_id, Some(referral.to_string()));
    assert_eq!(events[3].outcome, "failure");
    assert_eq!(refgate::audit::verify(events).ok(), Some(4));
    store.close().await;
}
