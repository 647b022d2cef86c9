//! The outbox handle: builds nothing itself, but seals outgoing mail and queues it in the
//! store, where the outbox worker (`deliver::mailer`) finds and sends it.
//!
//! Every stage that emails someone goes through here: the email channel's
//! acknowledgements and the referrer's status notifications (`feedback::reply`), and
//! email delivery to providers (`deliver::email`). It sits outside the pipeline stages
//! (like `crypto`) so that intake and feedback hand mail over through the store without
//! depending on the delivery stage. Never logs addresses, subjects or content.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use lettre::address::Envelope;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::{Delivery, MailSettings, Settings};
use crate::crypto::{CryptoError, DataKeys};
use crate::domain::{OrgId, ReferralId};
use crate::store::{DueMail, MailKind, OutgoingMail, Store, StoreError};
use crate::telemetry::metrics::Metrics;

/// Why outgoing mail could not be built, queued or sent. Messages never carry
/// addresses or content.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("not a valid email address")]
    Address,
    #[error("message could not be built")]
    Build(#[source] lettre::error::Error),
    #[error("message could not be sealed or opened")]
    Crypto(#[source] CryptoError),
    #[error("queued message is unreadable")]
    Corrupt,
    #[error("store failure")]
    Store(#[source] StoreError),
    #[error("cannot read mail.ca")]
    CaFile(#[source] std::io::Error),
    #[error("relay TLS settings are unusable")]
    Tls(#[source] lettre::transport::smtp::Error),
}

impl From<StoreError> for MailError {
    fn from(e: StoreError) -> Self {
        MailError::Store(e)
    }
}

impl From<CryptoError> for MailError {
    fn from(e: CryptoError) -> Self {
        MailError::Crypto(e)
    }
}

/// What the mail side knows about an organisation.
#[derive(Debug, Clone)]
pub struct OrgMail {
    pub name: String,
    /// Status notifications for referrals that did not arrive by email.
    pub notify_email: Option<String>,
    /// Set for providers with `delivery = "email"`: where their referrals are sent.
    pub delivery_email: Option<String>,
}

/// Everything that queues or sends mail needs; cheap to clone.
#[derive(Clone)]
pub struct MailContext {
    pub store: Arc<dyn Store>,
    pub keys: Arc<DataKeys>,
    pub settings: Arc<MailSettings>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// Organisations by id: names, notification and delivery addresses.
    pub orgs: Arc<HashMap<OrgId, OrgMail>>,
    /// How the gateway names itself in FHIR messages.
    pub source_endpoint: String,
    /// Used by the outbox worker (`deliver::mailer`).
    pub(crate) transport: AsyncSmtpTransport<Tokio1Executor>,
    pub(crate) wake: Arc<Notify>,
}

impl MailContext {
    /// The mail context for `settings`, or `None` when no relay is configured (then
    /// nothing is emailed).
    ///
    /// # Errors
    /// [`MailError::CaFile`] or [`MailError::Tls`] when the relay's TLS settings are unusable.
    pub fn from_settings(
        settings: &Settings,
        store: Arc<dyn Store>,
        keys: Arc<DataKeys>,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Result<Option<Self>, MailError> {
        let Some(mail) = &settings.mail else {
            return Ok(None);
        };
        let orgs = settings
            .organisations
            .iter()
            .map(|o| {
                let delivery_email = match o.delivery {
                    Delivery::Email => o.delivery_email.clone(),
                    Delivery::Inbox | Delivery::Push => None,
                };
                let info = OrgMail {
                    name: o.name.clone(),
                    notify_email: o.notify_email.clone(),
                    delivery_email,
                };
                (o.id.clone(), info)
            })
            .collect();
        Ok(Some(Self {
            store,
            keys,
            settings: Arc::new(mail.clone()),
            clock,
            metrics,
            orgs: Arc::new(orgs),
            source_endpoint: settings.server.public_url.clone(),
            transport: transport(mail)?,
            wake: Arc::new(Notify::new()),
        }))
    }

    /// Wakes the worker: something was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The From mailbox of every message.
    ///
    /// # Errors
    /// [`MailError::Address`] (validated at start-up, so not expected).
    pub fn from_address(&self) -> Result<Address, MailError> {
        self.settings.from.parse().map_err(|_| MailError::Address)
    }

    /// A Message-ID for outbox entry `id`, in the From address's domain.
    pub fn message_id(&self, id: Uuid) -> String {
        let domain = self
            .settings
            .from
            .rsplit_once('@')
            .map_or("refgate.invalid", |(_, d)| d);
        format!("<{id}@{domain}>")
    }

    /// Seals a built message for the outbox.
    ///
    /// # Errors
    /// [`MailError::Crypto`].
    pub fn prepare(
        &self,
        id: Uuid,
        kind: MailKind,
        referral_id: Option<ReferralId>,
        message: &Message,
    ) -> Result<OutgoingMail, MailError> {
        let envelope = message.envelope();
        let stored = Sealed {
            from: envelope.from().map(ToString::to_string),
            to: envelope.to().iter().map(ToString::to_string).collect(),
            data: base64::engine::general_purpose::STANDARD.encode(message.formatted()),
        };
        let json = serde_json::to_vec(&stored).map_err(|_| MailError::Corrupt)?;
        Ok(OutgoingMail {
            id,
            kind,
            referral_id,
            // Real time, not the injected clock: retry times are compared with it.
            queued_at: Utc::now(),
            sealed: self.keys.seal(&json, &seal_context(id))?,
        })
    }

    /// Queues a built message (a no-op if `id` is already queued) and wakes the worker.
    ///
    /// # Errors
    /// [`MailError::Crypto`] or [`MailError::Store`].
    pub async fn queue(
        &self,
        id: Uuid,
        kind: MailKind,
        referral_id: Option<ReferralId>,
        message: &Message,
    ) -> Result<(), MailError> {
        let mail = self.prepare(id, kind, referral_id, message)?;
        self.store.queue_mail(mail).await?;
        self.wake();
        Ok(())
    }
}

/// A stable id for mail about `what` (e.g. `status/<referral>/<state>`): the same
/// event always gives the same outbox id, so queuing it twice sends it once.
pub fn derived_id(what: &str) -> Uuid {
    let digest = ring::digest::digest(&ring::digest::SHA256, what.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn seal_context(id: Uuid) -> Vec<u8> {
    format!("outbox/{id}").into_bytes()
}

/// The sealed form of a queued message.
#[derive(Serialize, Deserialize)]
struct Sealed {
    from: Option<String>,
    to: Vec<String>,
    /// The RFC 5322 message, base64.
    data: String,
}

/// Opens a queued message: its envelope and RFC 5322 bytes.
pub(crate) fn open(keys: &DataKeys, mail: &DueMail) -> Result<(Envelope, Vec<u8>), MailError> {
    let json = keys.open(&mail.sealed, &seal_context(mail.id))?;
    let sealed: Sealed = serde_json::from_slice(&json).map_err(|_| MailError::Corrupt)?;
    let address = |s: &str| s.parse::<Address>().map_err(|_| MailError::Corrupt);
    let from = sealed.from.as_deref().map(address).transpose()?;
    let to = sealed
        .to
        .iter()
        .map(|s| address(s))
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(from, to).map_err(|_| MailError::Corrupt)?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(sealed.data)
        .map_err(|_| MailError::Corrupt)?;
    Ok((envelope, data))
}

/// The relay transport: STARTTLS required, trusting `mail.ca` besides the web PKI roots.
fn transport(mail: &MailSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let mut tls = TlsParameters::builder(mail.relay_host.clone());
    if let Some(ca) = &mail.ca {
        let pem = std::fs::read(ca).map_err(MailError::CaFile)?;
        tls = tls.add_root_certificate(Certificate::from_pem(&pem).map_err(MailError::Tls)?);
    }
    let tls = tls.build_rustls().map_err(MailError::Tls)?;
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(mail.relay_host.clone())
            .port(mail.relay_port)
            .tls(Tls::Required(tls))
            .timeout(Some(Duration::from_secs(60)))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        assert_eq!(
            derived_id("status/a/accepted"),
            derived_id("status/a/accepted")
        );
        assert_ne!(
            derived_id("status/a/accepted"),
            derived_id("status/a/booked")
        );
    }
}
