//! The referrer: whoever signs the letter.
//!
//! Read from the sign-off: the name under the valediction, the role line under it, the
//! registration number (GMC/HCPC/NMC), and the organisation from the sign-off or the
//! letterhead. A secretary who signs "pp" is not the referrer (the person signed for
//! is); a registrar who signs "on behalf of" a consultant is. Without a sign-off, a
//! "Referred by:" style label is used. The GP is read in `gp`.

use std::sync::LazyLock;

use regex::Regex;

use super::Sink;
use super::blocks::{Doc, Zone};
use super::names::{self, PersonName};
use super::text::{self, field_end, trim_phrase};

/// Nouns that make a phrase an organisation rather than a specialty.
static ORG_NOUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(service|services|department|dept|clinic|hospital|trust|practice|surgery|centre|center|team|unit|group|partnership|foundation|university|board|network|pcn|icb|outpatients)\b")
        .expect("static pattern compiles")
});

static ROLE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(consultant|physiotherapist|physio|gp|general\s+practitioner|nurse|specialist|practitioner|registrar|doctor|psychologist|surgeon|rheumatologist|lead|manager|therapist|partner|associate|fellow|physician|anaesthetist|clinician|trainee|locum|sister|matron|st\d|fy\d|ct\d|pharmacist|osteopath|chiropractor|podiatrist|director|head|senior|advanced|clinical)\b")
        .expect("static pattern compiles")
});

/// A registration number: GMC and GPhC are seven digits, HCPC a profession prefix and
/// digits ("PH165502"), an NMC PIN two digits, a letter, four digits and a letter
/// ("12A3456E").
pub(super) static PROF_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(gmc|hcpc|nmc|gphc)\b\.?\s*(?:reg(?:istration)?\.?\s*|pin\.?\s*)?(?:no\.?|number|num|#)?\s*[:.\-]?\s*([A-Z]{0,3}\s?\d{5,8}[A-Z]?|\d{2}[A-Z]\d{4}[A-Z])\b")
        .expect("static pattern compiles")
});

/// Lines of a sign-off that are not the signatory's name or role.
static SIGNOFF_NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(dictated|typed|transcribed|signed\s+electronically|electronically|e-?signed|sent\s+electronically|enc|encl|encs|page\s+\d|tel|telephone|phone|email|e-mail|fax|direct\s+line|secretary|www\.|ref|our\s+ref|your\s+ref|date|on\s+behalf\s+of|person\s+completing)\b")
        .expect("static pattern compiles")
});

/// "pp Dr X", "for Dr X", "on behalf of Dr X", "Signed: Dr X".
pub(super) static ON_BEHALF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^\s*|\b)(?:pp|p\.p\.|for|on\s+behalf\s+of|signed\s+by|signed)\s*:?\s+((?:dr|mr|mrs|ms|miss|mx|prof|professor)\.?\s+\S)")
        .expect("static pattern compiles")
});

static REFERRER_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:referrer|referring\s+(?:clinician|doctor|gp|practitioner)|referred\s+by|from|clinician|author|dictated\s+by)\s*(?:name)?\s*[:\-]\s*")
        .expect("static pattern compiles")
});

/// Lines of a letterhead that are not the organisation's name.
static LETTERHEAD_NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(private|confidential|strictly|nhs\s*$|tel|telephone|phone|fax|email|e-mail|www\.|http|secretar|switchboard|page\s+\d|our\s+ref|your\s+ref|ref\b|\d|outpatient\s+letter|clinic\s+letter|[^\n]*\b(?:letter|referral|referral\s+form|summary)\s*$)")
        .expect("static pattern compiles")
});

/// Reads referrer and GP; returns the people named in those roles and in the cc list
/// and salutation, so the patient reader can rule them out.
pub(super) fn read(doc: &Doc<'_>, sink: &mut Sink) -> Vec<PersonName> {
    let mut others = Vec::new();
    if let Some(r) = referrer(doc, sink) {
        others.push(r);
    }
    if let Some(g) = super::gp::read(doc, sink) {
        others.push(g);
    }
    for i in doc.lines_in(Zone::Cc) {
        if let Some(n) = names::parse(super::gp::strip_cc(doc.lines[i].text), false) {
            others.push(n);
        }
    }
    // The salutation names a colleague, unless the letter is written to the patient.
    if let Some(s) = doc.salutation.filter(|_| !doc.to_patient)
        && let Some(rest) = doc.lines[s].text.trim_start().get(5..)
        && let Some(n) = names::parse(rest, false)
    {
        others.push(n);
    }
    others
}

struct Signatory<'a> {
    name: PersonName,
    start: usize,
    end: usize,
    /// The rest of the name line after the name (", GP").
    rest: &'a str,
    /// Lines after the name line, in order.
    after: Vec<usize>,
}

fn plausible(n: &PersonName) -> bool {
    n.title.is_some() || !n.given.is_empty()
}

fn signatory<'a>(doc: &Doc<'a>) -> Option<(Signatory<'a>, f64)> {
    let sig: Vec<usize> = doc
        .lines_in(Zone::Signature)
        .filter(|&i| Some(i) != doc.valediction && !doc.lines[i].is_blank())
        .collect();
    for (k, &i) in sig.iter().enumerate() {
        let line = doc.lines[i];
        let after = sig[k + 1..].to_vec();
        // Someone signing for the author before any clinician's name: the author refers.
        if let Some(c) = ON_BEHALF.captures(line.text).and_then(|c| c.get(1))
            && let Some(n) = names::parse(&line.text[c.start()..], false).filter(plausible)
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
                    after,
                },
                0.85,
            ));
        }
        if SIGNOFF_NOISE.is_match(line.text) {
            continue;
        }
        let Some(n) = names::parse(line.text, false).filter(plausible) else {
            continue;
        };
        // A name whose role says secretary is not the signatory.
        let rest = line.text.get(n.end..).unwrap_or_default();
        let next = after.first().map_or("", |&j| doc.lines[j].text);
        if [rest, next]
            .iter()
            .any(|t| t.to_ascii_lowercase().contains("secretar"))
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
        if let Some(n) = names::parse(value, false).filter(plausible) {
            let (start, end) = (line.start + m.end() + n.start, line.start + m.end() + n.end);
            let rest = value.get(n.end..).unwrap_or_default();
            let after = (i + 1..doc.lines.len())
                .take_while(|&j| !doc.lines[j].is_blank())
                .collect();
            return Some(Signatory {
                name: n,
                start,
                end,
                rest,
                after,
            });
        }
    }
    None
}

type Found = Option<(String, usize, usize)>;

fn referrer(doc: &Doc<'_>, sink: &mut Sink) -> Option<PersonName> {
    let (s, confidence) = signatory(doc)?;
    sink.record.referrer.name = Some(s.name.display());
    sink.note("referrer.name", s.start, s.end, confidence);

    let (mut role, mut org): (Found, Found) = (None, None);
    // "Dr Bethany Lowther, GP" / "Jo Pengelly (Physiotherapist, HCPC PH087716)"; not
    // post-nominal letters ("FRCS (Tr & Orth)").
    let rest = s.rest.trim_start();
    if rest.starts_with([',', '(', '-', '\u{2013}']) || ROLE_WORD.is_match(rest) {
        let at = s.end + text::offset_in(s.rest, rest);
        split_role(rest, at, &mut role, &mut org);
    }
    for &j in &s.after {
        let line = doc.lines[j];
        let t = line.text.trim();
        let at = line.start + line.indent();
        if t.is_empty()
            || SIGNOFF_NOISE.is_match(t)
            || t.contains('@')
            || PROF_ID.find(t).is_some_and(|m| m.start() == 0)
        {
            continue;
        }
        if role.is_none() && ROLE_WORD.is_match(t) {
            split_role(t, at, &mut role, &mut org);
        } else if org.is_none()
            && ORG_NOUN.is_match(t)
            && !t.starts_with(|c: char| c.is_ascii_digit())
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
        let plain = !SIGNOFF_NOISE.is_match(t)
            && !PROF_ID.is_match(t)
            && !ORG_NOUN.is_match(t)
            && !t.contains('@');
        if !t.is_empty() && plain && text::word_count(t) <= 6 {
            let at = line.start + line.indent();
            role = Some((t.to_owned(), at, at + t.len()));
        }
    }
    if let Some((v, a, b)) = role {
        sink.record.referrer.role = Some(v);
        sink.note("referrer.role", a, b, 0.85);
    }
    if let Some((v, a, b)) = org.or_else(|| letterhead_org(doc)) {
        sink.record.referrer.organisation = Some(v);
        sink.note("referrer.organisation", a, b, 0.8);
    }
    professional_id(doc, &s, sink);
    Some(s.name)
}

/// "GP Partner, Heaton Moor Medical Group (P88015)" -> role and organisation;
/// "Senior Physiotherapist, Pain Management" is all role.
fn split_role(t: &str, at: usize, role: &mut Found, org: &mut Found) {
    let line = &t[..field_end(t)];
    let cut = PROF_ID.find(line).map_or(line.len(), |m| m.start());
    let t = line[..cut].trim_end().trim_end_matches([',', '(', ' ']);
    let t = t.trim_start_matches([',', '(', ' ', '-', '\u{2013}']);
    // "(Physiotherapist)" loses its brackets; "Registrar (ST3)" keeps its own.
    let t = if t.matches(')').count() > t.matches('(').count() {
        t.trim_end_matches(')')
    } else {
        t
    };
    let at = at + text::offset_in(line, t);
    if let Some((first, second)) = t.split_once(',')
        && ORG_NOUN.is_match(second)
    {
        let first = trim_phrase(first);
        *role = Some((first.to_owned(), at, at + first.len()));
        if org.is_none() {
            let second = trim_phrase(second);
            *org = Some((clean_org(second), at, at + t.len()));
        }
        return;
    }
    let whole = trim_phrase(t);
    if !whole.is_empty() {
        *role = Some((whole.to_owned(), at, at + t.len()));
    }
}

/// An organisation name without an ODS code in brackets or a trailing town.
pub(super) fn clean_org(s: &str) -> String {
    let s = s.split('(').next().unwrap_or(s);
    let s = trim_phrase(s);
    let s = ["at ", "of ", "from "]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s);
    // Drop trailing address parts ("The Surgery, 1 Main Street, Keswick CA12 5AA") while
    // what is left still names an organisation.
    let mut s = s;
    while let Some((head, tail)) = s.rsplit_once(',') {
        let address = tail.chars().any(|c| c.is_ascii_digit()) || text::word_count(tail) <= 3;
        if !(ORG_NOUN.is_match(head) && !ORG_NOUN.is_match(tail) && address) {
            break;
        }
        s = trim_phrase(head);
    }
    s.to_owned()
}

/// The sender's organisation: the first letterhead line that is a name, not an address,
/// phone line or "Private and confidential".
pub(super) fn letterhead_org(doc: &Doc<'_>) -> Found {
    for i in doc.lines_in(Zone::Letterhead) {
        let line = doc.lines[i];
        let t = line.text.trim();
        if LETTERHEAD_NOISE.is_match(t) || t.len() < 3 || super::blocks::is_ruler(t) {
            continue;
        }
        // "From: Physiotherapy Outpatients, ..." names the sender after its label.
        let t = t.strip_prefix("From:").map_or(t, str::trim_start);
        // A consultant's own letterhead opens with their name and role.
        let person =
            names::parse(t, false).is_some_and(|n| n.title.is_some() && n.end + 2 >= t.len());
        if person || (ROLE_WORD.is_match(t) && !ORG_NOUN.is_match(t)) {
            continue;
        }
        let v = &t[..field_end(t)];
        let at = line.start + text::offset_in(line.text, v);
        return Some((clean_org(v), at, at + v.len()));
    }
    from_block(doc)
}

static FROM_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*from\s*:\s*").expect("static pattern compiles"));

/// A "From:" block in the header of a GP system template: the first line of it, on the
/// label's line or indented under it, that names an organisation.
fn from_block(doc: &Doc<'_>) -> Found {
    let i = doc
        .lines_in(Zone::Header)
        .find(|&i| FROM_LABEL.is_match(doc.lines[i].text))?;
    let label = doc.lines[i];
    let first = FROM_LABEL.find(label.text).map_or(0, |m| m.end());
    let under = doc.lines[i + 1..]
        .iter()
        .take(4)
        .take_while(|l| !l.is_blank() && l.indent() >= 2);
    std::iter::once((label.start + first, &label.text[first..]))
        .chain(under.map(|l| (l.start + l.indent(), l.text.trim())))
        .find_map(|(at, t)| {
            let v = &t[..field_end(t)];
            let named = v.split(',').next().unwrap_or(v);
            (ORG_NOUN.is_match(named) && !named.starts_with(|c: char| c.is_ascii_digit()))
                .then(|| (clean_org(v), at, at + v.len()))
        })
}

fn professional_id(doc: &Doc<'_>, s: &Signatory<'_>, sink: &mut Sink) {
    let mut lines: Vec<usize> = vec![doc.line_at(s.start)];
    lines.extend(&s.after);
    for i in lines {
        let line = doc.lines[i];
        // "on behalf of Dr X, GMC ..." is the other doctor's number.
        if ON_BEHALF.is_match(line.text) && doc.line_at(s.start) != i {
            continue;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn role_org(t: &str) -> (Option<String>, Option<String>) {
        let (mut role, mut org) = (None, None);
        split_role(t, 0, &mut role, &mut org);
        (role.map(|r| r.0), org.map(|o| o.0))
    }

    #[test]
    fn role_lines_split_only_at_an_organisation() {
        assert_eq!(
            role_org("GP Partner, Heaton Moor Medical Group (P88015)"),
            (
                Some("GP Partner".into()),
                Some("Heaton Moor Medical Group".into())
            )
        );
        assert_eq!(
            role_org("Senior Physiotherapist, Pain Management"),
            (Some("Senior Physiotherapist, Pain Management".into()), None)
        );
        assert_eq!(
            role_org("(Physiotherapist, HCPC PH087716)"),
            (Some("Physiotherapist".into()), None)
        );
        assert_eq!(
            role_org("Specialty Registrar (ST4)"),
            (Some("Specialty Registrar (ST4)".into()), None)
        );
        assert_eq!(
            role_org("Practice Nurse, Hillside PCN"),
            (Some("Practice Nurse".into()), Some("Hillside PCN".into()))
        );
        assert_eq!(
            role_org(", Consultant Rheumatologist, GMC 6360147"),
            (Some("Consultant Rheumatologist".into()), None)
        );
    }

    #[test]
    fn registration_numbers_in_each_registers_form_are_read() {
        let id = |t: &str| {
            PROF_ID.captures(t).map(|c| {
                let num: String = c[2].split_whitespace().collect();
                format!("{} {}", c[1].to_ascii_uppercase(), num.to_ascii_uppercase())
            })
        };
        assert_eq!(id("NMC 12A3456E").as_deref(), Some("NMC 12A3456E"));
        assert_eq!(id("NMC PIN: 98c7654a").as_deref(), Some("NMC 98C7654A"));
        assert_eq!(id("GPhC 2012345").as_deref(), Some("GPHC 2012345"));
        assert_eq!(id("GMC No. 7123456").as_deref(), Some("GMC 7123456"));
        assert_eq!(id("HCPC reg: PH123456").as_deref(), Some("HCPC PH123456"));
        assert!(id("NMC 12A345").is_none());
    }

    #[test]
    fn organisation_names_lose_codes_and_towns() {
        assert_eq!(
            clean_org("Stricklandgate Medical Practice, Kendal"),
            "Stricklandgate Medical Practice"
        );
        assert_eq!(
            clean_org("Heaton Moor Medical Group (P88015)"),
            "Heaton Moor Medical Group"
        );
        assert_eq!(
            clean_org("at Little Horton Lane Surgery"),
            "Little Horton Lane Surgery"
        );
    }
}
