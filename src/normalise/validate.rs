//! Semantic checks on a mapped record. (Being written.)
use super::{Problem, SourcePaths};
use crate::domain::Referral;

/// # Errors
/// Every semantic problem found.
pub fn check(
    _r: &Referral,
    _paths: &SourcePaths,
    _today: chrono::NaiveDate,
) -> Result<(), Vec<Problem>> {
    Ok(())
}
