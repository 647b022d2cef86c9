//! JSON Schema checks against the schemas in `schemas/`, embedded in the binary so the
//! gateway validates against exactly the files in the repository.
//!
//! Every violation is reported, each with its path in the submission's own terms and a
//! message built from the schema (never from the submitted value, which may be patient
//! data).

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::{IssueCode, Problem};

/// The record's schema (the flat `application/json` form).
pub const REFERRAL_SCHEMA: &str = include_str!("../../schemas/referral.schema.json");
/// The structure refgate needs from a FHIR Bundle.
pub const FHIR_BUNDLE_SCHEMA: &str = include_str!("../../schemas/fhir-bundle.schema.json");

static REFERRAL: LazyLock<Validator> = LazyLock::new(|| compile(REFERRAL_SCHEMA));
static FHIR_BUNDLE: LazyLock<Validator> = LazyLock::new(|| compile(FHIR_BUNDLE_SCHEMA));

fn compile(text: &str) -> Validator {
    // Both schemas are compiled into the binary and a unit test compiles them, so a
    // failure here is a build defect, not something input can cause.
    let schema: Value = serde_json::from_str(text).expect("embedded schema is JSON");
    jsonschema::draft202012::new(&schema).expect("embedded schema compiles")
}

/// Forces both validators to compile (at start-up, so the first request is not slow).
pub fn warm_up() {
    LazyLock::force(&REFERRAL);
    LazyLock::force(&FHIR_BUNDLE);
}

/// Checks the flat form against `schemas/referral.schema.json`.
///
/// # Errors
/// Every schema violation, with `$.`-style paths.
pub fn check_flat(doc: &Value) -> Result<(), Vec<Problem>> {
    check(&REFERRAL, doc, PathStyle::Flat)
}

/// Checks a FHIR submission against `schemas/fhir-bundle.schema.json`.
///
/// # Errors
/// Every schema violation, with FHIRPath-style paths (`Bundle.entry[2].resource.gender`).
pub fn check_fhir(doc: &Value) -> Result<(), Vec<Problem>> {
    check(&FHIR_BUNDLE, doc, PathStyle::Fhir)
}

#[derive(Clone, Copy)]
enum PathStyle {
    Flat,
    Fhir,
}

fn check(validator: &Validator, doc: &Value, style: PathStyle) -> Result<(), Vec<Problem>> {
    // The common case first: a yes/no check is much cheaper than collecting errors.
    if validator.is_valid(doc) {
        return Ok(());
    }
    let mut problems: Vec<Problem> = Vec::new();
    for error in validator.iter_errors(doc) {
        for p in describe(&error, style) {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn describe(error: &ValidationError<'_>, style: PathStyle) -> Vec<Problem> {
    let segments: Vec<String> = error
        .instance_path()
        .segments()
        .map(|s| match s {
            LocationSegment::Property(p) => format!(".{p}"),
            LocationSegment::Index(i) => format!("[{i}]"),
        })
        .collect();
    let path = render_path(&segments, style);
    let at = |code, msg: String| vec![Problem::new(code, path.clone(), msg)];
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or("element");
            let mut child = segments.clone();
            child.push(format!(".{name}"));
            vec![Problem::new(
                IssueCode::Required,
                render_path(&child, style),
                "required element is missing",
            )]
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                let mut child = segments.clone();
                child.push(format!(".{name}"));
                Problem::new(
                    IssueCode::Structure,
                    render_path(&child, style),
                    "unknown element (see the schema for the allowed field names)",
                )
            })
            .collect(),
        ValidationErrorKind::Type { kind } => at(
            IssueCode::Structure,
            format!("wrong type: expected {}", type_names(kind)),
        ),
        ValidationErrorKind::Constant { expected_value } => {
            at(IssueCode::Value, format!("must be {expected_value}"))
        }
        ValidationErrorKind::Enum { options } => {
            at(IssueCode::Value, format!("must be one of {options}"))
        }
        ValidationErrorKind::Pattern { pattern } => at(IssueCode::Value, pattern_message(pattern)),
        ValidationErrorKind::Minimum { limit } => {
            at(IssueCode::Value, format!("below the minimum of {limit}"))
        }
        ValidationErrorKind::Maximum { limit } => {
            at(IssueCode::Value, format!("above the maximum of {limit}"))
        }
        ValidationErrorKind::MinLength { .. } => {
            at(IssueCode::Value, "must not be empty".to_owned())
        }
        ValidationErrorKind::MinItems { limit } => at(
            IssueCode::Required,
            format!("needs at least {limit} item(s)"),
        ),
        ValidationErrorKind::MaxLength { limit } => at(
            IssueCode::TooLong,
            format!("longer than {limit} characters"),
        ),
        ValidationErrorKind::MaxItems { limit } => {
            at(IssueCode::TooLong, format!("more than {limit} items"))
        }
        _ => at(
            IssueCode::Structure,
            format!("does not match the schema ({})", error.kind().keyword()),
        ),
    }
}

fn render_path(segments: &[String], style: PathStyle) -> String {
    let root = match style {
        PathStyle::Flat => "$",
        PathStyle::Fhir => "Bundle",
    };
    format!("{root}{}", segments.concat())
}

fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

// The patterns in the schemas are regular expressions; say what they mean instead.
fn pattern_message(pattern: &str) -> String {
    if pattern.starts_with("^[0-9]{4}-[0-9]{2}-[0-9]{2}") {
        "expected a date as YYYY-MM-DD".to_owned()
    } else if pattern.starts_with("^[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T") {
        "expected a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)"
            .to_owned()
    } else if pattern.starts_with("^[0-9]{4}(-") {
        "expected a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)".to_owned()
    } else if pattern.starts_with("^[0-9]{3}") {
        "nhs number must be 10 digits".to_owned()
    } else if pattern.starts_with("^[A-Za-z0-9]{3,10}") {
        "expected an ODS code (3 to 10 letters and digits)".to_owned()
    } else {
        format!("does not match the pattern {pattern}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flat_ok() -> Value {
        json!({
            "patient": {"nhs_number": "9990000018", "family_name": "Test", "date_of_birth": "1980-01-02"},
            "referrer": {"name": "Dr A Person"},
            "risk_flag": false
        })
    }

    #[test]
    fn both_embedded_schemas_compile() {
        warm_up();
    }

    #[test]
    fn a_minimal_flat_record_passes() {
        check_flat(&flat_ok()).unwrap();
    }

    #[test]
    fn every_flat_problem_is_reported_with_its_path_and_without_the_value() {
        let mut doc = flat_ok();
        doc["patient"]["nhs_number"] = json!("12345SECRET");
        doc["patient"]["date_of_birth"] = json!("02/01/1980");
        doc["measures"] = json!({"phq9": 31, "gad7": "high"});
        doc["colour"] = json!("blue");
        doc.as_object_mut().unwrap().remove("risk_flag");
        let problems = check_flat(&doc).unwrap_err();
        let find = |path: &str| {
            problems
                .iter()
                .find(|p| p.path == path)
                .unwrap_or_else(|| panic!("no problem at {path}: {problems:?}"))
        };
        assert_eq!(find("$.patient.nhs_number").code, IssueCode::Value);
        assert_eq!(
            find("$.patient.date_of_birth").message,
            "expected a date as YYYY-MM-DD"
        );
        assert_eq!(find("$.measures.phq9").message, "above the maximum of 27");
        assert_eq!(find("$.measures.gad7").code, IssueCode::Structure);
        assert_eq!(find("$.colour").code, IssueCode::Structure);
        assert_eq!(find("$.risk_flag").code, IssueCode::Required);
        for p in &problems {
            assert!(
                !p.message.contains("SECRET") && !p.message.contains("02/01"),
                "{p:?}"
            );
        }
    }

    #[test]
    fn fhir_paths_point_into_the_bundle() {
        let doc = json!({
            "resourceType": "Bundle", "type": "collection",
            "entry": [
                {"resource": {"resourceType": "Patient", "gender": "woman", "birthDate": "2 May"}},
                {"resource": {"resourceType": "ServiceRequest", "status": "active", "intent": "order"}}
            ]
        });
        let problems = check_fhir(&doc).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert!(
            paths.contains(&"Bundle.entry[0].resource.gender"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"Bundle.entry[0].resource.birthDate"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"Bundle.entry[1].resource.subject"),
            "{paths:?}"
        );
    }

    #[test]
    fn other_bundle_types_and_resources_are_refused() {
        let problems = check_fhir(&json!({"resourceType": "Patient"})).unwrap_err();
        assert!(problems.iter().any(|p| p.path == "Bundle.resourceType"));
        let problems =
            check_fhir(&json!({"resourceType": "Bundle", "type": "searchset", "entry": []}))
                .unwrap_err();
        assert!(problems.iter().any(|p| p.path == "Bundle.type"));
        assert!(problems.iter().any(|p| p.path == "Bundle.entry"));
    }
}
