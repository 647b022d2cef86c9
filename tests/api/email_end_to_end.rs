//! The email channel from end to end: a referrer's mail client sends over SMTP with
//! STARTTLS (lettre), the gateway reads the message, the referral reaches the
//! provider's inbox with the record read from the carried letter, and the sender's
//! acknowledgement arrives at a real relay (the capture server) with the reference
//! and the state, and without patient identifiers.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use refgate::config::{MailSettings, SmtpSettings};
use refgate::init::write_dev_pki;
use serde_json::Value;

use crate::helpers::*;
use crate::mail_sink::{Captured, MailSink};

const REFERRALS: &str = "referrals@refgate.test";
const SENDER: &str = "msk.secretary@example.nhs.uk";
const WAIT: Duration = Duration::from_secs(30);

struct Gateway {
    app: TestApp,
    relay: MailSink,
    _relay_dir: tempfile::TempDir,
}

/// A gateway with its SMTP listener and a relay for replies; the MSK clinic may send
/// from its domain.
async fn gateway() -> Gateway {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay_pki = write_dev_pki(relay_dir.path(), &[]).unwrap();
    let relay = MailSink::start(&relay_pki).await;
    let mail = MailSettings {
        relay_host: "localhost".into(),
        relay_port: relay.port,
        from: "refgate@refgate.test".into(),
        ca: Some(relay_pki.ca.clone()),
        notify_status: true,
        max_attempts: 5,
    };
    let app = spawn_app_with(move |s, _| {
        s.server.max_body_bytes = 4 * 1024 * 1024;
        s.smtp = Some(SmtpSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            hostname: "localhost".into(),
            referral_addresses: vec![REFERRALS.into()],
            max_message_bytes: 4 * 1024 * 1024,
            max_connections: 32,
            max_connections_per_ip: 8,
            command_timeout_secs: 10,
            data_timeout_secs: 20,
        });
        s.mail = Some(mail);
        let msk = refgate::domain::OrgId::parse(MSK).unwrap();
        for org in &mut s.organisations {
            if org.id == msk {
                org.email_senders = vec!["@example.nhs.uk".into()];
            }
        }
    })
    .await;
    Gateway {
        app,
        relay,
        _relay_dir: relay_dir,
    }
}

impl Gateway {
    fn client(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        let ca = Certificate::from_pem(&std::fs::read(&self.app.pki.ca).unwrap()).unwrap();
        let tls = TlsParameters::builder("localhost".into())
            .add_root_certificate(ca)
            .build_rustls()
            .unwrap();
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(self.app.smtp_port.unwrap())
            .tls(Tls::Required(tls))
            .timeout(Some(Duration::from_secs(20)))
            .build()
    }

    /// Sends `message` as it is and waits for the acknowledgement numbered `n` (1-based).
    async fn send(&self, message: &[u8], n: usize) -> Ack {
        let envelope = Envelope::new(
            Some(SENDER.parse().unwrap()),
            vec![REFERRALS.parse().unwrap()],
        )
        .unwrap();
        let response = self.client().send_raw(&envelope, message).await.unwrap();
        assert!(response.is_positive());
        let replies = self.relay.wait_for(n, WAIT).await;
        Ack::read(&replies[n - 1])
    }
}

/// An acknowledgement as the sender's mailbox receives it.
struct Ack {
    to: Vec<String>,
    subject: String,
    text: String,
    reference: Option<String>,
}

impl Ack {
    fn read(mail: &Captured) -> Ack {
        let text = mail.text();
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_owned();
        let reference = text
            .lines()
            .find_map(|l| l.strip_prefix("Gateway reference: "))
            .map(|r| r.trim().to_owned());
        Ack {
            to: mail.to.clone(),
            subject,
            text,
            reference,
        }
    }
}

fn truth(name: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("truth/{name}.json"))).unwrap()
}

#[actix_web::test]
async fn every_fixture_email_becomes_the_referral_of_its_letter_and_is_acknowledged() {
    let gw = gateway().await;
    let mut seen_nhs: Vec<String> = Vec::new();
    for (n, name) in (1..=12).map(|i| format!("FE{i:02}")).enumerate() {
        let message = fixture(&format!("emails/{name}.eml"));
        let ack = gw.send(&message, n + 1).await;
        let expected = truth(&name);
        let nhs = expected["patient"]["nhs_number"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(ack.to, [SENDER], "{name}: the reply goes to the sender");
        assert!(
            !ack.text.contains(&nhs),
            "{name}: no NHS number in the reply"
        );
        let reference = ack
            .reference
            .clone()
            .unwrap_or_else(|| panic!("{name}: no reference in the acknowledgement: {}", ack.text));
        // The referral the sender can follow with that reference is the letter's.
        let (status, view) = gw.app.get(MSK, &format!("/referrals/{reference}")).await;
        assert_eq!(status, 200, "{name}: {view}");
        assert_eq!(view["record"]["patient"]["nhs_number"], nhs, "{name}");
        let state = view["state"].as_str().unwrap();
        let told = if ack.text.contains("State: accepted") {
            "ready"
        } else if ack.text.contains("State: held for review") {
            "needs-review"
        } else {
            panic!("{name}: unexpected acknowledgement: {}", ack.text)
        };
        assert_eq!(state, told, "{name}: the reply tells the referral's state");
        assert!(ack.subject.contains(&reference), "{name}: {}", ack.subject);
        // The same letter emailed again (several fixtures carry one letter) is one
        // referral, and the sender is told so.
        let repeat = seen_nhs.contains(&nhs);
        assert_eq!(
            ack.text.contains("had already been received"),
            repeat,
            "{name}: duplicate told"
        );
        seen_nhs.push(nhs);
    }
    let (_, inbox) = gw.app.get(NORTH, "/inbox").await;
    let (_, west) = gw.app.get(WEST, "/inbox").await;
    let mut unique = seen_nhs.clone();
    unique.sort();
    unique.dedup();
    let (_, review) = gw.app.get(OPS, "/review").await;
    let total = inbox["count"].as_u64().unwrap()
        + west["count"].as_u64().unwrap()
        + review["count"].as_u64().unwrap_or(0);
    assert_eq!(total, unique.len() as u64, "one referral per letter");
}

#[actix_web::test]
async fn a_letter_that_is_not_a_referral_and_an_email_without_a_letter_are_answered_as_such() {
    let gw = gateway().await;
    // F06 is a clinic letter to the GP saying no referral was made.
    let letter = String::from_utf8(fixture("letters/F06.txt")).unwrap();
    let not_a_referral = format!(
        "From: <{SENDER}>\r\nTo: <{REFERRALS}>\r\nSubject: Clinic letter\r\n\
         Message-ID: <f06.1@example.nhs.uk>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}",
        letter.replace('\n', "\r\n")
    );
    let ack = gw.send(not_a_referral.as_bytes(), 1).await;
    assert!(
        ack.subject.starts_with("Email not read as a referral"),
        "{}",
        ack.subject
    );
    assert!(ack.text.contains("In-Reply-To: <f06.1@example.nhs.uk>"));

    let no_letter = format!(
        "From: <{SENDER}>\r\nTo: <{REFERRALS}>\r\nSubject: Photo\r\n\
         MIME-Version: 1.0\r\nContent-Type: image/png\r\n\
         Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
    );
    let ack = gw.send(no_letter.as_bytes(), 2).await;
    assert!(
        ack.subject.starts_with("Referral not accepted"),
        "{}",
        ack.subject
    );
    assert!(ack.text.contains("no-letter"), "{}", ack.text);
    assert_eq!(ack.reference, None);
}
