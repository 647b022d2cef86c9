//! Normalise: turn whatever a channel received into the one referral record.
//!
//! Inputs: raw bytes and their declared media type. Outputs: a validated [`Referral`]
//! with the source path of each field, or every [`Problem`] found. This stage does no
//! I/O and never decides where a referral goes (that is `route`) or stores it.

pub mod cues;
pub mod document;
pub mod email;
pub mod extract;
pub mod fhir_map;
pub mod fhir_write;
pub mod flat;
pub mod letter;
pub mod problem;
pub mod schema;
pub mod tidy;
pub mod validate;

pub use problem::{IssueCode, Problem, operation_outcome};

use std::collections::BTreeMap;

use crate::domain::Referral;
use document::DocumentKind;

/// Where each record field came from in the submitted document, by record field path
/// (`patient.nhs_number`) → submission path (`Bundle.entry[2].resource.identifier[0].value`).
/// Validation uses it to point at the submitter's own element.
pub type SourcePaths = BTreeMap<&'static str, String>;

/// The formats refgate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/fhir+json`: a FHIR R4 Bundle (message, transaction or collection).
    Fhir,
    /// `application/json`: the record itself (DESIGN.md field names).
    Flat,
    /// A letter: plain text, DOCX, PDF, RTF or HTML, read into the record.
    Letter(DocumentKind),
    /// `message/rfc822`: an email, read as the letter it carries ([`email::read`]).
    Email,
}

impl Format {
    /// The format for a media type (parameters such as `; charset=utf-8` ignored).
    pub fn from_media_type(media_type: &str) -> Option<Format> {
        match document::essence(media_type).as_str() {
            "application/fhir+json" | "application/json+fhir" => Some(Format::Fhir),
            "application/json" => Some(Format::Flat),
            email::MEDIA_TYPE => Some(Format::Email),
            other => DocumentKind::from_media_type(other).map(Format::Letter),
        }
    }

    /// Picks the format from the content, not a file name or a declared type (files
    /// and drop folders have none, and senders mislabel): a JSON object whose
    /// `resourceType` is set is FHIR, any other JSON object is the flat form, bytes
    /// that open with a mail header block are an email ([`email::looks_like_email`]:
    /// a letter opening with memo lines such as `From:` is not one), and anything else
    /// is a letter if [`document::sniff`] recognises it.
    ///
    /// # Errors
    /// A not-supported problem for anything else.
    pub fn detect(body: &[u8]) -> Result<Format, Problem> {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(doc) if doc.get("resourceType").is_some() => Ok(Format::Fhir),
            Ok(doc) if doc.is_object() => Ok(Format::Flat),
            _ if email::looks_like_email(body) => Ok(Format::Email),
            _ => document::sniff(body).map(Format::Letter).ok_or_else(|| {
                Problem::new(
                    IssueCode::NotSupported,
                    "$",
                    "not a FHIR Bundle, flat JSON, an email or a letter (text, DOCX, PDF, RTF or HTML)",
                )
            }),
        }
    }

    /// The media type this format is submitted and stored as.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Fhir => "application/fhir+json",
            Format::Flat => "application/json",
            Format::Letter(kind) => kind.media_type(),
            Format::Email => email::MEDIA_TYPE,
        }
    }

    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Fhir => "fhir",
            Format::Flat => "json",
            Format::Letter(kind) => kind.as_str(),
            Format::Email => "email",
        }
    }
}

/// A submission that passed every check.
#[derive(Debug, Clone)]
pub struct Normalised {
    pub record: Referral,
    pub format: Format,
    /// Field names (never values) that send the referral to the review queue.
    pub review_reasons: Vec<&'static str>,
}

/// Parses, schema-validates, maps and semantically checks one submission.
/// `today` is injected so that "not in the future" is testable. An email is read as
/// the letter it carries: the result's `format` is that letter's.
///
/// # Errors
/// Every problem found, so the sender can fix them all at once.
pub fn normalise(
    format: Format,
    body: &[u8],
    today: chrono::NaiveDate,
) -> Result<Normalised, Vec<Problem>> {
    match format {
        Format::Letter(kind) => letter::read(kind, body, today),
        Format::Email => {
            let letter = email_letter(body).map_err(|p| vec![p])?;
            let kind = letter.kind().unwrap_or(DocumentKind::Text);
            letter::read(kind, &letter.bytes, today)
        }
        Format::Fhir | Format::Flat => structured(format, body, today),
    }
}

/// The letter an email carries, or the problem that stops it being read.
fn email_letter(body: &[u8]) -> Result<email::Part, Problem> {
    email::read(body)
        .map(|e| e.letter)
        .map_err(|e| email_problem(&e))
}

/// An email that cannot be read, as a problem for the sender (no input values).
pub fn email_problem(e: &email::EmailError) -> Problem {
    let code = match e {
        email::EmailError::TooLarge | email::EmailError::TooManyParts => IssueCode::TooLong,
        email::EmailError::NoLetter => IssueCode::Required,
        email::EmailError::NotMime => IssueCode::NotSupported,
        email::EmailError::TooDeep | email::EmailError::Malformed => IssueCode::Structure,
    };
    Problem::new(code, "$", e.to_string())
}

/// FHIR and the flat form: schema, mapping, normal forms, semantic checks.
fn structured(
    format: Format,
    body: &[u8],
    today: chrono::NaiveDate,
) -> Result<Normalised, Vec<Problem>> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        vec![Problem::new(
            IssueCode::Structure,
            "$",
            "body is not valid JSON",
        )]
    })?;
    let (mut record, paths) = if format == Format::Fhir {
        schema::check_fhir(&doc)?;
        fhir_map::read_bundle(&doc)?
    } else {
        schema::check_flat(&doc)?;
        flat::read(&doc)?
    };
    // Structured input states its fields; nothing was inferred or read from prose.
    record.provenance.clear();
    tidy::tidy(&mut record, Some(1.0));
    validate::check(&record, &paths, today)?;
    let review_reasons = record.review_reasons();
    Ok(Normalised {
        record,
        format,
        review_reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &str, name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/fixtures/{dir}/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    #[test]
    fn structured_fixtures_give_exactly_their_expected_records() {
        for (name, format) in [
            ("FJ01", Format::Fhir),
            ("FJ02", Format::Fhir),
            ("FJ03", Format::Flat),
        ] {
            let n = normalise(format, &fixture("json", name), today())
                .unwrap_or_else(|p| panic!("{name}: {p:?}"));
            assert!(n.review_reasons.is_empty(), "{name}");
            let mut got = serde_json::to_value(&n.record).unwrap();
            let mut want: serde_json::Value =
                serde_json::from_slice(&fixture("truth", name)).unwrap();
            got.as_object_mut().unwrap().remove("confidence");
            want.as_object_mut().unwrap().remove("_meta");
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_bad_check_digit_rejects_the_bundle_at_the_patient_identifier() {
        let problems = normalise(Format::Fhir, &fixture("json", "FJ04"), today()).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].path,
            "Bundle.entry[2].resource.identifier[0].value"
        );
        assert!(problems[0].message.contains("modulus-11"));
        assert_eq!(problems[0].code, IssueCode::Value);
    }

    /// The Bundles refgate emits follow the same table it reads with: reading one back
    /// gives the record that was written, for every field of the record.
    #[test]
    fn emitted_bundles_read_back_to_the_same_record() {
        let mut full = normalise(Format::Flat, &fixture("json", "FJ03"), today())
            .unwrap()
            .record;
        full.risk_flag = true;
        full.preferences.interpreter = Some("Turkish".into());
        full.patient.email = Some("simon@example.org".into());
        full.measures.hads_anxiety = Some(3);
        full.measures.hads_depression = Some(21);
        full.diagnoses.push("Fibromyalgia".into());
        let mut urgent_gp_referral = normalise(Format::Fhir, &fixture("json", "FJ02"), today())
            .unwrap()
            .record;
        urgent_gp_referral.preferences.telephone_ok = Some(false);
        for record in [full, urgent_gp_referral] {
            let meta = fhir_write::MessageMeta {
                message_id: uuid::Uuid::new_v4(),
                referral_id: crate::domain::ReferralId::new(),
                timestamp: chrono::Utc::now(),
                source_endpoint: "https://gateway.example".into(),
                sender: (
                    crate::domain::OrgId::parse("RCB55").unwrap(),
                    "Clinic".into(),
                ),
                destination: (crate::domain::OrgId::parse("TTNORTH").unwrap(), "TT".into()),
                original: Some(("text/plain".into(), b"Dear colleague".to_vec())),
                supporting: vec![fhir_write::Document {
                    media_type: "application/pdf".into(),
                    title: Some("bloods.pdf".into()),
                    bytes: b"%PDF-1.4".to_vec(),
                }],
                reviewed_by: None,
            };
            let mut record = record;
            tidy::tidy(&mut record, Some(1.0));
            let bundle = fhir_write::write_message(&record, &meta);
            let body = serde_json::to_vec(&bundle).unwrap();
            let back = normalise(Format::Fhir, &body, today())
                .unwrap_or_else(|p| panic!("{p:?}"))
                .record;
            assert_eq!(
                serde_json::to_value(&back).unwrap(),
                serde_json::to_value(&record).unwrap()
            );
        }
    }

    #[test]
    fn not_json_is_a_structure_problem() {
        let problems = normalise(Format::Flat, b"{not json", today()).unwrap_err();
        assert_eq!(problems[0].code, IssueCode::Structure);
    }
}
