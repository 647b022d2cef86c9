//! Referral record -> FHIR R4 message Bundle (DESIGN.md mapping table). (Being written.)
use crate::domain::Referral;

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
