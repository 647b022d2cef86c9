//! The referrer (whoever signs the letter) and the patient's registered GP.
//!
//! The referrer is read from the sign-off: the name under the valediction (or after
//! "pp"), the role line under it, the registration number (GMC/HCPC/NMC), and the
//! organisation from the sign-off or the letterhead. The GP comes from a "GP:" line, the
//! cc list, the addressee block, or is the referrer when a GP signs. A secretary's name
//! is never the referrer's.

use std::sync::LazyLock;

use regex::Regex;

use super::Sink;
use super::blocks::{Doc, Zone};
use super::names::{self, PersonName};
use super::text::{self, field_end, trim_phrase};

/// A line that gives the patient's GP ("GP: Dr Simon Tarrant, Wilton Road Practice").
static GP_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:registered\s+|usual\s+|patient'?s\s+|named\s+)?(?:gp|g\.p\.|general\s+practitioner)(?:\s+(?:name|details|practice|surgery))?\s*[:\-]\s*")
        .expect("static pattern compiles")
});

static PRACTICE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:gp\s+)?(?:practice|surgery)(?:\s+name)?\s*[:\-]\s*")
        .expect("static pattern compiles")
});

static ODS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\b(?:ods|practice|organisation|org)\s*(?:code|id|no\.?)?\s*[:\-]?\s*|\()([A-Z]\d{5})\b").expect("static pattern compiles")
});

static PRACTICE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(surgery|practice|medical\s+(?:centre|center|group|partnership)|health\s+(?:centre|center)|family\s+doctors|partnership)\b")
        .expect("static pattern compiles")
});

static ORG_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(service|services|department|dept|clinic|hospital|trust|practice|surgery|centre|center|team|unit|group|partnership|rheumatology|physiotherapy|pain|orthopaedics?|medical|health|nhs|msk|musculoskeletal|foundation|university|board|community|network|spinal)\b")
        .expect("static pattern compiles")
});

static ROLE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(consultant|physiotherapist|physio|gp|general\s+practitioner|nurse|specialist|practitioner|registrar|doctor|psychologist|surgeon|rheumatologist|lead|manager|therapist|partner|associate|fellow|physician|anaesthetist|clinician|trainee|locum|sister|matron|st\d|fy\d|ct\d|pharmacist|osteopath|chiropractor|podiatrist|director|head|senior|advanced|clinical)\b")
        .expect("static pattern compiles")
});

static GP_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(gp|general\s+practitioner|gp\s+partner|salaried\s+gp|gp\s+registrar|family\s+doctor)\b").expect("static pattern compiles")
});

static PROF_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(gmc|hcpc|nmc|gphc)\b\.?\s*(?:reg(?:istration)?\.?\s*)?(?:no\.?|number|num|#)?\s*[:.\-]?\s*([A-Z]{0,2}\s?\d{5,8}[A-Z]?)\b")
        .expect("static pattern compiles")
});

/// Lines of a sign-off that are not the signatory's name or role.
static SIGNOFF_NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(dictated|typed|transcribed|signed\s+electronically|electronically|e-?signed|sent\s+electronically|enc|encl|encs|page\s+\d|tel|telephone|phone|email|e-mail|fax|direct\s+line|secretary|www\.|ref|our\s+ref|your\s+ref)\b")
        .expect("static pattern compiles")
});

/// "pp Dr X", "for Dr X", "on behalf of Dr X": the person named signs the letter.
static ON_BEHALF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^\s*|\b)(?:pp|p\.p\.|for|on\s+behalf\s+of|signed\s+by|signed)\s*:?\s+((?:dr|mr|mrs|ms|miss|mx|prof|professor)\.?\s+\S)").expect("static pattern compiles")
});

static REFERRER_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:referrer|referring\s+(?:clinician|doctor|gp|practitioner)|referred\s+by|from|clinician|author)\s*(?:name)?\s*[:\-]\s*")
        .expect("static pattern compiles")
});

/// Lines of a letterhead that are not the organisation's name.
static LETTERHEAD_NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(private|confidential|strictly|nhs\s*$|tel|telephone|phone|fax|email|e-mail|www\.|http|secretary|switchboard|page\s+\d|our\s+ref|your\s+ref|ref\b|\d)")
        .expect("static pattern compiles")
});

/// True for a line that gives the patient's GP.
pub(super) fn is_gp_line(line: &str) -> bool {
    GP_LINE.is_match(line) || PRACTICE_LINE.is_match(line)
}

/// Reads referrer and GP; returns the people named in those roles and in the cc list
/// and salutation, so the patient reader can rule them out.
pub(super) fn read(doc: &Doc<'_>, sink: &mut Sink) -> Vec<PersonName> {
    let mut others = Vec::new();
    if let Some(r) = referrer(doc, sink) {
        others.push(r);
    }
    if let Some(g) = gp(doc, sink) {
        others.push(g);
    }
    for i in doc.lines_in(Zone::Cc) {
        if let Some(n) = names::parse(strip_cc(doc.lines[i].text), false) {
            others.push(n);
        }
    }
    if let Some(s) = doc.salutation
        && let Some(rest) = doc.lines[s].text.trim_start().get(5..)
        && let Some(n) = names::parse(rest, false)
    {
        others.push(n);
    }
    others
}

fn strip_cc(s: &str) -> &str {
    static CC: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)^\s*(?:cc|c\.c\.|copy\s+to|copies\s+to|copied\s+to|distribution)\b\s*[:.\-]?\s*",
        )
        .expect("static pattern compiles")
    });
    CC.find(s).map_or(s, |m| &s[m.end()..])
}

// ------------------------------------------------------------------- referrer

struct Signatory<'a> {
    name: PersonName,
    start: usize,
    end: usize,
    /// The rest of the name line after the name (", GP").
    rest: &'a str,
    /// Lines after the name line, in order.
    after: Vec<usize>,
}

fn signatory<'a>(doc: &Doc<'a>) -> Option<(Signatory<'a>, f64)> {
    let sig: Vec<usize> = doc
        .lines_in(Zone::Signature)
        .filter(|&i| Some(i) != doc.valediction && !doc.lines[i].is_blank())
        .collect();
    // Someone signing for the author: the author is the referrer.
    for (k, &i) in sig.iter().enumerate() {
        let line = doc.lines[i];
        if let Some(c) = ON_BEHALF.captures(line.text).and_then(|c| c.get(1))
            && let Some(n) = names::parse(&line.text[c.start()..], false)
        {
            let (start, end) = (
                line.start + c.start() + n.start,
                line.start + c.start() + n.end,
            );
            let rest = line.text.get(c.start() + n.end..).unwrap_or_default();
            return Some((
                Signatory {
                    name: n,
                    start,
                    end,
                    rest,
                    after: sig[k + 1..].to_vec(),
                },
                0.85,
            ));
        }
    }
    for (k, &i) in sig.iter().enumerate() {
        let line = doc.lines[i];
        if SIGNOFF_NOISE.is_match(line.text) {
            continue;
        }
        let Some(n) =
            names::parse(line.text, false).filter(|n| n.title.is_some() || !n.given.is_empty())
        else {
            continue;
        };
        let after: Vec<usize> = sig[k + 1..].to_vec();
        // A name whose role line says secretary is not the signatory.
        let rest = line.text.get(n.end..).unwrap_or_default();
        let next = after.first().map_or("", |&j| doc.lines[j].text);
        if rest.to_ascii_lowercase().contains("secretary")
            || next.to_ascii_lowercase().contains("secretary")
        {
            continue;
        }
        let (start, end) = (line.start + n.start, line.start + n.end);
        return Some((
            Signatory {
                name: n,
                start,
                end,
                rest,
                after,
            },
            0.9,
        ));
    }
    labelled_referrer(doc).map(|s| (s, 0.85))
}

fn labelled_referrer<'a>(doc: &Doc<'a>) -> Option<Signatory<'a>> {
    for (i, line) in doc.lines.iter().enumerate() {
        let Some(m) = REFERRER_LABEL.find(line.text) else {
            continue;
        };
        let value = &line.text[m.end()..];
        if let Some(n) =
            names::parse(value, false).filter(|n| n.title.is_some() || !n.given.is_empty())
        {
            let (start, end) = (line.start + m.end() + n.start, line.start + m.end() + n.end);
            let rest = value.get(n.end..).unwrap_or_default();
            return Some(Signatory {
                name: n,
                start,
                end,
                rest,
                after: vec![i + 1],
            });
        }
    }
    None
}

fn referrer(doc: &Doc<'_>, sink: &mut Sink) -> Option<PersonName> {
    let (s, confidence) = signatory(doc)?;
    sink.record.referrer.name = Some(s.name.display());
    sink.note("referrer.name", s.start, s.end, confidence);

    let mut role: Option<(String, usize, usize)> = None;
    let mut org: Option<(String, usize, usize)> = None;
    // "Dr Bethany Lowther, GP" / "Dr X, Consultant, Pain Service".
    let rest = trim_phrase(s.rest);
    if !rest.is_empty() && !PROF_ID.is_match(rest) {
        let at = s.end + text::offset_in(s.rest, rest);
        split_role(rest, at, &mut role, &mut org);
    }
    for &j in &s.after {
        let line = doc.lines[j];
        let t = line.text.trim();
        if t.is_empty() || SIGNOFF_NOISE.is_match(t) || t.contains('@') {
            continue;
        }
        if PROF_ID.is_match(t) && PROF_ID.find(t).is_some_and(|m| m.start() == 0) {
            continue;
        }
        let at = line.start + line.indent();
        if role.is_none() && ROLE_WORD.is_match(t) {
            split_role(t, at, &mut role, &mut org);
        } else if org.is_none()
            && ORG_WORD.is_match(t)
            && !t.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            let v = &t[..field_end(t)];
            org = Some((clean_org(v), at, at + v.len()));
        }
    }
    if role.is_none()
        && let Some(&j) = s.after.first()
    {
        // An unrecognised role still sits on the line under the name.
        let line = doc.lines[j];
        let t = line.text.trim();
        if !t.is_empty()
            && !SIGNOFF_NOISE.is_match(t)
            && !PROF_ID.is_match(t)
            && !ORG_WORD.is_match(t)
            && !t.contains('@')
            && text::word_count(t) <= 6
        {
            let at = line.start + line.indent();
            role = Some((t.to_owned(), at, at + t.len()));
        }
    }
    if let Some((v, a, b)) = role {
        sink.record.referrer.role = Some(v);
        sink.note("referrer.role", a, b, 0.85);
    }
    let org = org.or_else(|| letterhead_org(doc));
    if let Some((v, a, b)) = org {
        sink.record.referrer.organisation = Some(v);
        sink.note("referrer.organisation", a, b, 0.8);
    }
    professional_id(doc, &s, sink);
    Some(s.name)
}

/// "GP Partner, Heaton Moor Medical Group (P88015)" -> role and organisation.
fn split_role(
    t: &str,
    at: usize,
    role: &mut Option<(String, usize, usize)>,
    org: &mut Option<(String, usize, usize)>,
) {
    let t = &t[..field_end(t)];
    let mut parts = t.splitn(2, ',');
    let first = trim_phrase(parts.next().unwrap_or_default());
    if !first.is_empty() {
        *role = Some((first.to_owned(), at, at + first.len()));
    }
    if let Some(second) = parts.next().map(trim_phrase)
        && ORG_WORD.is_match(second)
        && org.is_none()
    {
        let start = at + text::offset_in(t, second);
        *org = Some((clean_org(second), start, start + second.len()));
    }
}

/// An organisation name without an ODS code in brackets or a trailing town.
fn clean_org(s: &str) -> String {
    let s = s.split('(').next().unwrap_or(s);
    let s = trim_phrase(s);
    if let Some((head, tail)) = s.rsplit_once(',')
        && ORG_WORD.is_match(head)
        && !ORG_WORD.is_match(tail)
        && text::word_count(tail) <= 3
    {
        return trim_phrase(head).to_owned();
    }
    s.to_owned()
}

fn letterhead_org(doc: &Doc<'_>) -> Option<(String, usize, usize)> {
    for i in doc.lines_in(Zone::Letterhead) {
        let line = doc.lines[i];
        let t = line.text.trim();
        if LETTERHEAD_NOISE.is_match(t) || t.len() < 3 {
            continue;
        }
        let v = &t[..field_end(t)];
        let at = line.start + line.indent();
        return Some((clean_org(v), at, at + v.len()));
    }
    None
}

fn professional_id(doc: &Doc<'_>, s: &Signatory<'_>, sink: &mut Sink) {
    let mut lines: Vec<usize> = vec![doc.line_at(s.start)];
    lines.extend(&s.after);
    for i in lines {
        let line = doc.lines[i];
        if let Some(c) = PROF_ID.captures(line.text)
            && let (Some(m), Some(reg), Some(num)) = (c.get(0), c.get(1), c.get(2))
        {
            let number: String = num
                .as_str()
                .split_whitespace()
                .collect::<String>()
                .to_ascii_uppercase();
            sink.record.referrer.professional_id =
                Some(format!("{} {number}", reg.as_str().to_ascii_uppercase()));
            sink.note(
                "referrer.professional_id",
                line.start + m.start(),
                line.start + m.end(),
                0.95,
            );
            return;
        }
    }
}

// ------------------------------------------------------------------------ GP

struct GpFound {
    name: Option<PersonName>,
    practice: Option<String>,
    ods: Option<String>,
    start: usize,
    end: usize,
    confidence: f64,
}

fn gp(doc: &Doc<'_>, sink: &mut Sink) -> Option<PersonName> {
    let found = gp_line(doc)
        .or_else(|| gp_is_referrer(doc, sink, true))
        .or_else(|| gp_from_cc(doc))
        .or_else(|| gp_addressee(doc))
        .or_else(|| gp_is_referrer(doc, sink, false))?;
    let g = &mut sink.record.gp;
    g.name = found.name.as_ref().map(PersonName::display);
    g.practice = found.practice.clone();
    g.ods_code = found.ods.clone().or_else(|| g.ods_code.take());
    for (field, filled) in [
        ("gp.name", g.name.is_some()),
        ("gp.practice", g.practice.is_some()),
        ("gp.ods_code", found.ods.is_some()),
    ] {
        if filled {
            sink.note(field, found.start, found.end, found.confidence);
        }
    }
    found.name
}

/// "Dr Claire Whitfield, Otley Road Surgery, Harrogate" -> name, practice, ODS code.
fn read_gp_value(value: &str, at: usize, confidence: f64) -> GpFound {
    let name = names::parse(value, false).filter(|n| n.title.is_some() || !n.given.is_empty());
    let rest = name
        .as_ref()
        .map_or(value, |n| value.get(n.end..).unwrap_or_default());
    let segments: Vec<&str> = rest
        .split([',', ';'])
        .map(trim_phrase)
        .filter(|s| !s.is_empty())
        .collect();
    let practice = segments
        .iter()
        .find(|s| PRACTICE_WORD.is_match(s))
        .or_else(|| {
            segments
                .first()
                .filter(|s| !s.chars().any(|c| c.is_ascii_digit()) && name.is_some())
        })
        .map(|s| clean_org(s));
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

fn gp_line(doc: &Doc<'_>) -> Option<GpFound> {
    for (i, line) in doc.lines.iter().enumerate() {
        if matches!(doc.zones[i], Zone::Signature | Zone::Cc) {
            continue;
        }
        if let Some(m) = GP_LINE
            .find(line.text)
            .or_else(|| PRACTICE_LINE.find(line.text))
        {
            let value = line.text[m.end()..].trim_end();
            let mut found = read_gp_value(value, line.start + m.end(), 0.9);
            if found.name.is_none() && found.practice.is_none() && !value.is_empty() {
                found.practice = Some(clean_org(value));
            }
            if found.name.is_some() || found.practice.is_some() {
                return Some(found);
            }
        }
    }
    None
}

fn gp_from_cc(doc: &Doc<'_>) -> Option<GpFound> {
    for i in doc.lines_in(Zone::Cc) {
        let line = doc.lines[i];
        let value = strip_cc(line.text);
        let at = line.start + text::offset_in(line.text, value);
        for entry in value.split(';') {
            let entry_at = at + text::offset_in(value, entry);
            let lower = entry.to_ascii_lowercase();
            if PRACTICE_WORD.is_match(entry) || lower.contains("gp") {
                let found = read_gp_value(
                    entry.trim(),
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
        let Some(n) = names::parse(line.text, false).filter(|n| n.title.as_deref() == Some("Dr"))
        else {
            continue;
        };
        let rest = line.text.get(n.end..).unwrap_or_default();
        let next: Vec<&str> = header[k + 1..]
            .iter()
            .take(2)
            .map(|&j| doc.lines[j].text.trim())
            .collect();
        let practice = std::iter::once(trim_phrase(rest))
            .chain(next)
            .find(|s| PRACTICE_WORD.is_match(s))
            .map(clean_org);
        if let Some(practice) = practice {
            return Some(GpFound {
                name: Some(n),
                practice: Some(practice),
                ods: None,
                start: line.start,
                end: line.end(),
                confidence: 0.8,
            });
        }
    }
    None
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
    let ods = [Zone::Letterhead, Zone::Signature]
        .iter()
        .flat_map(|&z| doc.lines_in(z))
        .find_map(|i| {
            ODS.captures(doc.lines[i].text)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_ascii_uppercase())
        });
    let span = doc
        .lines_in(Zone::Signature)
        .next()
        .map_or((0, 0), |i| (doc.lines[i].start, doc.lines[i].end()));
    Some(GpFound {
        name: Some(n),
        practice,
        ods,
        start: span.0,
        end: span.1,
        confidence: 0.8,
    })
}
