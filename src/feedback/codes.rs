//! The codes a provider gives with a status change: why a referral was rejected, and
//! what the episode of care came to when it is completed.
//!
//! Codes only, from the fixed lists below, never free text: a provider's case system
//! would otherwise put clinical notes (and with them patient details) into a field
//! that is shown to the referrer, emailed, and kept in the audit log. The lists are
//! disjoint, so a stored code says by itself whether it is a reason or an outcome.

use serde::Serialize;

/// `Task.statusReason` coding system of rejection reasons.
pub const REASON_SYSTEM: &str = "https://refgate.nhs.example/CodeSystem/referral-rejection-reason";
/// `Task.output` coding system of completion outcomes.
pub const OUTCOME_SYSTEM: &str = "https://refgate.nhs.example/CodeSystem/referral-outcome";
/// `Task.businessStatus` coding system: the gateway's lifecycle state names.
pub const STATE_SYSTEM: &str = "https://refgate.nhs.example/CodeSystem/referral-state";

/// Why a provider rejected a referral.
pub const REASONS: &[(&str, &str)] = &[
    ("not-eligible", "does not meet the service's criteria"),
    (
        "out-of-area",
        "the patient lives outside the service's area",
    ),
    (
        "needs-specialist-service",
        "needs a specialist or secondary mental health service",
    ),
    (
        "needs-crisis-service",
        "needs urgent or crisis care, not this service",
    ),
    (
        "insufficient-information",
        "not enough information to triage",
    ),
    ("patient-declined", "the patient declined the referral"),
    ("no-contact", "the service could not contact the patient"),
    (
        "already-in-treatment",
        "the patient is already in treatment with the service",
    ),
    ("duplicate", "the same referral had already been received"),
];

/// What a completed episode of care came to.
pub const OUTCOMES: &[(&str, &str)] = &[
    ("treatment-completed", "completed a course of treatment"),
    ("assessed-no-treatment", "assessed; treatment not needed"),
    ("referred-on", "referred on to another service"),
    ("declined-treatment", "the patient declined treatment"),
    ("dropped-out", "the patient stopped attending"),
    ("did-not-attend", "the patient did not attend"),
];

/// A code from [`REASONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ReasonCode(&'static str);

/// A code from [`OUTCOMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OutcomeCode(&'static str);

fn find(list: &'static [(&'static str, &'static str)], s: &str) -> Option<&'static str> {
    list.iter().find(|(c, _)| *c == s.trim()).map(|(c, _)| *c)
}

fn words(list: &'static [(&'static str, &'static str)], s: &str) -> &'static str {
    list.iter().find(|(c, _)| *c == s).map_or("", |(_, w)| *w)
}

impl ReasonCode {
    /// The code, if `s` is one of [`REASONS`].
    pub fn parse(s: &str) -> Option<Self> {
        find(REASONS, s).map(Self)
    }
    pub fn as_str(self) -> &'static str {
        self.0
    }
    /// The code in words, for people (email, FHIR `display`).
    pub fn display(self) -> &'static str {
        words(REASONS, self.0)
    }
}

impl OutcomeCode {
    /// The code, if `s` is one of [`OUTCOMES`].
    pub fn parse(s: &str) -> Option<Self> {
        find(OUTCOMES, s).map(Self)
    }
    pub fn as_str(self) -> &'static str {
        self.0
    }
    /// The code in words, for people (email, FHIR `display`).
    pub fn display(self) -> &'static str {
        words(OUTCOMES, self.0)
    }
}

/// A stored reason of a transition, in words, when it is one of the codes above
/// (history may also hold the gateway's own reasons, e.g. review rejections).
pub fn describe(code: &str) -> Option<&'static str> {
    ReasonCode::parse(code)
        .map(ReasonCode::display)
        .or_else(|| OutcomeCode::parse(code).map(OutcomeCode::display))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_outcomes_are_distinct_lower_case_codes() {
        for (c, w) in REASONS.iter().chain(OUTCOMES) {
            assert!(
                c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{c}"
            );
            assert!(!w.is_empty());
        }
        for (c, _) in REASONS {
            assert!(OutcomeCode::parse(c).is_none(), "{c} is in both lists");
        }
    }

    #[test]
    fn free_text_is_not_a_code() {
        assert!(ReasonCode::parse("patient Jane Doe moved away").is_none());
        assert_eq!(
            ReasonCode::parse(" out-of-area ").map(ReasonCode::as_str),
            Some("out-of-area")
        );
        assert_eq!(
            describe("referred-on"),
            Some("referred on to another service")
        );
        assert_eq!(describe("anything else"), None);
    }
}
