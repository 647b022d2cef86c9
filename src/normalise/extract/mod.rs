//! Letter reader: the text of a dictated clinic or GP letter becomes one referral record.
//!
//! Input: the letter's text (from a text upload, an e-mail body, or text taken out of a
//! PDF or DOCX by the caller). Output: the [`Referral`] with a confidence per field it
//! filled and, per field, the byte span of the text it came from. The reader first finds
//! the letter's structure (letterhead, addressee and date header, patient block, body,
//! sign-off, cc list; see `blocks`) and then reads each field only where that field can
//! be: the patient's phone is never the secretary's line in the letterhead, the referrer
//! is whoever signs, the GP comes from a GP line, the cc list or the addressee.
//!
//! Unknown is `None`, never guessed. The caller puts values in normal form
//! (`tidy::tidy`); this module never does I/O, never logs letter text and never panics,
//! whatever the input.

mod addressee;
mod blocks;
mod clinical;
mod contact;
mod dates;
mod diagnoses;
mod gp;
mod letter;
mod measures;
mod names;
mod patient;
mod patient_name;
mod people;
mod text;

#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod people_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::domain::Referral;

/// Where a value came from: a byte range in the text (the caller maps it to pages for
/// PDF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte of the source text.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// What the reader found.
#[derive(Debug, Clone)]
pub struct Extraction {
    /// The record as read: values as written, not yet in normal form (`tidy` does that).
    pub record: Referral,
    /// Record field path (`patient.nhs_number`) -> source span.
    pub provenance: BTreeMap<&'static str, Span>,
}

/// Letters are a few kilobytes; text beyond this is not read, which bounds the time a
/// hostile upload can cost.
const MAX_TEXT: usize = 256 * 1024;

/// Reads a letter's text. `record.confidence` holds 0..1 per field the reader filled:
/// 0.9 and above for labelled values ("NHS No:", "DOB:") and checksummed ones, lower for
/// values read from prose.
pub fn extract(text: &str) -> Extraction {
    let text = text::bounded(text, MAX_TEXT);
    let doc = blocks::Doc::read(text);
    let mut sink = Sink::default();
    let letter_year = letter::read_date(&doc, &mut sink);
    let others = people::read(&doc, &mut sink);
    let patient = patient::read(&doc, &others, letter_year, &mut sink);
    contact::read(&doc, patient.as_ref(), &mut sink);
    clinical::read(&doc, &mut sink);
    measures::read(&doc, &mut sink);
    letter::read_intent(&doc, &mut sink);
    sink.finish(text.len())
}

/// Collects the record with its provenance and confidence while the readers run.
#[derive(Default)]
pub(super) struct Sink {
    pub record: Referral,
    provenance: BTreeMap<&'static str, Span>,
}

impl Sink {
    /// Records where `field` came from and how sure the reader is.
    pub fn note(&mut self, field: &'static str, start: usize, end: usize, confidence: f64) {
        self.provenance.insert(field, Span { start, end });
        self.record
            .confidence
            .insert(field.to_owned(), confidence.clamp(0.0, 1.0));
    }

    /// Records how sure the reader is about a field that no one span supports.
    pub fn assess(&mut self, field: &'static str, confidence: f64) {
        self.record
            .confidence
            .insert(field.to_owned(), confidence.clamp(0.0, 1.0));
    }

    fn finish(mut self, text_len: usize) -> Extraction {
        // Spans always lie inside the text, whatever a reader computed.
        for span in self.provenance.values_mut() {
            span.end = span.end.min(text_len);
            span.start = span.start.min(span.end);
        }
        // Fields that always hold a value (risk_flag, urgency, sex) still need a
        // confidence when nothing was read for them: "not mentioned" is fairly sure.
        for field in ["risk_flag", "urgency", "is_referral"] {
            self.record
                .confidence
                .entry(field.to_owned())
                .or_insert(0.7);
        }
        Extraction {
            record: self.record,
            provenance: self.provenance,
        }
    }
}
