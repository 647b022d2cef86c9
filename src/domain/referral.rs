//! The one canonical referral record (DESIGN.md "The referral record").
//!
//! Every channel ends in this shape; its JSON form uses exactly the DESIGN.md field
//! names and is described by `schemas/referral.schema.json`. Unknown values are `None`
//! (`null`), never guessed. `Debug` is written by hand so that no patient identifier
//! can reach a log through `{:?}`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The referral record.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Referral {
    /// False for a document that does not ask the service to see the patient. A
    /// structured submission that omits it is a referral: it was sent to be one.
    #[serde(default = "yes")]
    pub is_referral: bool,
    pub patient: Patient,
    #[serde(default)]
    pub gp: Gp,
    pub referrer: Referrer,
    /// YYYY-MM-DD.
    pub letter_date: Option<String>,
    #[serde(default)]
    pub diagnoses: Vec<String>,
    #[serde(default)]
    pub measures: Measures,
    pub risk_flag: bool,
    #[serde(default)]
    pub urgency: Urgency,
    #[serde(default)]
    pub preferences: Preferences,
    pub requested_service: Option<String>,
    /// Per field path (e.g. `patient.nhs_number`), how sure the reader is, 0..1.
    #[serde(default)]
    pub confidence: BTreeMap<String, f64>,
    /// Per field path, where in the document's text the value was read, so a reviewer
    /// sees the source words beside it. Empty for structured input.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<String, Source>,
}

/// Where a value was read: a byte range of the document's extracted text, and the page
/// (from 1) for paged documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub start: usize,
    pub end: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
}

/// The person referred.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    /// Ten digits, no spaces.
    pub nhs_number: Option<String>,
    /// Whether the modulus-11 check passed; `None` when there is no number.
    pub nhs_number_valid: Option<bool>,
    pub title: Option<String>,
    #[serde(default)]
    pub given_names: Vec<String>,
    pub family_name: Option<String>,
    /// YYYY-MM-DD.
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub sex: Sex,
    #[serde(default)]
    pub address_lines: Vec<String>,
    /// Upper case, one space.
    pub postcode: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// The patient's registered GP.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Gp {
    pub name: Option<String>,
    pub practice: Option<String>,
    pub ods_code: Option<String>,
}

/// Who is referring.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Referrer {
    pub name: Option<String>,
    pub role: Option<String>,
    pub organisation: Option<String>,
    /// As written with its register, e.g. "GMC 6211478" or "HCPC PH165502".
    pub professional_id: Option<String>,
}

/// Scores quoted in the referral, each within its scale range.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Measures {
    pub hads_anxiety: Option<i64>,
    pub hads_depression: Option<i64>,
    pub phq9: Option<i64>,
    pub gad7: Option<i64>,
}

/// What the patient has said about how they want to be seen.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    pub telephone_ok: Option<bool>,
    /// The language an interpreter is needed for; `None` when none is needed.
    pub interpreter: Option<String>,
}

/// Administrative sex as the referral states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
    #[default]
    Unknown,
}

/// How soon the provider should act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    #[default]
    Routine,
    Urgent,
}

fn yes() -> bool {
    true
}

impl Urgency {
    /// The lower-case name, as in the record and FHIR `ServiceRequest.priority`.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Routine => "routine",
            Urgency::Urgent => "urgent",
        }
    }
}

impl Sex {
    /// The record's name, which is also the FHIR `Patient.gender` code.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Unknown => "unknown",
        }
    }
}

impl Referral {
    /// True when the patient can be identified: a valid NHS number, or a family name
    /// with a date of birth. Without it the referral must wait for review.
    pub fn has_patient_identity(&self) -> bool {
        let p = &self.patient;
        p.nhs_number_valid == Some(true)
            || (p
                .family_name
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty())
                && p.date_of_birth.is_some())
    }

    /// True when the referrer is named.
    pub fn has_referrer(&self) -> bool {
        self.referrer
            .name
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
    }

    /// The field names (never values) that keep this referral from going straight to a
    /// provider: it then waits for review. Empty when it may be routed.
    pub fn review_reasons(&self) -> Vec<&'static str> {
        let mut reasons = Vec::new();
        if !self.has_patient_identity() {
            reasons.push("patient identity (valid nhs number, or family name and date of birth)");
        }
        if !self.has_referrer() {
            reasons.push("referrer.name");
        }
        // A document that asks for nothing (a discharge letter) needs a person to decide.
        if !self.is_referral {
            reasons.push("is_referral");
        }
        reasons
    }
}

// Only non-identifying facts appear in Debug output.
impl fmt::Debug for Referral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Referral")
            .field("is_referral", &self.is_referral)
            .field("patient", &"<redacted>")
            .field("risk_flag", &self.risk_flag)
            .field("urgency", &self.urgency)
            .finish_non_exhaustive()
    }
}

macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(<redacted>)"))
            }
        }
    )*};
}
redacted_debug!(Patient, Gp, Referrer, Measures, Preferences);

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Referral {
        Referral {
            is_referral: true,
            patient: Patient {
                nhs_number: Some("9990702314".into()),
                nhs_number_valid: Some(true),
                family_name: Some("Pearson".into()),
                ..Patient::default()
            },
            referrer: Referrer {
                name: Some("Dr Martin Oduya".into()),
                ..Referrer::default()
            },
            ..Referral::default()
        }
    }

    #[test]
    fn record_serialises_with_the_design_field_names() {
        let v = serde_json::to_value(sample()).unwrap();
        for path in [
            "/is_referral",
            "/patient/nhs_number_valid",
            "/gp/ods_code",
            "/referrer/professional_id",
            "/letter_date",
            "/measures/hads_anxiety",
            "/risk_flag",
            "/urgency",
            "/preferences/telephone_ok",
            "/requested_service",
            "/confidence",
        ] {
            assert!(v.pointer(path).is_some(), "{path}");
        }
        assert_eq!(v["urgency"], "routine");
        assert_eq!(v["patient"]["sex"], "unknown");
    }

    #[test]
    fn debug_output_carries_no_patient_identifiers() {
        let s = format!("{:?}", sample());
        assert!(
            !s.contains("Pearson") && !s.contains("9990702314") && !s.contains("Oduya"),
            "{s}"
        );
    }

    #[test]
    fn a_referral_without_identity_or_referrer_needs_review() {
        let mut r = sample();
        assert!(r.review_reasons().is_empty());
        r.patient.nhs_number_valid = Some(false);
        r.referrer.name = None;
        assert_eq!(r.review_reasons().len(), 2);
        r.patient.date_of_birth = Some("1967-06-23".into());
        assert_eq!(r.review_reasons(), vec!["referrer.name"]);
    }
}
