//! FHIR R4 Bundle <-> referral record (DESIGN.md mapping table). (Being written.)
use super::{Problem, SourcePaths};
use crate::domain::Referral;

/// Reads a referral from a FHIR Bundle.
///
/// # Errors
/// Every structural problem found.
pub fn read_bundle(_doc: &serde_json::Value) -> Result<(Referral, SourcePaths), Vec<Problem>> {
    Err(vec![Problem::new(
        super::IssueCode::NotSupported,
        "$",
        "fhir reading is not built yet",
    )])
}
