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
use super::names::{self, PersonName};
use super::text::tail;
use crate::domain::{NhsNumber, Sex};

/// The patient's name and where it was read, for the address and contact readers.
pub(super) struct Found {
    pub name: PersonName,
    /// Byte offsets of the name in the letter.
    pub start: usize,
    pub end: usize,
}

pub(super) fn read(
    doc: &Doc<'_>,
    others: &[PersonName],
    letter_year: Option<i32>,
    sink: &mut Sink,
) -> Option<Found> {
    nhs_number(doc, sink);
    let found = name(doc, others, sink);
    date_of_birth(doc, letter_year.unwrap_or_else(dates::this_year), sink);
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

// ---------------------------------------------------------------------- name

/// A label that introduces the patient's name.
static NAME_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:re|patient(?:'s)?(?:\s+(?:name|details))?|name|full\s+name|regarding|referral(?:\s+for)?|subject|client)\s*[:.\-]\s*")
        .expect("static pattern compiles")
});

static FAMILY_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:surname|family\s+name|last\s+name)\s*[:\-]\s*")
        .expect("static pattern compiles")
});

static GIVEN_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:forenames?|first\s+names?|given\s+names?|christian\s+names?)\s*[:\-]\s*")
        .expect("static pattern compiles")
});

static TITLE_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^\s*title\s*[:\-]\s*(\w+)").expect("static pattern compiles")
});

/// A field label at the start of a line: such a line does not open with a name.
static FIELD_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(d\.?o\.?b|date|nhs|address|tel|phone|mobile|email|gp|hospital|hosp|mrn|sex|gender|age|dear|to|from|cc)\b")
        .expect("static pattern compiles")
});

/// Words close after a name in prose that say it is the person identified.
static IDENTITY_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[\s,;(]{0,4}(date\s+of\s+birth|d\.?o\.?b|born|nhs\b|aged\s+\d|\(?\d{1,2}[/.]\d{1,2}[/.]\d{2,4})")
        .expect("static pattern compiles")
});

/// The prose verbs that introduce the person the letter is about.
static ABOUT_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(see|seeing|seen|saw|reviewed|review|assessed|assess|refer|referring|referred|offer|regarding|about|thank\s+you\s+for\s+seeing)\s+$")
        .expect("static pattern compiles")
});

/// Someone related to the patient or a clinician is named right after these words.
static RELATION_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(father|mother|husband|wife|partner|son|daughter|brother|sister|carer|friend|neighbour|colleague|gp|consultant|physiotherapist|nurse|secretary|uncle|aunt|grandmother|grandfather|grandson|granddaughter|cousin|niece|nephew|fianc\w*|boyfriend|girlfriend|dad|mum|parent|employer|manager|registrar|surgeon|therapist|psychologist|colleagues?|by|with|from|to)\b[\s,]*(?:is\s+|was\s+|called\s+|named\s+)?$")
        .expect("static pattern compiles")
});

static TITLE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(Mr|Mrs|Ms|Miss|Mx|Master|Dr|MR|MRS|MS|MISS)\.?\s+[A-Z]")
        .expect("static pattern compiles")
});

fn name(doc: &Doc<'_>, others: &[PersonName], sink: &mut Sink) -> Option<Found> {
    let (found, confidence) = labelled_name(doc)
        .map(|f| (f, 0.95))
        .or_else(|| block_name(doc).map(|f| (f, 0.9)))
        .or_else(|| prose_name(doc, others))?;
    let found = complete_given_names(doc, found);
    let p = &mut sink.record.patient;
    p.title = found.name.title.clone();
    p.given_names = found.name.given.clone();
    p.family_name = Some(found.name.family.clone());
    if found.name.title.is_some() {
        sink.note("patient.title", found.start, found.end, confidence);
    }
    if !found.name.given.is_empty() {
        sink.note("patient.given_names", found.start, found.end, confidence);
    }
    sink.note("patient.family_name", found.start, found.end, confidence);
    Some(found)
}

fn labelled_name(doc: &Doc<'_>) -> Option<Found> {
    for (i, line) in doc.lines.iter().enumerate() {
        if !matches!(doc.zones[i], Zone::Patient | Zone::Header) {
            continue;
        }
        if let Some(m) = NAME_LABEL.find(line.text) {
            let rest = &line.text[m.end()..];
            if let Some(n) = names::parse(rest, true).filter(plausible) {
                let base = line.start + m.end();
                return Some(Found {
                    start: base + n.start,
                    end: base + n.end,
                    name: n,
                });
            }
        }
    }
    separate_name_fields(doc)
}

/// "Surname: SMITH" / "Forename(s): Jane" / "Title: Mrs" on separate lines.
fn separate_name_fields(doc: &Doc<'_>) -> Option<Found> {
    let text = doc.text;
    let fam = FAMILY_LABEL.find(text)?;
    let fam_value = text.get(fam.end()..)?;
    let family_end = fam_value.find(['\n', ',', '\t']).unwrap_or(fam_value.len());
    let family = names::parse(&fam_value[..family_end], false)?;
    let mut name = PersonName {
        title: None,
        given: Vec::new(),
        family: family.display(),
        start: 0,
        end: 0,
    };
    if let Some(g) = GIVEN_LABEL.find(text) {
        let v = text.get(g.end()..).unwrap_or_default();
        let v = &v[..v.find(['\n', '\t']).unwrap_or(v.len())];
        if let Some(given) = names::parse(&format!("{v} X"), false) {
            name.given = given.given;
        }
    }
    if let Some(t) = TITLE_LABEL.captures(text).and_then(|c| c.get(1)) {
        name.title = names::title(t.as_str()).map(str::to_owned);
    }
    Some(Found {
        start: fam.end(),
        end: fam.end() + family_end,
        name,
    })
}

/// A line of the patient block that opens with the name ("Mr Paul DEAKIN   DOB ...").
fn block_name(doc: &Doc<'_>) -> Option<Found> {
    for (i, line) in doc.lines.iter().enumerate() {
        if doc.zones[i] != Zone::Patient || FIELD_LABEL.is_match(line.text) {
            continue;
        }
        let Some(n) = names::parse(line.text, false).filter(plausible) else {
            continue;
        };
        let rest = &line.text[n.end..];
        let has_id = super::blocks::is_patient_anchor(rest);
        if n.title.is_some() && (has_id || !super::blocks::is_prose(line.text))
            || has_id && n.given.len() + 1 >= 2
        {
            return Some(Found {
                start: line.start + n.start,
                end: line.start + n.end,
                name: n,
            });
        }
    }
    None
}

/// A titled name in the letter's prose. Strong when identity details follow it; weaker
/// when a verb like "saw" or "refer" introduces it. Never a relative, a clinician named
/// elsewhere in the letter, or a doctor without identity details.
fn prose_name(doc: &Doc<'_>, others: &[PersonName]) -> Option<(Found, f64)> {
    let text = doc.flat.as_str();
    let mut weak: Option<Found> = None;
    for m in TITLE_WORD.find_iter(text) {
        if !matches!(doc.zone_at(m.start()), Zone::Patient | Zone::Body) {
            continue;
        }
        let Some(n) = text
            .get(m.start()..)
            .and_then(|s| names::parse(s, false))
            .filter(plausible)
        else {
            continue;
        };
        let before = tail(text.get(..m.start()).unwrap_or_default(), 40);
        let after = text.get(m.start() + n.end..).unwrap_or_default();
        let found = Found {
            start: m.start() + n.start,
            end: m.start() + n.end,
            name: n,
        };
        if RELATION_CUE.is_match(before) {
            continue;
        }
        if IDENTITY_CUE.is_match(after) {
            return Some((found, 0.8));
        }
        let clinician = found.name.title.as_deref() == Some("Dr")
            || others.iter().any(|o| o.same_person(&found.name));
        if weak.is_none() && !clinician && ABOUT_CUE.is_match(before) {
            weak = Some(found);
        }
    }
    weak.map(|f| (f, 0.6))
}

/// "Re: Mrs Pearson" with "Mrs Sandra Pearson" later: take the given names from there.
fn complete_given_names(doc: &Doc<'_>, mut found: Found) -> Found {
    if !found.name.given.is_empty() {
        return found;
    }
    for m in TITLE_WORD.find_iter(&doc.flat) {
        let Some(n) = doc
            .flat
            .get(m.start()..)
            .and_then(|s| names::parse(s, false))
        else {
            continue;
        };
        if n.family.eq_ignore_ascii_case(&found.name.family)
            && !n.given.is_empty()
            && n.title == found.name.title
        {
            found.name.given = n.given;
            break;
        }
    }
    found
}

/// A name worth taking: titled, or at least two words.
fn plausible(n: &PersonName) -> bool {
    n.title.is_some() || !n.given.is_empty()
}

// ------------------------------------------------------------- date of birth

static DOB_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:d\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|birth\s+date|born(?:\s+on)?|b\.)\s*[:\-]?\s*")
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
    let body = doc.masked(&[Zone::Body, Zone::Patient]);
    let f: Vec<_> = FEMALE.find_iter(&body).collect();
    let m: Vec<_> = MALE.find_iter(&body).collect();
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
