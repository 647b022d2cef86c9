//! Email delivery for providers configured with `delivery = "email"`: small sites that
//! never poll an inbox get each referral as an email to their `delivery_email`.
//!
//! Input: referrals in state `ready` routed to such a provider. Output: one email per
//! referral (a readable summary, the FHIR message Bundle as a JSON attachment, and the
//! original document attached), queued in the outbox in the same store transaction
//! that moves the referral to `delivered`. The outbox id is derived from the referral
//! id, so a crash or a second sweep can never queue it twice, and no referral is moved
//! without its email. The outbox worker (`mailer`) sends it, with retries; if it is
//! given up, the referral goes to the dead letters in the same transaction.
//!
//! Inbox: the referral stays listed in the provider's `/inbox` in state `delivered`,
//! as after a download, so a provider that also polls sees it was already sent and can
//! download the same message (same Bundle id) and acknowledge it there; it never sees
//! it as new. Must never log anything from the record or the addresses.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};

use super::inbox::{ProviderMessage, message_for};
use crate::audit::Action;
use crate::domain::{OrgId, Referral, ReferralId, State, Urgency};
use crate::outbox::{MailContext, MailError, derived_id};
use crate::store::{MailKind, StatusChange};

/// Referrals looked at per provider per sweep.
const BATCH: u32 = 64;

/// Why a referral could not be delivered by email.
#[derive(Debug, thiserror::Error)]
pub enum EmailDeliveryError {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("stored referral could not be opened")]
    Open(#[source] super::DeliverError),
}

impl From<crate::store::StoreError> for EmailDeliveryError {
    fn from(e: crate::store::StoreError) -> Self {
        EmailDeliveryError::Mail(MailError::Store(e))
    }
}

/// Queues every ready referral of every email-only provider. Returns how many.
///
/// # Errors
/// A store failure while listing. One referral that cannot be delivered is logged and
/// left `ready` (retried next sweep), and does not stop the others.
pub async fn deliver_ready(ctx: &MailContext) -> Result<usize, EmailDeliveryError> {
    let mut queued = 0;
    for (provider, org) in ctx.orgs.iter() {
        let Some(to) = &org.delivery_email else {
            continue;
        };
        let ready = ctx.store.ready_for(provider, BATCH).await?;
        for id in ready {
            match deliver_one(ctx, provider, to, id).await {
                Ok(()) => queued += 1,
                Err(e) => {
                    tracing::error!(referral_id = %id, provider = %provider, error = %e,
                        "email delivery could not be queued; will retry");
                }
            }
        }
    }
    if queued > 0 {
        ctx.wake();
    }
    Ok(queued)
}

#[tracing::instrument(skip_all, fields(referral_id = %id, provider = %provider))]
async fn deliver_one(
    ctx: &MailContext,
    provider: &OrgId,
    to: &str,
    id: ReferralId,
) -> Result<(), EmailDeliveryError> {
    let stored = ctx.store.get_referral(id).await?;
    let names = ctx
        .orgs
        .iter()
        .map(|(o, m)| (o.clone(), m.name.clone()))
        .collect();
    let message = message_for(
        ctx.store.as_ref(),
        &ctx.keys,
        &names,
        &ctx.source_endpoint,
        &stored,
        provider,
    )
    .await
    .map_err(EmailDeliveryError::Open)?;
    // One id per delivery of this referral: a crash or a second sweep before the
    // commit gives the same id (queued once); a referral released again from the dead
    // letters is a new delivery with a new id.
    let round = stored
        .history
        .iter()
        .filter(|t| t.state == State::Delivered)
        .count();
    let mail_id = derived_id(&format!("delivery/{id}/{round}"));
    let email = build(ctx, mail_id, to, id, &message)?;
    let mail = ctx.prepare(mail_id, MailKind::Delivery, Some(id), &email)?;
    let change = StatusChange {
        id,
        actor: provider.clone(),
        provider: Some(provider.clone()),
        to: State::Delivered,
        reason: Some("email".to_owned()),
        action: Action::EmailDelivery,
        at: ctx.clock.now(),
    };
    ctx.store
        .change_status_with_mail(change, Some(mail))
        .await?;
    tracing::info!("referral queued for email delivery");
    Ok(())
}

fn build(
    ctx: &MailContext,
    mail_id: uuid::Uuid,
    to: &str,
    id: ReferralId,
    message: &ProviderMessage,
) -> Result<Message, MailError> {
    let to: lettre::Address = to.parse().map_err(|_| MailError::Address)?;
    let urgent = message.record.urgency == Urgency::Urgent || message.record.risk_flag;
    // The subject carries no patient data: mail systems show and log subjects.
    let subject = format!("{}New referral {id}", if urgent { "URGENT: " } else { "" });
    let bundle = serde_json::to_vec_pretty(&message.bundle).map_err(|_| MailError::Corrupt)?;
    let fhir = ContentType::parse("application/fhir+json").map_err(|_| MailError::Corrupt)?;
    let mut parts = MultiPart::mixed()
        .singlepart(SinglePart::plain(summary(id, &message.record)))
        .singlepart(Attachment::new(format!("referral-{id}.fhir.json")).body(bundle, fhir));
    if let Some((media_type, bytes)) = &message.original {
        let kind = ContentType::parse(media_type).unwrap_or_else(|_| {
            ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN)
        });
        let name = format!("original-letter{}", extension(media_type));
        parts = parts.singlepart(Attachment::new(name).body(bytes.clone(), kind));
    }
    for (i, doc) in message.supporting.iter().enumerate() {
        let kind = ContentType::parse(&doc.media_type).unwrap_or_else(|_| {
            ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN)
        });
        // A sender's file name could carry patient data (mail systems log attachment
        // names), so supporting documents are numbered instead.
        let name = format!("supporting-{}{}", i + 1, extension(&doc.media_type));
        parts = parts.singlepart(Attachment::new(name).body(doc.bytes.clone(), kind));
    }
    Message::builder()
        .from(Mailbox::new(
            Some("Referral gateway".to_owned()),
            ctx.from_address()?,
        ))
        .to(Mailbox::new(None, to))
        .subject(subject)
        .message_id(Some(ctx.message_id(mail_id)))
        .date_now()
        .multipart(parts)
        .map_err(MailError::Build)
}

fn extension(media_type: &str) -> &'static str {
    match crate::normalise::document::essence(media_type).as_str() {
        "text/plain" => ".txt",
        "application/pdf" => ".pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => ".docx",
        "application/rtf" | "text/rtf" => ".rtf",
        "text/html" => ".html",
        "application/json" => ".json",
        "application/fhir+json" => ".fhir.json",
        _ => ".bin",
    }
}

/// The readable summary in the email body: the record's fields, risk first.
fn summary(id: ReferralId, r: &Referral) -> String {
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "not stated".to_owned());
    let p = &r.patient;
    let name = [
        p.title.clone().unwrap_or_default(),
        p.given_names.join(" "),
        p.family_name.clone().unwrap_or_default(),
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .cloned()
    .collect::<Vec<_>>()
    .join(" ");
    let mut out = String::new();
    if r.risk_flag {
        out.push_str("RISK: the referrer reports a risk of harm. Read the letter first.\n\n");
    }
    out.push_str(&format!(
        "Referral {id}\nUrgency: {}\n\n",
        r.urgency.as_str()
    ));
    out.push_str("Patient\n");
    out.push_str(&format!(
        "  Name: {}\n",
        if name.is_empty() {
            "not stated".into()
        } else {
            name
        }
    ));
    out.push_str(&format!("  NHS number: {}\n", or_unknown(&p.nhs_number)));
    out.push_str(&format!(
        "  Date of birth: {}\n",
        or_unknown(&p.date_of_birth)
    ));
    if !p.address_lines.is_empty() || p.postcode.is_some() {
        out.push_str(&format!(
            "  Address: {} {}\n",
            p.address_lines.join(", "),
            p.postcode.clone().unwrap_or_default()
        ));
    }
    out.push_str(&format!("  Phone: {}\n", or_unknown(&p.phone)));
    out.push_str(&format!(
        "GP: {} ({})\n",
        or_unknown(&r.gp.name),
        or_unknown(&r.gp.practice)
    ));
    out.push_str(&format!(
        "Referrer: {}, {} ({})\n",
        or_unknown(&r.referrer.name),
        or_unknown(&r.referrer.role),
        or_unknown(&r.referrer.organisation)
    ));
    out.push_str(&format!("Letter date: {}\n", or_unknown(&r.letter_date)));
    if !r.diagnoses.is_empty() {
        out.push_str(&format!("Diagnoses: {}\n", r.diagnoses.join("; ")));
    }
    out.push_str(&format!(
        "Requested: {}\n",
        or_unknown(&r.requested_service)
    ));
    out.push_str(
        "\nAttached: the referral as a FHIR message (JSON) and the original document.\n\
         Please acknowledge receipt to the referral service.\n",
    );
    out
}
