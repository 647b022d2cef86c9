//! The patient's name: title, given names and family name.
//!
//! Labelled values in the patient block come first ("Re:", "Patient:", "Name:",
//! "Surname:" with "Forename(s):"), then a patient-block line that opens with a name,
//! then prose, and there only a name followed by identity details ("see Mrs X, date of
//! birth ...") or introduced by a verb such as "saw" or "refer". A relative, a clinician,
//! a copy recipient or anyone else the letter names is never taken for the patient.

use std::sync::LazyLock;

use regex::Regex;

use super::Sink;
use super::blocks::{self, Doc, Zone};
use super::names::{self, PersonName};
use super::text::tail;

/// The patient's name and where it was read, for the address and contact readers.
pub(super) struct Found {
    pub name: PersonName,
    /// Byte offsets of the name in the letter.
    pub start: usize,
    pub end: usize,
}

/// A label that introduces the patient's name.
static NAME_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\|?\s*(?:re|pt|patient(?:'s)?(?:\s+(?:name|details))?|name|full\s+name|regarding|referral(?:\s+for)?|subject|client)(?:\s*[:.\-]\s*|\s{2,}|\t\s*|\s*\|\s*)")
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
    Regex::new(r"(?im)^\s*title(?:\s*[:\-]|\t)\s*(\w+)").expect("static pattern compiles")
});

/// A field label at the start of a line: such a line does not open with a name.
static FIELD_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(d\.?o\.?b|date|nhs|address|tel|phone|mobile|email|gp|hospital|hosp|mrn|sex|gender|age|dear|to|from|cc)\b")
        .expect("static pattern compiles")
});

/// Words close after a name in prose that say it is the person identified.
static IDENTITY_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[\s,;(]{0,4}(date\s+of\s+birth|d\.?o\.?b|born|nhs\b|aged\s+\d|\(?\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|(?:is|was)\s+an?\s+\d{1,3}[\s-]year[\s-]old)")
        .expect("static pattern compiles")
});

/// The prose verbs that introduce the person the letter is about.
static ABOUT_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\b(see|seeing|seen|saw|reviewed|review|assessed|assess|refer|referring|referred|offer|regarding|about|thank\s+you\s+for\s+seeing)\s+|\b(lady|gentleman|man|woman|patient|year[\s-]old)\s*,\s*)$")
        .expect("static pattern compiles")
});

/// Someone related to the patient or a clinician is named right after these words.
static RELATION_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(father|mother|husband|wife|partner|son|daughter|brother|sister|carer|friend|neighbour|colleague|gp|consultant|physiotherapist|nurse|secretary|uncle|aunt|grandmother|grandfather|grandson|granddaughter|cousin|niece|nephew|fianc\w*|boyfriend|girlfriend|dad|mum|parent|employer|manager|registrar|surgeon|therapist|psychologist|colleagues?|by|with|from|to)\b[\s,]*(?:is\s+|was\s+|called\s+|named\s+)?$")
        .expect("static pattern compiles")
});

/// "Ms Laura Bingham, our physiotherapist": the words after a name say who they are.
static ROLE_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*,?\s*\(?(?:our|her|his|their|the|my)\s+(?:\w+\s+){0,2}?(?:physiotherapist|physio|nurse|gp|consultant|psychologist|secretary|counsellor|therapist|doctor|colleague|carer|partner|husband|wife|mother|father|daughter|son|sister|brother|mum|dad|friend|interpreter|manager|employer)\b")
        .expect("static pattern compiles")
});

static TITLE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(Mr|Mrs|Ms|Miss|Mx|Master|Dr|MR|MRS|MS|MISS)\.?\s+[A-Z]")
        .expect("static pattern compiles")
});

pub(super) fn read(doc: &Doc<'_>, others: &[PersonName], sink: &mut Sink) -> Option<Found> {
    let (found, confidence) = labelled_name(doc)
        .map(|f| (f, 0.95))
        .or_else(|| block_name(doc, others).map(|f| (f, 0.9)))
        .or_else(|| prose_name(doc, others))?;
    let mut found = complete_given_names(doc, found);
    // "Name: O'NEILL, Siobhan" with "Title: Mrs" as a field of its own.
    if found.name.title.is_none() {
        found.name.title = title_field(doc);
    }
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
        let Some(m) = NAME_LABEL.find(line.text) else {
            continue;
        };
        let rest = &line.text[m.end()..];
        if let Some(n) = names::parse(rest, true).filter(plausible) {
            let base = line.start + m.end();
            return Some(Found {
                start: base + n.start,
                end: base + n.end,
                name: n,
            });
        }
        // "Re: Chronic pain referral - Mrs Jane Smith": a titled name later in the value.
        for t in TITLE_WORD.find_iter(rest) {
            if let Some(n) = names::parse(&rest[t.start()..], false).filter(plausible) {
                let base = line.start + m.end() + t.start();
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
fn block_name(doc: &Doc<'_>, others: &[PersonName]) -> Option<Found> {
    let mut titled: Option<Found> = None;
    for (i, line) in doc.lines.iter().enumerate() {
        if doc.zones[i] != Zone::Patient || FIELD_LABEL.is_match(line.text) {
            continue;
        }
        let Some(n) = names::parse(line.text, false).filter(plausible) else {
            continue;
        };
        let has_id = blocks::is_patient_anchor(&line.text[n.end..]);
        let found = Found {
            start: line.start + n.start,
            end: line.start + n.end,
            name: n,
        };
        // A name on the line with the identifiers is the patient's.
        if has_id && (found.name.title.is_some() || !found.name.given.is_empty()) {
            return Some(found);
        }
        // A titled name alone on a line may be an addressee or the GP: only when it is
        // no one else the letter names, and not a doctor.
        let someone_else = found.name.title.as_deref() == Some("Dr")
            || others.iter().any(|o| o.same_person(&found.name));
        if titled.is_none()
            && found.name.title.is_some()
            && !blocks::is_prose(line.text)
            && !someone_else
        {
            titled = Some(found);
        }
    }
    titled
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
        // Only the words of the same sentence say whose name it is.
        let before = tail(text.get(..m.start()).unwrap_or_default(), 40);
        let before = before
            .rsplit(['.', '!', '?', '\n', ':'])
            .next()
            .unwrap_or(before);
        let after = text.get(m.start() + n.end..).unwrap_or_default();
        let found = Found {
            start: m.start() + n.start,
            end: m.start() + n.end,
            name: n,
        };
        if RELATION_CUE.is_match(before) || ROLE_AFTER.is_match(after) {
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

/// "Re: Mrs Pearson" with "Mrs Sandra Pearson" later: take the given names from there;
/// "Re: Tomasz NOWAK" with "Mr Nowak" in the letter: take the title from there.
fn complete_given_names(doc: &Doc<'_>, mut found: Found) -> Found {
    if found.name.title.is_none() {
        found.name.title = title_in_prose(doc, &found.name);
    }
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

/// The title the letter's prose gives the patient ("I reviewed Mr Nowak"), when it gives
/// one and only one; a doctor's title is never taken this way.
fn title_in_prose(doc: &Doc<'_>, name: &PersonName) -> Option<String> {
    let mut title: Option<String> = None;
    for m in TITLE_WORD.find_iter(&doc.prose) {
        let Some(n) = doc
            .prose
            .get(m.start()..)
            .and_then(|s| names::parse(s, false))
        else {
            continue;
        };
        let before = tail(doc.prose.get(..m.start()).unwrap_or_default(), 40);
        let after = doc.prose.get(m.start() + n.end..).unwrap_or_default();
        if !name.same_person(&n) || RELATION_CUE.is_match(before) || ROLE_AFTER.is_match(after) {
            continue;
        }
        match (&title, n.title) {
            (_, Some(t)) if t == "Dr" => return None,
            (None, Some(t)) => title = Some(t),
            (Some(a), Some(b)) if *a != b => return None,
            _ => {}
        }
    }
    title
}

/// A "Title:" field of the patient block.
fn title_field(doc: &Doc<'_>) -> Option<String> {
    doc.lines_in(Zone::Patient).find_map(|i| {
        let t = TITLE_LABEL.captures(doc.lines[i].text)?.get(1)?;
        names::title(t.as_str()).map(str::to_owned)
    })
}

/// A name worth taking: titled, or at least two words.
fn plausible(n: &PersonName) -> bool {
    n.title.is_some() || !n.given.is_empty()
}
