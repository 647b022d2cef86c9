//! Identifiers that cross module boundaries as validated newtypes.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The gateway's reference for one referral: a random UUID, safe to log and to show
/// to the referrer, because it reveals nothing about the patient.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReferralId(Uuid);

/// Why a string is not a referral id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("referral id must be a UUID")]
pub struct ReferralIdError;

impl ReferralId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Parses the hyphenated UUID form.
    ///
    /// # Errors
    /// [`ReferralIdError`] when the text is not a UUID.
    pub fn parse(raw: &str) -> Result<Self, ReferralIdError> {
        Uuid::parse_str(raw).map(Self).map_err(|_| ReferralIdError)
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for ReferralId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ReferralId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for ReferralId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReferralId({})", self.0.hyphenated())
    }
}

/// An organisation known to the gateway, by its configured id (usually the ODS code).
/// Organisation ids are not patient data and may be logged.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

/// Why a string is not an organisation id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("organisation id must be 1-32 characters of A-Z, 0-9, '-' or '_'")]
pub struct OrgIdError;

impl OrgId {
    /// Organisation ids are upper case letters, digits, '-' and '_' (ODS codes fit).
    ///
    /// # Errors
    /// [`OrgIdError`] when the text is empty, longer than 32 or has other characters.
    pub fn parse(raw: &str) -> Result<Self, OrgIdError> {
        let ok = !raw.is_empty()
            && raw.len() <= 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(OrgIdError)
        }
    }

    /// The id as written in configuration.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgId {
    type Error = OrgIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OrgId> for String {
    fn from(value: OrgId) -> Self {
        value.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referral_ids_round_trip_through_text() {
        let id = ReferralId::new();
        assert_eq!(ReferralId::parse(&id.to_string()).unwrap(), id);
        assert!(ReferralId::parse("not-a-uuid").is_err());
    }

    #[test]
    fn organisation_ids_are_ods_like() {
        assert!(OrgId::parse("RXR01").is_ok());
        assert!(OrgId::parse("TT-NORTH").is_ok());
        assert!(OrgId::parse("lower").is_err());
        assert!(OrgId::parse("").is_err());
        assert!(OrgId::parse("A B").is_err());
    }
}
