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

/// Facts about the message being written (temporary stand-in until the mapping lands).
pub struct MessageMeta {
    pub message_id: uuid::Uuid,
    pub referral_id: crate::domain::ReferralId,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub source_endpoint: String,
    pub sender: (crate::domain::OrgId, String),
    pub destination: (crate::domain::OrgId, String),
    pub original: Option<(String, Vec<u8>)>,
}

/// Writes a message Bundle (temporary stand-in).
pub fn write_message(_record: &Referral, meta: &MessageMeta) -> serde_json::Value {
    serde_json::json!({"resourceType": "Bundle", "type": "message", "id": meta.message_id.to_string()})
}
