//! The flat JSON form (the record's own field names). (Being written.)
use super::{Problem, SourcePaths};
use crate::domain::Referral;

/// Reads the flat form.
///
/// # Errors
/// Every problem found.
pub fn read(_doc: &serde_json::Value) -> Result<(Referral, SourcePaths), Vec<Problem>> {
    Err(vec![Problem::new(
        super::IssueCode::NotSupported,
        "$",
        "flat reading is not built yet",
    )])
}
