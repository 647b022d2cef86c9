//! The dead letters: referrals that could not be delivered (push refused or out of
//! attempts, email given up). Operators list them and re-drive one: it goes back to
//! `ready` with its attempts reset, and its provider's delivery mode takes it again
//! (push sends the same message id; email sends a new delivery).
//!
//! Input: the operator's request. Output: the store's dead-letter list, or the
//! re-driven referral, audited as the operator's in the same transaction.

use super::inbox::{DeliverContext, DeliverError};
use crate::domain::{OrgId, ReferralId};
use crate::store::{DeadLetterEntry, Redrive, ReferralSummary};
use crate::telemetry::events::DeadLetterRedriven;
use crate::telemetry::metrics::Metrics;

/// Dead-lettered referrals, oldest first.
///
/// # Errors
/// [`DeliverError::Store`].
pub async fn list(ctx: &DeliverContext, limit: u32) -> Result<Vec<DeadLetterEntry>, DeliverError> {
    Ok(ctx.store.dead_letters(limit).await?)
}

/// Sends a dead-lettered referral back to `ready`.
///
/// # Errors
/// [`DeliverError::NotFound`], or [`DeliverError::Transition`] when it is not in the
/// dead letters.
#[tracing::instrument(skip_all, fields(referral_id = %id))]
pub async fn redrive(
    ctx: &DeliverContext,
    metrics: &Metrics,
    operator: &OrgId,
    id: ReferralId,
) -> Result<ReferralSummary, DeliverError> {
    let summary = ctx
        .store
        .redrive(Redrive {
            id,
            operator: operator.clone(),
            at: ctx.clock.now(),
        })
        .await?;
    DeadLetterRedriven { id, operator }.emit(metrics);
    Ok(summary)
}
