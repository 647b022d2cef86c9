//! Outgoing mail over real SMTP + STARTTLS to a capture server on loopback:
//! acknowledgements, retries and giving up, status notifications, email delivery to
//! email-only providers, and the outbox surviving a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use awc::http::StatusCode;
use mail_parser::{MessageParser, MimeHeaders};
use refgate::clock::Clock;
use refgate::config::{Delivery, MailSettings, Settings};
use refgate::crypto::DataKeys;
use refgate::deliver::mailer;
use refgate::domain::{OrgId, ReferralId};
use refgate::feedback::reply::{AckState, Acknowledgement, queue_acknowledgement};
use refgate::init::write_dev_pki;
use refgate::outbox::MailContext;
use refgate::store::sqlite::SqliteStore;
use refgate::store::{MailState, Store};
use refgate::telemetry::metrics::Metrics;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::*;
use crate::mail_sink::MailSink;

const SENDER: &str = "msk.secretary@rcb.example.nhs.uk";
const WAIT: Duration = Duration::from_secs(20);

fn mail_settings(sink: &MailSink, ca: &Path) -> MailSettings {
    MailSettings {
        relay_host: "localhost".into(),
        relay_port: sink.port,
        from: "refgate@refgate.test".into(),
        ca: Some(ca.to_owned()),
        notify_status: true,
        max_attempts: 5,
    }
}

/// The outbox on its own: a store, keys and a relay (the capture server, with its
/// own CA as a real relay would have), without the HTTPS gateway.
struct Outbox {
    dir: tempfile::TempDir,
    sink: MailSink,
    settings: Settings,
}

impl Outbox {
    async fn new() -> Outbox {
        let dir = tempfile::tempdir().unwrap();
        let relay_pki = write_dev_pki(&dir.path().join("relay"), &[]).unwrap();
        let sink = MailSink::start(&relay_pki).await;
        let ids: Vec<OrgId> = [MSK, GP, NORTH, WEST, OPS]
            .iter()
            .map(|s| OrgId::parse(s).unwrap())
            .collect();
        let pki = write_dev_pki(&dir.path().join("certs"), &ids).unwrap();
        let mut settings = test_settings(dir.path(), &pki);
        settings.mail = Some(mail_settings(&sink, &relay_pki.ca));
        Outbox {
            dir,
            sink,
            settings,
        }
    }

    /// Opens the store and builds the mail context (as `App::build` does).
    async fn open(&self) -> (Arc<SqliteStore>, MailContext, Arc<Metrics>) {
        refgate::tls::install_crypto_provider();
        let store = Arc::new(
            SqliteStore::open(&self.dir.path().join("outbox.db"))
                .await
                .unwrap(),
        );
        let keys = Arc::new(DataKeys::load(&self.settings.keys.data_key).unwrap());
        let metrics = Arc::new(Metrics::new());
        let ctx = MailContext::from_settings(
            &self.settings,
            store.clone(),
            keys,
            Clock::system(),
            metrics.clone(),
        )
        .unwrap()
        .expect("mail is configured");
        (store, ctx, metrics)
    }
}

fn ack(state: AckState) -> Acknowledgement {
    Acknowledgement {
        to: SENDER.into(),
        in_reply_to: Some("<letter-1@rcb.example.nhs.uk>".into()),
        reference: Some(ReferralId::new()),
        state,
        duplicate: false,
    }
}

fn worker(ctx: &MailContext) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    (stop.clone(), tokio::spawn(mailer::run(ctx.clone(), stop)))
}

async fn wait_state(store: &dyn Store, id: Uuid, want: MailState) -> refgate::store::MailStatus {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = store.mail_status(id).await.unwrap();
        if status.state == want {
            return status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

#[tokio::test]
async fn an_acknowledgement_arrives_with_the_reference_and_the_state() {
    let outbox = Outbox::new().await;
    let (store, ctx, _) = outbox.open().await;
    let (stop, task) = worker(&ctx);
    let a = ack(AckState::HeldForReview);
    let id = Uuid::new_v4();
    queue_acknowledgement(&ctx, id, &a).await.unwrap();

    let got = outbox.sink.wait_for(1, WAIT).await;
    let mail = &got[0];
    assert_eq!(mail.to, vec![SENDER.to_owned()]);
    assert_eq!(mail.from, "refgate@refgate.test");
    let text = mail.text();
    let reference = a.reference.unwrap().to_string();
    let parsed = MessageParser::default().parse(&mail.data).unwrap();
    assert!(parsed.subject().unwrap().contains(&reference), "{text}");
    assert_eq!(
        header(&text, "In-Reply-To"),
        Some("<letter-1@rcb.example.nhs.uk>")
    );
    assert_eq!(header(&text, "Auto-Submitted"), Some("auto-replied"));
    let body = parsed.body_text(0).unwrap();
    assert!(
        body.contains(&format!("Gateway reference: {reference}")),
        "{body}"
    );
    assert!(
        body.contains("held for review by the gateway team"),
        "{body}"
    );
    wait_state(store.as_ref(), id, MailState::Sent).await;

    // Queuing the same acknowledgement again (a crash before the spool was marked
    // done) sends nothing more.
    queue_acknowledgement(&ctx, id, &a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(outbox.sink.messages().len(), 1);
    stop.cancel();
    task.await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn a_relay_answering_451_twice_then_ok_gets_the_message_once() {
    let outbox = Outbox::new().await;
    outbox.sink.fail_next(2);
    let (store, ctx, _) = outbox.open().await;
    let (stop, task) = worker(&ctx);
    let id = Uuid::new_v4();
    queue_acknowledgement(&ctx, id, &ack(AckState::Accepted))
        .await
        .unwrap();

    outbox.sink.wait_for(1, WAIT).await;
    let status = wait_state(store.as_ref(), id, MailState::Sent).await;
    assert_eq!(status.attempts, 3, "two refusals, then sent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(outbox.sink.messages().len(), 1);
    assert_eq!(outbox.sink.attempts(), 3);
    stop.cancel();
    task.await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn a_relay_answering_550_makes_the_gateway_give_up_audit_and_count_it() {
    let outbox = Outbox::new().await;
    outbox.sink.refuse_all(true);
    let (store, ctx, metrics) = outbox.open().await;
    let (stop, task) = worker(&ctx);
    let id = Uuid::new_v4();
    let a = ack(AckState::Rejected {
        reason: "not-a-referral-letter".into(),
    });
    queue_acknowledgement(&ctx, id, &a).await.unwrap();

    let status = wait_state(store.as_ref(), id, MailState::GivenUp).await;
    assert_eq!(status.attempts, 1, "a permanent refusal is not retried");
    assert_eq!(status.last_error.as_deref(), Some("permanent"));
    let events = store.audit_events().await.unwrap();
    let given_up = events
        .iter()
        .find(|e| e.action == "mail-given-up")
        .expect("giving up is audited");
    assert_eq!(given_up.outcome, "failure");
    assert_eq!(
        given_up.referral_id.as_deref(),
        Some(a.reference.unwrap().to_string().as_str())
    );
    assert!(!given_up.detail.as_deref().unwrap().contains('@'));
    let rendered = metrics.render();
    assert!(
        rendered
            .lines()
            .any(|l| l.starts_with("refgate_outbound_mail_total")
                && l.contains(r#"outcome="given_up""#)
                && l.ends_with(" 1")),
        "{rendered}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(outbox.sink.attempts(), 1);
    stop.cancel();
    task.await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn queued_mail_is_sent_after_a_restart_and_never_twice() {
    let outbox = Outbox::new().await;
    let id = Uuid::new_v4();
    {
        // Queued, then the gateway stops before the worker sends it.
        let (store, ctx, _) = outbox.open().await;
        queue_acknowledgement(&ctx, id, &ack(AckState::Accepted))
            .await
            .unwrap();
        store.close().await;
    }
    assert!(outbox.sink.messages().is_empty());
    for _ in 0..2 {
        let (store, ctx, _) = outbox.open().await;
        let (stop, task) = worker(&ctx);
        outbox.sink.wait_for(1, WAIT).await;
        wait_state(store.as_ref(), id, MailState::Sent).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.cancel();
        task.await.unwrap();
        store.close().await;
    }
    assert_eq!(
        outbox.sink.messages().len(),
        1,
        "sent once over two restarts"
    );
}

/// A gateway with a relay; `adjust` changes the settings further.
async fn app_with_relay(
    adjust: impl FnOnce(&mut Settings),
) -> (TestApp, MailSink, tempfile::TempDir) {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay_pki = write_dev_pki(relay_dir.path(), &[]).unwrap();
    let sink = MailSink::start(&relay_pki).await;
    let settings = mail_settings(&sink, &relay_pki.ca);
    let app = spawn_app_with(|s, _| {
        s.mail = Some(settings);
        adjust(s);
    })
    .await;
    (app, sink, relay_dir)
}

fn org_mut<'a>(s: &'a mut Settings, id: &str) -> &'a mut refgate::config::Organisation {
    let id = OrgId::parse(id).unwrap();
    s.organisations.iter_mut().find(|o| o.id == id).unwrap()
}

#[actix_web::test]
async fn the_referrer_is_told_when_the_provider_acknowledges() {
    let (app, sink, _relay) = app_with_relay(|s| {
        org_mut(s, MSK).notify_email = Some(SENDER.into());
    })
    .await;
    let (status, body) = app
        .post_referral(MSK, "application/json", flat_referral().to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap();
    let provider = body["provider"].as_str().unwrap();
    app.get(provider, &format!("/inbox/{id}")).await;
    assert!(sink.messages().is_empty(), "a download is not told");
    let (status, _) = app.acknowledge(provider, id).await;
    assert_eq!(status, StatusCode::OK);

    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got[0].to, vec![SENDER.to_owned()]);
    let text = got[0].text();
    let parsed = MessageParser::default().parse(&got[0].data).unwrap();
    let subject = parsed.subject().unwrap();
    assert!(
        subject.contains(id) && subject.contains("received by the provider"),
        "{subject}"
    );
    for needle in [
        "9990000018",
        "Fixturewoman",
        "Testa",
        "1980-02-29",
        "HG2 0DJ",
        "Fibromyalgia",
    ] {
        assert!(!text.contains(needle), "{needle} in the notification");
    }
    // A second acknowledgement is refused and tells nobody again.
    let (status, _) = app.acknowledge(provider, id).await;
    assert_ne!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1);
    let logs = captured_logs();
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(SENDER)).collect();
    assert!(
        leaks.is_empty(),
        "addresses stay out of the logs: {leaks:?}"
    );
}

#[actix_web::test]
async fn an_email_only_provider_receives_the_referral_with_the_original_document() {
    let (app, sink, _relay) = app_with_relay(|s| {
        for (org, address) in [
            (NORTH, "intake@north.example.nhs.uk"),
            (WEST, "intake@west.example.nhs.uk"),
        ] {
            let o = org_mut(s, org);
            o.delivery = Delivery::Email;
            o.delivery_email = Some(address.into());
        }
    })
    .await;
    let letter = fixture("letters/F01.txt");
    let (status, body) = app.post_referral(MSK, "text/plain", letter.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "ready");
    let id = body["id"].as_str().unwrap();
    let provider = body["provider"].as_str().unwrap();
    let address = if provider == NORTH {
        "intake@north.example.nhs.uk"
    } else {
        "intake@west.example.nhs.uk"
    };

    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got[0].to, vec![address.to_owned()]);
    let parsed = MessageParser::default().parse(&got[0].data).unwrap();
    assert!(parsed.subject().unwrap().contains(id));
    assert!(
        parsed.body_text(0).unwrap().contains("9990702314"),
        "the summary"
    );
    let attachment = |suffix: &str| {
        parsed
            .attachments()
            .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(suffix)))
            .unwrap_or_else(|| panic!("no {suffix} attachment"))
            .contents()
            .to_vec()
    };
    assert_eq!(
        attachment("original-letter.txt"),
        letter,
        "the clinician's own words"
    );
    let bundle: serde_json::Value = serde_json::from_slice(&attachment(".fhir.json")).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["id"], id);

    let (_, view) = app.get(MSK, &format!("/referrals/{id}")).await;
    assert_eq!(view["state"], "delivered");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 1, "delivered once");
    let logs = captured_logs();
    for needle in [
        "9990702314",
        "intake@north.example.nhs.uk",
        "intake@west.example.nhs.uk",
    ] {
        assert!(!logs.contains(needle), "{needle} in the logs");
    }
}

#[actix_web::test]
async fn an_email_delivery_the_relay_refuses_puts_the_referral_in_the_dead_letters() {
    let (app, sink, _relay) = app_with_relay(|s| {
        for org in [NORTH, WEST] {
            let o = org_mut(s, org);
            o.delivery = Delivery::Email;
            o.delivery_email = Some("intake@provider.example.nhs.uk".into());
        }
    })
    .await;
    sink.refuse_all(true);
    let (status, body) = app
        .post_referral(MSK, "application/json", flat_referral().to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap();

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, view) = app.get(MSK, &format!("/referrals/{id}")).await;
        if view["state"] == "dead-letter" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sink.attempts(), 1, "refused for good: not retried");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn status_notifications_go_to_the_address_an_emailed_referral_came_from() {
    use refgate::audit::Action;
    use refgate::domain::{State, Urgency};
    use refgate::feedback::reply::{commit_status_change, remember_reply_address};
    use refgate::store::{NewReferral, StatusChange};

    let outbox = Outbox::new().await;
    let (store, ctx, _) = outbox.open().await;
    let (stop, task) = worker(&ctx);
    let id = ReferralId::new();
    let north = OrgId::parse(NORTH).unwrap();
    // Only the summary is read for a notification, never the sealed record.
    let new = NewReferral {
        id,
        referrer: OrgId::parse(MSK).unwrap(),
        channel: "email",
        state: State::Ready,
        provider: Some(north.clone()),
        urgency: Urgency::Routine,
        received_at: chrono::Utc::now(),
        idempotency_hash: None,
        content_hash: *Uuid::new_v4().as_bytes().repeat(2).first_chunk().unwrap(),
        match_hash: None,
        record_sealed: vec![0; 32],
        document: None,
        audit_detail: None,
        supporting: Vec::new(),
    };
    store.accept_referral(new).await.unwrap();
    let sender = "Dr.Who@Clinic.example.nhs.uk";
    remember_reply_address(&ctx, id, sender).await.unwrap();
    let change = |to, action, reason: Option<&str>| StatusChange {
        id,
        actor: north.clone(),
        provider: Some(north.clone()),
        to,
        reason: reason.map(str::to_owned),
        action,
        at: chrono::Utc::now(),
    };
    for (to, action, reason) in [
        (State::Delivered, Action::Download, None),
        (State::Acknowledged, Action::Acknowledge, None),
        (
            State::Rejected,
            Action::StatusChange,
            Some("outside-criteria"),
        ),
    ] {
        commit_status_change(store.as_ref(), Some(&ctx), change(to, action, reason))
            .await
            .unwrap();
    }

    let got = outbox.sink.wait_for(2, WAIT).await;
    let parsed: Vec<_> = got
        .iter()
        .map(|m| {
            assert_eq!(m.to, vec![sender.to_owned()]);
            let p = MessageParser::default().parse(&m.data).unwrap();
            (
                p.subject().unwrap().to_owned(),
                p.body_text(0).unwrap().into_owned(),
            )
        })
        .collect();
    assert!(
        parsed[0].0.contains("received by the provider"),
        "{parsed:?}"
    );
    assert!(parsed[1].0.contains("not accepted"), "{parsed:?}");
    assert!(
        parsed[1].1.contains("Reason: outside-criteria"),
        "{parsed:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(outbox.sink.messages().len(), 2, "a download is not told");
    stop.cancel();
    task.await.unwrap();
    store.close().await;
}

#[actix_web::test]
async fn a_notification_the_relay_deferred_is_sent_once_after_the_gateway_restarts() {
    let (app, sink, _relay) = app_with_relay(|s| {
        org_mut(s, MSK).notify_email = Some(SENDER.into());
    })
    .await;
    sink.fail_next(u32::MAX);
    let (_, body) = app
        .post_referral(MSK, "application/json", flat_referral().to_string())
        .await;
    let id = body["id"].as_str().unwrap();
    let provider = body["provider"].as_str().unwrap();
    app.get(provider, &format!("/inbox/{id}")).await;
    app.acknowledge(provider, id).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while sink.attempts() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let app = app.restart().await;
    sink.fail_next(0);
    let got = sink.wait_for(1, WAIT).await;
    assert!(got[0].text().contains(id));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 1, "sent once");
    drop(app);
}
