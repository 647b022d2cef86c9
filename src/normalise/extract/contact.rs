//! The patient's address, postcode, phone and e-mail.
//!
//! Letterheads, sign-offs and cc lists are full of addresses and phone numbers that are
//! the clinic's, the secretary's or the GP's. Only the patient block and prose about the
//! patient are read here, and a number is skipped when the words before it say whose it
//! is (secretary, fax, surgery, next of kin ...).

use std::sync::LazyLock;

use regex::Regex;

use super::Sink;
use super::blocks::{self, Doc, Zone};
use super::gp;
use super::patient_name::Found;
use super::text::tail;
use crate::domain::Postcode;

pub(super) fn read(doc: &Doc<'_>, patient: Option<&Found>, sink: &mut Sink) {
    address(doc, patient, sink);
    phone(doc, sink);
    email(doc, sink);
}

static POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-PR-UWYZ][A-HK-Y]?[0-9][0-9A-HJKMNPR-Y]?[ \t]?[0-9][ABD-HJLNP-UW-Z]{2}\b")
        .expect("static pattern compiles")
});

/// A postcode typed in lower or mixed case ("hg1 2nb"), read only in the patient block
/// where a line of fields leaves no doubt what it is.
static POSTCODE_ANY_CASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[A-PR-UWYZ][A-HK-Y]?[0-9][0-9A-HJKMNPR-Y]?[ \t]?[0-9][ABD-HJLNP-UW-Z]{2}\b")
        .expect("static pattern compiles")
});

/// The postcodes on line `i`: upper case anywhere, any case in the patient block.
fn postcodes_in<'t>(doc: &Doc<'t>, i: usize) -> Vec<regex::Match<'t>> {
    let text = doc.lines[i].text;
    let re = if doc.zones[i] == Zone::Patient {
        &*POSTCODE_ANY_CASE
    } else {
        &*POSTCODE
    };
    re.find_iter(text)
        // A lower-case one stands at the end of its line, after the town.
        .filter(|m| {
            m.as_str().chars().any(|c| c.is_ascii_uppercase()) || text[m.end()..].trim().is_empty()
        })
        .collect()
}

static ADDRESS_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:(?:home\s+|patient'?s?\s+)?(?:address(?:\s+is)?|addr\b\.?)|lives\s+at|resides\s+at)\s*[:\-]?\s*")
        .expect("static pattern compiles")
});

/// Lines about someone other than the patient (next of kin, carer).
static OTHER_PARTY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(nok|next\s+of\s+kin|carer|emergency\s+contact|contact\s+person|guardian|parent)\b").expect("static pattern compiles")
});

/// Words that say the text after them is where the patient lives.
static LIVES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:of|at|lives\s+at|living\s+at|resides\s+at|address\s+is)\s+(?:(?:flat|apartment|apt|unit)\s+)?\d").expect("static pattern compiles")
});

/// A date or a ten-digit number inside the address line: the address starts after it.
static ID_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\b\d{3}[ \-]?\d{3}[ \-]?\d{4}\b")
        .expect("static pattern compiles")
});

fn usable_line(doc: &Doc<'_>, i: usize) -> bool {
    let t = doc.lines[i].text;
    matches!(doc.zones[i], Zone::Patient | Zone::Body)
        && !gp::in_gp_block(doc, i)
        && !OTHER_PARTY.is_match(t)
}

fn address(doc: &Doc<'_>, patient: Option<&Found>, sink: &mut Sink) {
    let mut best: Option<(u8, usize, usize, usize)> = None; // score, line, start, end (in line)
    for (i, line) in doc.lines.iter().enumerate() {
        if !usable_line(doc, i) {
            continue;
        }
        for m in postcodes_in(doc, i) {
            let labelled = ADDRESS_LABEL.is_match(&line.text[..m.start()]);
            let score = match doc.zones[i] {
                Zone::Patient if labelled => 3,
                Zone::Patient => 2,
                _ if labelled || about_patient(doc, i, patient) => 1,
                _ => continue,
            };
            if best.is_none_or(|b| score > b.0) {
                best = Some((score, i, m.start(), m.end()));
            }
        }
    }
    let Some((score, i, pc_start, pc_end)) = best else {
        labelled_address(doc, sink);
        return;
    };
    let line = doc.lines[i];
    let Ok(pc) = Postcode::parse(&line.text[pc_start..pc_end]) else {
        return;
    };
    sink.record.patient.postcode = Some(pc.as_str().to_owned());
    let confidence = if score >= 2 { 0.95 } else { 0.8 };
    sink.note(
        "patient.postcode",
        line.start + pc_start,
        line.start + pc_end,
        confidence,
    );

    // A postcode at the start of a line of wrapped prose: its address began on the line
    // above ("... 18 Stanley Road, Bootle\nL20 3EZ").
    let joined = i > 0 && doc.flat.as_bytes().get(line.start.wrapping_sub(1)) == Some(&b' ');
    let from = if joined {
        doc.lines[i - 1].start
    } else {
        line.start
    };
    let before = doc
        .flat
        .get(from..line.start + pc_start)
        .unwrap_or_default();
    let (mut lines, seg_start) = same_line_address(before, before, from, patient);
    let mut span_start = from + seg_start;
    if !lines.iter().any(|l| l.chars().any(|c| c.is_ascii_digit())) {
        let (above, start) = lines_above(doc, i);
        if !above.is_empty() {
            span_start = start;
            lines.splice(0..0, above);
        }
    }
    if !lines.is_empty() {
        sink.record.patient.address_lines = lines;
        sink.note(
            "patient.address_lines",
            span_start,
            line.start + pc_start,
            confidence - 0.05,
        );
    }
}

/// An "Address:" field in the patient block without a postcode: its value and the
/// indented lines under it.
fn labelled_address(doc: &Doc<'_>, sink: &mut Sink) {
    for (i, line) in doc.lines.iter().enumerate() {
        if doc.zones[i] != Zone::Patient || !usable_line(doc, i) {
            continue;
        }
        let Some(m) = ADDRESS_LABEL
            .find(line.text)
            .filter(|m| m.start() <= line.indent())
        else {
            continue;
        };
        let value = &line.text[m.end()..];
        let mut lines = split_address(&value[..super::text::field_end(value)]);
        let mut end = line.end();
        for next in doc.lines[i + 1..].iter().take(5) {
            if next.is_blank() || next.indent() < 2 || next.text.contains(':') {
                break;
            }
            lines.extend(split_address(next.text));
            end = next.end();
        }
        if !lines.is_empty() {
            sink.record.patient.address_lines = lines;
            sink.note("patient.address_lines", line.start + m.end(), end, 0.7);
        }
        return;
    }
}

/// The paragraph of a body line names the patient or gives their identifiers.
fn about_patient(doc: &Doc<'_>, i: usize, patient: Option<&Found>) -> bool {
    let para = doc.paragraph(i);
    let (start, end) = (doc.lines[para.start].start, doc.lines[para.end - 1].end());
    let text = doc.text.get(start..end).unwrap_or_default();
    patient.is_some_and(|p| p.start >= start && p.start < end) || blocks::is_patient_anchor(text)
}

/// The address written before the postcode on its own line, and where it starts.
fn same_line_address(
    line: &str,
    before: &str,
    line_start: usize,
    patient: Option<&Found>,
) -> (Vec<String>, usize) {
    let mut start = 0;
    if let Some(m) = ADDRESS_LABEL.find_iter(before).last() {
        start = m.end();
    } else {
        let gap = [before.rfind("   "), before.rfind('\t'), before.rfind('|')]
            .into_iter()
            .flatten()
            .max();
        if let Some(gap) = gap {
            start = gap + 1;
        }
        if let Some(p) = patient
            && p.end > line_start
            && p.end - line_start <= before.len()
        {
            start = start.max(p.end - line_start);
        }
        if let Some(m) = ID_FIELD
            .find_iter(before.get(start..).unwrap_or_default())
            .last()
        {
            start += m.end();
        }
        let seg = before.get(start..).unwrap_or_default();
        let prose = seg
            .split_whitespace()
            .any(|w| w.chars().all(char::is_lowercase) && w.len() > 3);
        if (prose || seg.contains(','))
            && let Some(m) = LIVES.find_iter(seg).last()
        {
            // Keep the house number the pattern ended on.
            start += m.end() - 1;
            while start > 0
                && line
                    .as_bytes()
                    .get(start - 1)
                    .is_some_and(u8::is_ascii_alphanumeric)
            {
                start -= 1;
            }
        }
    }
    let seg = before.get(start..).unwrap_or_default();
    let lead = seg.len()
        - seg
            .trim_start_matches(|c: char| c.is_whitespace() || c == ',')
            .len();
    (split_address(seg), start + lead)
}

fn split_address(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim_matches(|c: char| c.is_whitespace() || "()|,;:.-".contains(c)))
        .filter(|p| !p.is_empty() && p.len() <= 120 && !names_someone(p))
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// "c/o his partner Ms Anna Nowak": a person, not part of the patient's address.
fn names_someone(part: &str) -> bool {
    let words: Vec<&str> = part.split_whitespace().collect();
    part.to_ascii_lowercase().starts_with("c/o")
        || words
            .windows(2)
            .any(|w| super::names::title(w[0]).is_some() && w[1].starts_with(char::is_uppercase))
}

/// Address lines written above the postcode line, up to the name or a labelled field.
fn lines_above(doc: &Doc<'_>, i: usize) -> (Vec<String>, usize) {
    let mut out: Vec<String> = Vec::new();
    let mut start = doc.lines[i].start;
    let mut j = i;
    while j > 0 && out.len() < 5 {
        j -= 1;
        let line = doc.lines[j];
        if line.is_blank() || !usable_line(doc, j) || blocks::is_prose(line.text) {
            break;
        }
        if let Some(m) = ADDRESS_LABEL.find(line.text) {
            let value = &line.text[m.end()..];
            out.splice(0..0, split_address(value));
            start = line.start + m.end();
            break;
        }
        if blocks::is_patient_anchor(line.text)
            || super::names::title(line.text.split_whitespace().next().unwrap_or_default())
                .is_some()
            || line.text.contains(':')
        {
            break;
        }
        out.splice(0..0, split_address(line.text));
        start = line.start + line.indent();
    }
    (out, start)
}

// --------------------------------------------------------------------- phone

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+44[ \t]?(?:\(0\)[ \t]?)?|\(?\b0)\d(?:[ \t\-)]{0,2}\d){8,9}\b")
        .expect("static pattern compiles")
});

/// Words just before a number that make it someone else's.
static NOT_PATIENTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(secretar|fax|switchboard|department|dept|office|clinic|appointment|bleep|\bext|direct|reception|enquir|helpline|crisis|samaritans|surgery|practice|\bgp\b|next\s+of\s+kin|\bnok\b|daughter|\bson\b|husband|wife|partner|carer|mother|father|\bme\b|\bus\b|team|service|\bward\b|hospital)")
        .expect("static pattern compiles")
});

/// Words just after a number that make it someone else's ("(Anna's mobile)").
static SOMEONE_ELSES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[\s(\-]*(?:[A-Z][a-z]+['\u{2019}]s\b|(?:her|his|their)\s+(?:partner|wife|husband|daughter|son|mother|father|carer|sister|brother)|partner|wife|husband|daughter|son|mother|father|carer|nok|next\s+of\s+kin|secretary|office|clinic)")
        .expect("static pattern compiles")
});

static PHONE_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\b(tel|telephone|phone|mobile|mob|home|contact|landline|number|no|daytime|evening)\b(?:\s*\([a-z ,]{1,20}\))?[.:\s\-]*(?:no\.?|number)?[.:\s\-]*(?:(?:is|on)\s+)?\(?|\b(called|contacted|reached|rung|phoned|texted|text)\s+on\s+|\b(?:call|contact|ring|reach|text|phone)\w*\s+(?:(?:you|her|him|them)\s+)?(?:by\s+(?:tele)?phone\s+)?on\s+)$")
        .expect("static pattern compiles")
});

fn phone(doc: &Doc<'_>, sink: &mut Sink) {
    let mut best: Option<(u8, usize, usize, String)> = None;
    for m in PHONE.find_iter(doc.text) {
        let i = doc.line_at(m.start());
        if !usable_line(doc, i) {
            continue;
        }
        let line = doc.lines[i];
        let before = &doc.text[line.start..m.start()];
        let ctx = tail(before, 30);
        let after = doc.text.get(m.end()..line.end()).unwrap_or_default();
        if NOT_PATIENTS.is_match(ctx) || SOMEONE_ELSES.is_match(after) {
            continue;
        }
        let labelled = PHONE_LABEL.is_match(ctx);
        let score = match (doc.zones[i], labelled) {
            (Zone::Patient, true) => 3,
            (Zone::Patient, false) => 2,
            (_, true) => 1,
            _ => continue,
        };
        let Some(digits) = national_digits(m.as_str()) else {
            continue;
        };
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, m.start(), m.end(), digits));
        }
    }
    if let Some((score, start, end, digits)) = best {
        sink.record.patient.phone = Some(digits);
        sink.note(
            "patient.phone",
            start,
            end,
            if score >= 2 { 0.9 } else { 0.7 },
        );
    }
}

/// "07700 900011", "+44 (0)7700 900011" -> "07700900011"; `None` unless 10 or 11 digits.
fn national_digits(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.strip_prefix("44") {
        Some(rest) if raw.trim_start().starts_with('+') => {
            format!("0{}", rest.trim_start_matches('0'))
        }
        _ => digits,
    };
    (10..=11).contains(&national.len()).then_some(national)
}

// --------------------------------------------------------------------- email

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,5}\.[A-Za-z]{2,24}\b").expect("static pattern compiles")
});

fn email(doc: &Doc<'_>, sink: &mut Sink) {
    for m in EMAIL.find_iter(doc.text) {
        let i = doc.line_at(m.start());
        let lower = m.as_str().to_ascii_lowercase();
        // Clinicians write from NHS domains; a patient's address is personal.
        if !usable_line(doc, i) || lower.ends_with(".nhs.uk") || lower.ends_with("nhs.net") {
            continue;
        }
        let line = doc.lines[i];
        let before = &doc.text[line.start..m.start()];
        if NOT_PATIENTS.is_match(before) {
            continue;
        }
        // The words before it in the sentence, across a wrapped line.
        let said = tail(doc.flat.get(..m.start()).unwrap_or_default(), 60).to_ascii_lowercase();
        // "She can be contacted on 07700 900802 or rosa@example.com".
        if doc.zones[i] == Zone::Patient || said.contains("mail") || said.contains("contacted") {
            sink.record.patient.email = Some(m.as_str().to_owned());
            sink.note("patient.email", m.start(), m.end(), 0.9);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_national_digits() {
        assert_eq!(
            national_digits("07700 900 011").as_deref(),
            Some("07700900011")
        );
        assert_eq!(
            national_digits("+44 (0)7700 900011").as_deref(),
            Some("07700900011")
        );
        assert_eq!(
            national_digits("+44 7700 900011").as_deref(),
            Some("07700900011")
        );
        assert_eq!(national_digits("0770"), None);
    }

    #[test]
    fn an_abbreviated_label_or_address_is_in_prose_starts_the_address() {
        for (line, want) in [
            ("Addr: 7 Elm Row, Leeds LS1 1AA", "7 Elm Row"),
            (
                "Her address is 7 Elm Row, Leeds LS1 1AA, and her mobile",
                "7 Elm Row",
            ),
        ] {
            let at = line.find("LS1").unwrap();
            let (parts, _) = same_line_address(line, &line[..at], 0, None);
            assert_eq!(parts.first().map(String::as_str), Some(want), "{line}");
        }
    }

    #[test]
    fn the_address_starts_after_labels_names_and_prose() {
        let (lines, _) = same_line_address("", "Address: 5 Otley Road, Harrogate ", 0, None);
        assert_eq!(lines, vec!["5 Otley Road", "Harrogate"]);
        let s = "311 2976, of 12 Lexden Road, Colchester ";
        assert_eq!(
            same_line_address(s, s, 0, None).0,
            vec!["12 Lexden Road", "Colchester"]
        );
        let s = "Mr Paul DEAKIN   DOB 09/01/1959   27 Goldington Road, Bedford ";
        assert_eq!(
            same_line_address(s, s, 0, None).0,
            vec!["27 Goldington Road", "Bedford"]
        );
        let s = "12 High Street, Newport, Isle of Wight ";
        assert_eq!(same_line_address(s, s, 0, None).0.len(), 3);
    }
}
