//! The patient's registered GP: name, practice and ODS code.
//!
//! In order: a "GP:" line (or a "GP practice" heading over it), the GP who signs, a cc
//! entry that is a practice or says GP, the addressee when the letter is to a GP,
//! prose ("Their GP is Dr X at Y Surgery"), and last a doctor signing on practice
//! letterhead. A consultant in the cc list is never the GP.

use std::sync::LazyLock;

use regex::Regex;

use super::Sink;
use super::blocks::{Doc, Zone};
use super::names::{self, PersonName};
use super::people::{ON_BEHALF, clean_org, letterhead_org};
use super::text::{self, trim_phrase};

/// A line that gives the patient's GP ("GP: Dr Simon Tarrant, Wilton Road Practice").
static GP_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:(?:registered\s+|usual\s+|patient'?s\s+|named\s+)?(?:gp|g\.p\.|general\s+practitioner)(?:\s+(?:name|details|practice|surgery))?(?:\s*[:\-]|\t)|registered\s+with\s*[:\-]?)\s*")
        .expect("static pattern compiles")
});

static PRACTICE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:gp\s+)?(?:practice|surgery)(?:\s+name)?\s*[:\-]\s*")
        .expect("static pattern compiles")
});

/// "GP practice" as a heading with the GP on the next line.
static GP_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:registered\s+)?(?:gp|general\s+practitioner)(?:\s+(?:practice|details|surgery))?\s*:?\s*$")
        .expect("static pattern compiles")
});

static GP_PROSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:her|his|their|the\s+patient'?s)\s+(?:registered\s+)?(?:gp|general\s+practitioner)\s+is\s+").expect("static pattern compiles")
});

static ODS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\b(?:ods|practice|organisation|org)\s*(?:code|id|no\.?)?\s*[:\-]?\s*|\()([A-Z]\d{5})\b").expect("static pattern compiles")
});

/// A GP field that says there is none.
static NO_GP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:none|nil|n/?a|unknown|not\s+(?:currently\s+|yet\s+)?(?:registered|known|recorded|stated|given)|no\s+(?:registered\s+)?(?:gp|practice)|unregistered|awaiting\s+registration)\b")
        .expect("static pattern compiles")
});

static PRACTICE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(surgery|practice|medical\s+(?:centre|center|group|partnership)|health\s+(?:centre|center)|primary\s+care\s+(?:centre|center)|family\s+doctors|partnership)\b|(?:&|\band)\s+partners\b")
        .expect("static pattern compiles")
});

/// "(this practice)": the GP works where the letter comes from.
static SAME_PRACTICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(this|our|the\s+same)\s+(practice|surgery)\b")
        .expect("static pattern compiles")
});

static GP_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(gp|general\s+practitioner|family\s+doctor)\b")
        .expect("static pattern compiles")
});

static CC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:cc|c\.c\.|copy\s+to|copies\s+to|copied\s+to|copy|copies|distribution(?:\s+list)?)\b\s*[:.\-]?\s*(?:(?:registered\s+)?gp\s*[:\-\u{2013}]\s*)?")
        .expect("static pattern compiles")
});

static TO_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*to\s*:\s*").expect("static pattern compiles"));

/// True for a line that gives the patient's GP.
pub(super) fn is_gp_line(line: &str) -> bool {
    GP_LINE.is_match(line) || PRACTICE_LINE.is_match(line)
}

/// True for a GP line and the indented lines that continue it (the practice address).
pub(super) fn in_gp_block(doc: &Doc<'_>, i: usize) -> bool {
    let mut j = i;
    loop {
        let line = doc.lines[j];
        if is_gp_line(line.text) || GP_HEADING.is_match(line.text) {
            return true;
        }
        if j == 0 || j + 4 < i || line.indent() < 2 || line.is_blank() {
            return false;
        }
        j -= 1;
    }
}

/// A cc line without its "cc:" (and "GP -") prefix.
pub(super) fn strip_cc(s: &str) -> &str {
    CC.find(s).map_or(s, |m| &s[m.end()..])
}

struct GpFound {
    name: Option<PersonName>,
    practice: Option<String>,
    ods: Option<String>,
    start: usize,
    end: usize,
    confidence: f64,
}

pub(super) fn read(doc: &Doc<'_>, sink: &mut Sink) -> Option<PersonName> {
    let mut found = gp_line(doc)
        .or_else(|| gp_signed_for(doc))
        .or_else(|| gp_is_referrer(doc, sink, true))
        .or_else(|| gp_from_cc(doc))
        .or_else(|| gp_addressee(doc))
        .or_else(|| gp_prose(doc))
        .or_else(|| gp_is_referrer(doc, sink, false))?;
    // A GP at the practice that wrote the letter: its code is in the letterhead. A
    // template without a letterhead names the sender where the referrer signs or in a
    // "Referring organisation" field.
    let home = letterhead_org(doc)
        .map(|o| o.0)
        .or_else(|| sink.record.referrer.organisation.clone());
    // A practice's own letter ("Usual GP: Dr X" in an EMIS or SystmOne template)
    // names the GP without the practice: it is the practice on the letterhead.
    if found.practice.is_none()
        && found.name.is_some()
        && let Some(h) = home.as_deref().filter(|h| PRACTICE_WORD.is_match(h))
    {
        found.practice = Some(h.to_owned());
    }
    let same = found.practice.as_deref().is_some_and(|p| {
        home.as_deref().is_some_and(|h| {
            let (h, p) = (h.to_lowercase(), p.to_lowercase());
            !p.is_empty() && (h.contains(&p) || p.contains(&h))
        })
    });
    if found.ods.is_none() && same {
        found.ods = letterhead_ods(doc);
    }
    if found.ods.is_none()
        && let Some(p) = found.practice.as_deref()
    {
        found.ods = ods_beside(doc, p);
    }
    let g = &mut sink.record.gp;
    g.name = found.name.as_ref().map(PersonName::display);
    g.practice = found.practice.clone().filter(|p| !p.is_empty());
    g.ods_code = found.ods.clone();
    let filled = [
        ("gp.name", g.name.is_some()),
        ("gp.practice", g.practice.is_some()),
        ("gp.ods_code", g.ods_code.is_some()),
    ];
    for (field, filled) in filled {
        if filled {
            sink.note(field, found.start, found.end, found.confidence);
        }
    }
    found.name
}

fn letterhead_ods(doc: &Doc<'_>) -> Option<String> {
    [Zone::Letterhead, Zone::Header, Zone::Signature]
        .iter()
        .flat_map(|&z| doc.lines_in(z))
        .find_map(|i| {
            ODS.captures(doc.lines[i].text)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_ascii_uppercase())
        })
}

/// The ODS code on a line of the letterhead, header or sign-off that names `practice`
/// ("Ledbury Road Surgery, 80 Ledbury Road, Hereford   ODS: M81627").
fn ods_beside(doc: &Doc<'_>, practice: &str) -> Option<String> {
    let practice = practice.to_lowercase();
    if practice.len() < 4 {
        return None;
    }
    [Zone::Letterhead, Zone::Header, Zone::Signature]
        .iter()
        .flat_map(|&z| doc.lines_in(z))
        .map(|i| doc.lines[i].text)
        .filter(|t| t.to_lowercase().contains(&practice))
        .find_map(|t| ODS.captures(t).and_then(|c| c.get(1)))
        .map(|m| m.as_str().to_ascii_uppercase())
}

/// "Dr Claire Whitfield, Otley Road Surgery, Harrogate" -> name, practice, ODS code.
fn read_gp_value(doc: &Doc<'_>, value: &str, at: usize, confidence: f64) -> GpFound {
    let name = names::parse(value, false).filter(|n| n.title.is_some() || !n.given.is_empty());
    let rest = name
        .as_ref()
        .map_or(value, |n| value.get(n.end..).unwrap_or_default());
    let segments: Vec<&str> = rest
        .split([',', ';'])
        .map(trim_phrase)
        .filter(|s| !s.is_empty())
        .collect();
    let practice = if SAME_PRACTICE.is_match(rest) {
        letterhead_org(doc).map(|o| o.0)
    } else {
        segments
            .iter()
            .find(|s| PRACTICE_WORD.is_match(s))
            .copied()
            // "Dr Peter Holland (Riverside Surgery)".
            .map(|s| s.trim_matches(['(', ')']))
            .or_else(|| {
                segments.first().copied().filter(|s| {
                    !s.chars().any(|c| c.is_ascii_digit()) && name.is_some() && !s.starts_with('(')
                })
            })
            .map(clean_org)
    };
    let ods = ODS
        .captures(value)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_ascii_uppercase());
    GpFound {
        name,
        practice,
        ods,
        start: at,
        end: at + value.len(),
        confidence,
    }
}

/// "GP:" and "Practice:" lines; a form may give the GP and the practice on separate
/// lines, so their fields are merged.
fn gp_line(doc: &Doc<'_>) -> Option<GpFound> {
    let mut merged: Option<GpFound> = None;
    for (i, line) in doc.lines.iter().enumerate() {
        if matches!(doc.zones[i], Zone::Signature | Zone::Cc) {
            continue;
        }
        let (value, at) = if let Some(m) = GP_LINE
            .find(line.text)
            .or_else(|| PRACTICE_LINE.find(line.text))
        {
            let v = line.text[m.end()..].trim_end();
            (&v[..super::text::field_end(v)], line.start + m.end())
        } else if GP_HEADING.is_match(line.text)
            && let Some(next) = doc.lines.get(i + 1).filter(|l| !l.is_blank())
        {
            (next.text.trim(), next.start + next.indent())
        } else {
            continue;
        };
        // "GP: not currently registered", "GP: none": there is no GP to read.
        if NO_GP.is_match(value) {
            continue;
        }
        let mut found = read_gp_value(doc, value, at, 0.9);
        // "GP: Dr P Singh" with the practice on the indented lines under it.
        if found.practice.is_none() {
            found.practice = doc.lines[i + 1..]
                .iter()
                .take(3)
                .take_while(|l| l.indent() >= 2 && !l.is_blank())
                .map(|l| l.text.trim())
                .find(|t| PRACTICE_WORD.is_match(t))
                .map(clean_org);
        }
        if found.ods.is_none() {
            found.ods = ODS
                .captures(line.text)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_ascii_uppercase());
        }
        if found.name.is_none() && found.practice.is_none() && !value.is_empty() {
            found.practice = Some(clean_org(value));
        }
        if found.name.is_none() && found.practice.is_none() {
            continue;
        }
        match merged.as_mut() {
            None => merged = Some(found),
            Some(m) => {
                if m.name.is_none() {
                    m.name = found.name;
                    (m.start, m.end) = (found.start, found.end);
                }
                m.practice = m.practice.take().or(found.practice);
                m.ods = m.ods.take().or(found.ods);
            }
        }
        if merged
            .as_ref()
            .is_some_and(|m| m.name.is_some() && m.practice.is_some())
        {
            break;
        }
    }
    merged
}

fn gp_from_cc(doc: &Doc<'_>) -> Option<GpFound> {
    for i in doc.lines_in(Zone::Cc) {
        let line = doc.lines[i];
        let value = strip_cc(line.text);
        let at = line.start + text::offset_in(line.text, value);
        for entry in value.split(';') {
            let entry_at = at + text::offset_in(value, entry);
            let says_gp = entry
                .to_ascii_lowercase()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == "gp");
            if PRACTICE_WORD.is_match(entry)
                || says_gp
                || line.text.to_ascii_lowercase().contains("gp")
            {
                let trimmed = entry.trim();
                let found = read_gp_value(
                    doc,
                    trimmed,
                    entry_at + entry.len() - entry.trim_start().len(),
                    0.85,
                );
                if found.name.is_some() {
                    return Some(found);
                }
            }
        }
    }
    None
}

/// A letter addressed to the GP: "Dr Kieran Walsh / Old Town Surgery" above "Dear Dr Walsh".
fn gp_addressee(doc: &Doc<'_>) -> Option<GpFound> {
    let header: Vec<usize> = doc.lines_in(Zone::Header).collect();
    for (k, &i) in header.iter().enumerate() {
        let line = doc.lines[i];
        // "To: Dr Hannah Kowalski, Sands End Surgery, London SW6 2PQ".
        let value = TO_LABEL
            .find(line.text)
            .map_or(line.text, |m| &line.text[m.end()..]);
        let Some(n) = names::parse(value, false).filter(|n| n.title.as_deref() == Some("Dr"))
        else {
            continue;
        };
        let rest = value.get(n.end..).unwrap_or_default();
        let next: Vec<&str> = header[k + 1..]
            .iter()
            .take(2)
            .map(|&j| doc.lines[j].text.trim())
            .collect();
        let practice = std::iter::once(trim_phrase(rest))
            .chain(next)
            .find(|s| PRACTICE_WORD.is_match(s))
            // "Dr Peter Holland (Riverside Surgery)".
            .map(|s| s.trim_matches(['(', ')']))
            .map(clean_org);
        if let Some(practice) = practice {
            let (start, end) = (line.start, line.end());
            // The practice's ODS code may close the address block ("ODS: B12345",
            // "(B12345)").
            let block = header[k..]
                .iter()
                .enumerate()
                .take_while(|&(d, &j)| j == i + d && !doc.lines[j].is_blank())
                .take(8)
                .map(|(_, &j)| doc.lines[j].text);
            let ods = block
                .filter_map(|t| ODS.captures(t).and_then(|c| c.get(1)))
                .map(|m| m.as_str().to_ascii_uppercase())
                .next();
            return Some(GpFound {
                name: Some(n),
                practice: Some(practice),
                ods,
                start,
                end,
                confidence: 0.8,
            });
        }
    }
    None
}

/// "Their GP is Dr Mary Olatunji at Little Horton Lane Surgery."
fn gp_prose(doc: &Doc<'_>) -> Option<GpFound> {
    let m = GP_PROSE.find(&doc.flat)?;
    let rest = doc.flat.get(m.end()..)?;
    let sentence = &rest[..rest.find(['.', '\n']).unwrap_or(rest.len())];
    let found = read_gp_value(doc, sentence, m.end(), 0.75);
    found.name.is_some().then_some(found)
}

/// A registrar or trainee signing "for Dr X (usual GP)": the GP signed for is the
/// patient's GP, the one who signs is the referrer.
fn gp_signed_for(doc: &Doc<'_>) -> Option<GpFound> {
    doc.lines_in(Zone::Signature).find_map(|i| {
        let line = doc.lines[i];
        let c = ON_BEHALF.captures(line.text)?.get(1)?;
        let n = names::parse(&line.text[c.start()..], false)?;
        let rest = line.text.get(c.start() + n.end..).unwrap_or_default();
        GP_ROLE.is_match(rest).then(|| GpFound {
            name: Some(n),
            practice: None,
            ods: None,
            start: line.start,
            end: line.end(),
            confidence: 0.8,
        })
    })
}

/// A GP who signs is also the registered GP. `by_role`: the role says GP; otherwise the
/// letterhead is a practice and a doctor signs.
fn gp_is_referrer(doc: &Doc<'_>, sink: &Sink, by_role: bool) -> Option<GpFound> {
    let r = &sink.record.referrer;
    let name = r.name.as_deref()?;
    let practice_letter = doc
        .lines_in(Zone::Letterhead)
        .any(|i| PRACTICE_WORD.is_match(doc.lines[i].text));
    let is_gp = if by_role {
        r.role.as_deref().is_some_and(|role| GP_ROLE.is_match(role))
    } else {
        practice_letter && name.starts_with("Dr ")
    };
    if !is_gp {
        return None;
    }
    let n = names::parse(name, false)?;
    let practice = r
        .organisation
        .clone()
        .filter(|o| PRACTICE_WORD.is_match(o) || practice_letter);
    let (start, end) = doc
        .lines_in(Zone::Signature)
        .next()
        .map_or((0, 0), |i| (doc.lines[i].start, doc.lines[i].end()));
    Some(GpFound {
        name: Some(n),
        practice,
        ods: letterhead_ods(doc),
        start,
        end,
        confidence: 0.8,
    })
}
