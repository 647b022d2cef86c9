//! JSON Schema checks against `schemas/`. (Being written.)
use super::Problem;

/// # Errors
/// Every schema violation.
pub fn check_fhir(_doc: &serde_json::Value) -> Result<(), Vec<Problem>> {
    Ok(())
}

/// # Errors
/// Every schema violation.
pub fn check_flat(_doc: &serde_json::Value) -> Result<(), Vec<Problem>> {
    Ok(())
}
