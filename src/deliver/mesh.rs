//! The provider inbox as a MESH mailbox: paged listing, the envelope of one message
//! (who sent it, for `mex-From`) and tracking of messages a referrer sent by MESH.
//! Download and acknowledge are the inbox's own ([`super::inbox`]); a MESH message id
//! is the referral id, so both APIs name the same message the same way.

use crate::domain::{OrgId, ReferralId, State};
use crate::intake::Channel;
use crate::store::{InboxPage, ReferralSummary, StoredReferral};

use super::{DeliverContext, DeliverError};

/// A page of `provider`'s inbox after `after` (MESH `continue_from`).
///
/// # Errors
/// [`DeliverError::Store`].
pub async fn page(
    ctx: &DeliverContext,
    provider: &OrgId,
    after: Option<ReferralId>,
    limit: u32,
) -> Result<InboxPage, DeliverError> {
    Ok(ctx.store.inbox_page(provider, after, limit).await?)
}

/// The facts about a message waiting in `provider`'s inbox, without downloading it
/// (MESH `HEAD`, and the headers of a download).
///
/// # Errors
/// [`DeliverError::NotFound`] unless it waits in this provider's inbox.
pub async fn envelope(
    ctx: &DeliverContext,
    provider: &OrgId,
    id: ReferralId,
) -> Result<ReferralSummary, DeliverError> {
    let s = ctx.store.get_referral(id).await?.summary;
    if s.provider.as_ref() != Some(provider) || !s.state.is_in_inbox() {
        return Err(DeliverError::NotFound);
    }
    Ok(s)
}

/// Acknowledges a downloaded message. Idempotent, as in MESH: acknowledging a message
/// this provider already acknowledged succeeds again without a new audit event, so a
/// client that retries after a lost response is not told the message vanished.
///
/// # Errors
/// [`DeliverError::NotFound`] unless it is (or was) this provider's, and
/// [`DeliverError::Transition`] when it was never downloaded.
pub async fn acknowledge(
    ctx: &DeliverContext,
    provider: &OrgId,
    id: ReferralId,
) -> Result<(), DeliverError> {
    match super::inbox::acknowledge(ctx, provider, id).await {
        Ok(_) => Ok(()),
        Err(DeliverError::Transition(t)) => {
            let s = ctx.store.get_referral(id).await?.summary;
            let done = s.provider.as_ref() == Some(provider)
                && !s.state.is_in_inbox()
                && s.state != State::DeadLetter;
            if done {
                Ok(())
            } else {
                Err(DeliverError::Transition(t))
            }
        }
        Err(e) => Err(e),
    }
}

/// A referral `referrer` sent by MESH, for tracking.
///
/// # Errors
/// [`DeliverError::NotFound`] for another organisation's referral or one that did not
/// arrive by MESH, so ids cannot be probed.
pub async fn sent(
    ctx: &DeliverContext,
    referrer: &OrgId,
    id: ReferralId,
) -> Result<StoredReferral, DeliverError> {
    let stored = ctx.store.get_referral(id).await?;
    if &stored.summary.referrer != referrer || stored.channel != Channel::Mesh.as_str() {
        return Err(DeliverError::NotFound);
    }
    Ok(stored)
}
