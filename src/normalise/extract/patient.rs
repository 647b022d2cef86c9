//! The patient's identity: NHS number, name and title, date of birth, sex.
//!
//! Labelled values in the patient block come first ("Re:", "Patient:", "DOB:", "NHS
//! No:"); prose is read only where it identifies someone ("see Mrs X, date of birth
//! ..."). A name that belongs to the GP, the referrer, a copy recipient or a relative is
//! never taken for the patient, and nothing is guessed when the letter does not say.

use std::sync::LazyLock;

use chrono::Datelike;
use regex::Regex;

use super::Sink;
use super::blocks::{Doc, Zone};
use super::dates::{self, Era};
use super::names::PersonName;
use super::patient_name::{self, Found};
use super::text;
use crate::domain::{NhsNumber, Sex};

pub(super) fn read(
    doc: &Doc<'_>,
    others: &[PersonName],
    letter_year: Option<i32>,
    sink: &mut Sink,
) -> Option<Found> {
    nhs_number(doc, sink);
    let found = patient_name::read(doc, others, sink);
    let year = letter_year.unwrap_or_else(dates::this_year);
    date_of_birth(doc, year, sink);
    if sink.record.patient.date_of_birth.is_none()
        && let Some(f) = found.as_ref()
    {
        date_beside_name(doc, f, year, sink);
    }
    sex(doc, found.as_ref(), sink);
    found
}

// ---------------------------------------------------------------- NHS number

static NHS_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bnhs\s*(?:no\b\.?|number\b|num\b|#)?\s*[:.\-=]?[ \t]*")
        .expect("static pattern compiles")
});

static TEN_DIGITS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{3}[ \-]?\d{3}[ \-]?\d{4}\b").expect("static pattern compiles")
});

/// Labels of other numbers that can be ten digits long.
static OTHER_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(hosp\w*|mrn|unit|pas|rtx|crn|ubrn|tel\w*|phone|mob\w*|fax|ref\w*|case|id)\b[^\n\d]{0,12}$")
        .expect("static pattern compiles")
});

/// Ten digits after `at`, in any spacing or hyphenation, across at most one line break
/// ("999\n311 2976"). `None` unless exactly ten digits are there.
fn ten_digits_after(text: &str, at: usize) -> Option<(String, usize)> {
    let rest = text.get(at..)?;
    let mut digits = String::new();
    let mut breaks = 0;
    let mut end = at;
    for (i, c) in rest.char_indices().take(40) {
        match c {
            '0'..='9' => {
                if digits.len() == 10 {
                    return None;
                }
                digits.push(c);
                end = at + i + 1;
            }
            ' ' | '-' | '\t' | '\r' | '\u{a0}' if !digits.is_empty() => {}
            '\n' if !digits.is_empty() && breaks == 0 => breaks += 1,
            _ => break,
        }
        if digits.len() == 10 {
            // Eleven or more digits in a row is some other number.
            if rest[i + 1..].starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            return Some((digits, end));
        }
    }
    None
}

fn nhs_number(doc: &Doc<'_>, sink: &mut Sink) {
    let text = doc.text;
    let allowed = |z: Zone| matches!(z, Zone::Patient | Zone::Body | Zone::Header);
    // A labelled number, checksum or not: the letter says it is the NHS number.
    for m in NHS_LABEL.find_iter(text) {
        if !allowed(doc.zone_at(m.start())) {
            continue;
        }
        if let Some((digits, end)) = ten_digits_after(text, m.end()) {
            let valid = NhsNumber::parse(&digits).is_ok_and(|n| n.is_valid());
            set_nhs(
                sink,
                digits,
                valid,
                m.end(),
                end,
                if valid { 0.99 } else { 0.85 },
            );
            return;
        }
    }
    // An unlabelled ten-digit number counts only when its check digit passes.
    for m in TEN_DIGITS.find_iter(text) {
        let before = text.get(..m.start()).unwrap_or_default();
        let line_before = before.rsplit('\n').next().unwrap_or_default();
        if !allowed(doc.zone_at(m.start()))
            || m.as_str().starts_with('0')
            || before.ends_with(['+', '/', '.'])
            || OTHER_NUMBER.is_match(line_before)
        {
            continue;
        }
        let Ok(n) = NhsNumber::parse(m.as_str()) else {
            continue;
        };
        if n.is_valid() {
            set_nhs(sink, n.as_str().to_owned(), true, m.start(), m.end(), 0.8);
            return;
        }
    }
}

fn set_nhs(
    sink: &mut Sink,
    digits: String,
    valid: bool,
    start: usize,
    end: usize,
    confidence: f64,
) {
    sink.record.patient.nhs_number = Some(digits);
    sink.record.patient.nhs_number_valid = Some(valid);
    sink.note("patient.nhs_number", start, end, confidence);
}

// ------------------------------------------------------------- date of birth

static DOB_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:d\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|birth\s+date|born(?:\s+on)?|b\.)(?:\s*(?:/|\(|&|and)\s*age\)?)?\s*[:\-]?\s*")
        .expect("static pattern compiles")
});

fn date_of_birth(doc: &Doc<'_>, reference_year: i32, sink: &mut Sink) {
    let text = doc.flat.as_str();
    for m in DOB_LABEL.find_iter(text) {
        let zone = doc.zone_at(m.start());
        if !matches!(zone, Zone::Patient | Zone::Body | Zone::Header) {
            continue;
        }
        let window = text
            .get(m.end()..(m.end() + 40).min(text.len()))
            .unwrap_or_default();
        let Some(hit) = dates::find(window)
            .into_iter()
            .next()
            .filter(|h| h.start <= 2)
        else {
            continue;
        };
        let Some(date) = hit.resolve(Era::Birth { reference_year }) else {
            continue;
        };
        if date.year() > reference_year {
            continue;
        }
        sink.record.patient.date_of_birth = Some(dates::iso(date));
        let confidence = if zone == Zone::Patient { 0.95 } else { 0.85 };
        sink.note(
            "patient.date_of_birth",
            m.end() + hit.start,
            m.end() + hit.end,
            confidence,
        );
        return;
    }
}

/// "Re: Tomasz NOWAK (3.7.81)": an unlabelled date right after the patient's name in
/// the patient block is their date of birth (a letter or clinic date is never written
/// there).
fn date_beside_name(doc: &Doc<'_>, found: &Found, reference_year: i32, sink: &mut Sink) {
    if doc.zone_at(found.start) != Zone::Patient {
        return;
    }
    let after = doc.text.get(found.end..).unwrap_or_default();
    let lead = after.len() - after.trim_start_matches([' ', '\t', ',', '(', '[']).len();
    let window = text::head(&after[lead..], 24);
    let Some(hit) = dates::find(window)
        .into_iter()
        .next()
        .filter(|h| h.start == 0)
    else {
        return;
    };
    let Some(date) = hit.resolve(Era::Birth { reference_year }) else {
        return;
    };
    if date.year() > reference_year {
        return;
    }
    let at = found.end + lead;
    sink.record.patient.date_of_birth = Some(dates::iso(date));
    sink.note("patient.date_of_birth", at, at + hit.end, 0.75);
}

// ------------------------------------------------------------------------ sex

static SEX_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:sex|gender)\s*[:\-]\s*(female|male|woman|man|f|m)\b")
        .expect("static pattern compiles")
});

static FEMALE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(she|her|hers|herself)\b").expect("static pattern compiles")
});
static MALE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(he|him|his|himself)\b").expect("static pattern compiles"));

fn sex(doc: &Doc<'_>, found: Option<&Found>, sink: &mut Sink) {
    let by_title = found.and_then(|f| match f.name.title.as_deref() {
        Some("Mr" | "Master" | "Sir" | "Lord") => Some(Sex::Male),
        Some("Mrs" | "Ms" | "Miss" | "Dame" | "Lady") => Some(Sex::Female),
        _ => None,
    });
    if let (Some(s), Some(f)) = (by_title, found) {
        return set_sex(sink, s, f.start, f.end, 0.95);
    }
    if let Some(c) = SEX_LABEL.captures(doc.text)
        && let (Some(m), Some(v)) = (c.get(0), c.get(1))
    {
        let s = if v.as_str().to_ascii_lowercase().starts_with('f')
            || v.as_str().eq_ignore_ascii_case("woman")
        {
            Sex::Female
        } else {
            Sex::Male
        };
        return set_sex(sink, s, m.start(), m.end(), 0.95);
    }
    // Pronouns in the body, when they point one way: relatives and clinicians are
    // mentioned far less than the patient.
    let body = doc.prose.as_str();
    let f: Vec<_> = FEMALE.find_iter(body).collect();
    let m: Vec<_> = MALE.find_iter(body).collect();
    let (sex, first, n, other) = if f.len() >= m.len() {
        (Sex::Female, f.first(), f.len(), m.len())
    } else {
        (Sex::Male, m.first(), m.len(), f.len())
    };
    if let Some(first) = first
        && n >= 2
        && n >= 3 * other
    {
        let confidence = if other == 0 { 0.75 } else { 0.55 };
        set_sex(sink, sex, first.start(), first.end(), confidence);
    }
}

fn set_sex(sink: &mut Sink, sex: Sex, start: usize, end: usize, confidence: f64) {
    sink.record.patient.sex = sex;
    sink.note("patient.sex", start, end, confidence);
}
