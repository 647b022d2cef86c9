//! A problem found in a submission: what is wrong and where, never the offending value.

use serde::Serialize;
use serde_json::{Value, json};

/// FHIR IssueType codes that the gateway uses (standards.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueCode {
    /// Not parseable, or not the shape the schema wants.
    Structure,
    /// A required element is missing.
    Required,
    /// A value is out of range or malformed (bad check digit, future date, ...).
    Value,
    /// Valid in form, but refused by a business rule.
    BusinessRule,
    /// Anything else that makes the content invalid.
    Invalid,
    /// The content is a duplicate of something already received.
    Duplicate,
    /// Supplied content type is not supported.
    NotSupported,
    TooLong,
}

impl IssueCode {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::Value => "value",
            IssueCode::BusinessRule => "business-rule",
            IssueCode::Invalid => "invalid",
            IssueCode::Duplicate => "duplicate",
            IssueCode::NotSupported => "not-supported",
            IssueCode::TooLong => "too-long",
        }
    }
}

/// One thing wrong with a submission.
///
/// `path` is where in the submitted document the problem is, as a JSON path in the
/// submission's own terms (`$.patient.nhs_number` for the flat form,
/// `Bundle.entry[2].resource.identifier[0].value` for FHIR). `message` is a constant,
/// lower-case description that never quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: IssueCode,
    pub path: String,
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(code: IssueCode, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The problems as a FHIR OperationOutcome, each issue with its path in `expression`.
pub fn operation_outcome(problems: &[Problem]) -> Value {
    let issues: Vec<Value> = problems
        .iter()
        .map(|p| json!({"severity": "error", "code": p.code.as_str(), "diagnostics": p.message, "expression": [p.path]}))
        .collect();
    json!({"resourceType": "OperationOutcome", "issue": issues})
}
