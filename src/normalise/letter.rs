//! Letters: document → text → fields → record.
//!
//! The document stage gives the letter's text (or says why it cannot), the extractor
//! reads the fields with a confidence and a source span each, and this stage puts them
//! in normal form and decides what needs a person. Unlike structured input, a letter
//! is never refused for a value that breaks a rule: it is what the clinician wrote, so
//! the value is dropped (unknown) and, if it was needed, the letter waits for review.
//! Only an unreadable document (corrupt, too large, not a document) is refused.

use chrono::NaiveDate;

use super::document::{self, DocumentError, DocumentKind, Limits, Text};
use super::{Format, IssueCode, Normalised, Problem, SourcePaths, extract, tidy, validate};
use crate::domain::{Referral, Source};

/// Below this the reader is not sure enough of a field that decides identity or who
/// refers: a person checks it first.
const SURE: f64 = 0.6;

/// Reads a letter.
///
/// # Errors
/// One problem when the document cannot be read at all.
pub fn read(kind: DocumentKind, body: &[u8], today: NaiveDate) -> Result<Normalised, Vec<Problem>> {
    let format = Format::Letter(kind);
    let text = match document::to_text(body, kind, &Limits::default()) {
        Ok(text) => text,
        // A scan or a locked file needs a person to read it: held, never dropped.
        Err(e @ (DocumentError::NoTextLayer | DocumentError::Encrypted)) => {
            let record = Referral::default();
            let mut review_reasons = vec![unreadable_reason(&e)];
            review_reasons.extend(record.review_reasons());
            return Ok(Normalised {
                record,
                format,
                review_reasons,
            });
        }
        Err(e) => {
            let code = match e {
                DocumentError::TooLarge => IssueCode::TooLong,
                DocumentError::Unrecognised | DocumentError::Unsupported(_) => {
                    IssueCode::NotSupported
                }
                _ => IssueCode::Invalid,
            };
            return Err(vec![Problem::new(code, "$", e.to_string())]);
        }
    };
    let found = extract::extract(&text.text);
    let mut record = found.record;
    record.provenance = found
        .provenance
        .into_iter()
        .map(|(field, span)| {
            let source = Source {
                start: span.start,
                end: span.end,
                page: page_of(&text, span.start),
            };
            (field.to_owned(), source)
        })
        .collect();
    tidy::tidy(&mut record, None);
    drop_invalid_values(&mut record, today);
    let mut review_reasons = record.review_reasons();
    if review_reasons.is_empty() {
        review_reasons.extend(unsure(&record));
    }
    Ok(Normalised {
        record,
        format,
        review_reasons,
    })
}

fn unreadable_reason(e: &DocumentError) -> &'static str {
    match e {
        DocumentError::Encrypted => "document (encrypted: it needs a person to open it)",
        _ => "document (no text layer: a scan needs a person to read it)",
    }
}

/// The page (from 1) a byte offset falls on, for documents that have pages.
fn page_of(text: &Text, offset: usize) -> Option<u32> {
    if text.pages.len() < 2 && text.kind != DocumentKind::Pdf {
        return None;
    }
    let index = text
        .pages
        .iter()
        .position(|r| r.contains(&offset) || r.end == offset)?;
    u32::try_from(index + 1).ok()
}

/// Values the rules refuse become unknown, except an NHS number that fails its check
/// digit: the record says so (`nhs_number_valid: false`) and identity then rests on
/// name and date of birth.
fn drop_invalid_values(record: &mut Referral, today: NaiveDate) {
    let Err(problems) = validate::check(record, &SourcePaths::new(), today) else {
        return;
    };
    for p in problems {
        if p.path == "patient.nhs_number" && p.message.contains("modulus-11") {
            continue;
        }
        let r = &mut *record;
        let cleared = match p.path.as_str() {
            "patient.nhs_number" => {
                r.patient.nhs_number_valid = None;
                r.patient.nhs_number.take().is_some()
            }
            "patient.date_of_birth" => r.patient.date_of_birth.take().is_some(),
            "patient.postcode" => r.patient.postcode.take().is_some(),
            "patient.phone" => r.patient.phone.take().is_some(),
            "patient.email" => r.patient.email.take().is_some(),
            "letter_date" => r.letter_date.take().is_some(),
            "measures.phq9" => r.measures.phq9.take().is_some(),
            "measures.gad7" => r.measures.gad7.take().is_some(),
            "measures.hads_anxiety" => r.measures.hads_anxiety.take().is_some(),
            "measures.hads_depression" => r.measures.hads_depression.take().is_some(),
            _ => false,
        };
        if cleared {
            record.confidence.remove(p.path.as_str());
            record.provenance.remove(p.path.as_str());
        }
    }
}

/// Identity and referrer were found but read too unsurely to send on unchecked.
fn unsure(record: &Referral) -> Vec<&'static str> {
    let sure = |field: &str| record.confidence.get(field).is_some_and(|c| *c >= SURE);
    let p = &record.patient;
    let by_number = p.nhs_number_valid == Some(true) && sure("patient.nhs_number");
    let by_name = p.family_name.is_some()
        && p.date_of_birth.is_some()
        && sure("patient.family_name")
        && sure("patient.date_of_birth");
    let mut reasons = Vec::new();
    if !(by_number || by_name) {
        reasons.push("patient identity (read with low confidence)");
    }
    if !sure("referrer.name") {
        reasons.push("referrer.name (read with low confidence)");
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn letter(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/fixtures/letters/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn a_clear_letter_is_read_with_provenance_pointing_at_the_source_words() {
        let body = letter("F01.txt");
        let n = read(DocumentKind::Text, &body, today()).unwrap();
        assert!(n.review_reasons.is_empty(), "{:?}", n.review_reasons);
        let r = &n.record;
        assert_eq!(r.patient.nhs_number.as_deref(), Some("9990702314"));
        let src = r.provenance["patient.nhs_number"];
        let words = &String::from_utf8_lossy(&body)[src.start..src.end];
        assert_eq!(words.replace(' ', ""), "9990702314");
        assert!(r.confidence["patient.nhs_number"] >= SURE);
    }

    const LETTER: &[&str] = &[
        "Dear Colleague",
        "",
        "Re: Mrs Ann EXAMPLE",
        "DOB: 12/03/1975",
        "NHS No: 999 070 2314",
        "",
        "I would be grateful if you could offer her telephone CBT. Her PHQ-9 is 31.",
        "",
        "Yours sincerely",
        "",
        "Dr Sam Writer",
        "Consultant Rheumatologist",
    ];

    #[test]
    fn impossible_values_in_a_letter_become_unknown_not_a_rejection() {
        let text = LETTER.join("\n");
        let n = read(DocumentKind::Text, text.as_bytes(), today()).unwrap();
        assert_eq!(n.record.patient.family_name.as_deref(), Some("Example"));
        assert_eq!(n.record.measures.phq9, None, "31 is off the PHQ-9 scale");
        assert!(!n.record.confidence.contains_key("measures.phq9"));
    }

    #[test]
    fn the_same_letter_reads_the_same_from_text_docx_and_pdf_with_pages() {
        let text = LETTER.join("\n");
        let from_text = read(DocumentKind::Text, text.as_bytes(), today()).unwrap();
        let paragraphs: String = LETTER
            .iter()
            .map(|line| format!("<w:p><w:r><w:t>{line}</w:t></w:r></w:p>"))
            .collect();
        let docx = document::tests::docx(&paragraphs);
        let from_docx = read(DocumentKind::Docx, &docx, today()).unwrap();
        let (first, second) = LETTER.split_at(7);
        let pdf = document::tests::pdf(&[first, second]);
        let from_pdf = read(DocumentKind::Pdf, &pdf, today()).unwrap();
        for n in [&from_docx, &from_pdf] {
            assert_eq!(
                n.record.patient.nhs_number,
                from_text.record.patient.nhs_number
            );
            assert_eq!(
                n.record.patient.family_name,
                from_text.record.patient.family_name
            );
            assert_eq!(n.record.referrer.name, from_text.record.referrer.name);
        }
        assert_eq!(
            from_pdf.record.provenance["patient.nhs_number"].page,
            Some(1)
        );
        assert_eq!(from_pdf.record.provenance["referrer.name"].page, Some(2));
        assert_eq!(from_text.record.provenance["referrer.name"].page, None);
    }

    #[test]
    fn a_scan_is_held_for_review_and_a_broken_file_is_refused() {
        let scan = document::tests::pdf(&[&[]]);
        let n = read(DocumentKind::Pdf, &scan, today()).unwrap();
        assert!(
            n.review_reasons[0].contains("no text layer"),
            "{:?}",
            n.review_reasons
        );
        let problems = read(DocumentKind::Pdf, b"%PDF-1.4 garbage", today()).unwrap_err();
        assert_eq!(problems[0].path, "$");
        assert!(!problems[0].message.is_empty());
    }
}
