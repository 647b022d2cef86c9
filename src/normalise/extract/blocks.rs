//! Letter structure: which lines are the letterhead, the addressee and date header, the
//! patient block, the body, the sign-off and the cc list.
//!
//! Field readers use the zones to decide whose value they are looking at: a phone number
//! in the letterhead is the clinic's, a name under "Yours sincerely" is the referrer's,
//! a name in the cc list is a copy recipient's. The zones are found from layout cues that
//! dictated letters share (PRSB outpatient letter headings, standards.md §7), never from
//! any one template.

use std::sync::LazyLock;

use regex::Regex;

use super::text::{self, Line};

/// What part of the letter a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Zone {
    Blank,
    /// The sender's name and address at the top.
    Letterhead,
    /// Addressee, date and reference lines before the letter proper.
    Header,
    /// "Re:" / labelled patient details, or the paragraph that identifies the patient.
    Patient,
    Body,
    /// The valediction and everything the signatory wrote under it.
    Signature,
    /// Copy recipients.
    Cc,
}

static SALUTATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(dear\b|to\s+whom\s+it\s+may\s+concern)").expect("static pattern compiles")
});

static VALEDICTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(yours\s+(sincerely|faithfully|truly|ever)|(with\s+)?(kind|best|warm|many)(est)?\s+(regards|wishes|thanks)|regards|best|thanks(\s+again)?|many\s+thanks|with\s+(many\s+)?thanks|thank\s+you|sincerely)\s*[,.!]?\s*$",
    )
    .expect("static pattern compiles")
});

static CC_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:(cc|c\.c\.|copy\s+to|copies\s+to|copied\s+to|distribution)\b|copy\s*:|copies\s*:)\s*[:.\-]?")
        .expect("static pattern compiles")
});

/// Lines that identify the patient: "Re:", "Patient:", a date-of-birth label, or an NHS
/// number label followed by digits.
static PATIENT_ANCHOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        ^\s*(re|pt|patient(\s+name|\s+details)?|name|full\s+name|regarding|referral(\s+for)?|subject|surname|forenames?)(\s*:|\t)
        | \b(d\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|born\s+\d)
        | \bnhs\s*(no\b\.?|number\b|num\b)?\s*[:.\-]?\s*\d",
    )
    .expect("static pattern compiles")
});

/// Identity details proper (a date of birth or an NHS number), without the labels that
/// a signature block may also use ("Name:").
static IDENTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(d\.?\s?o\.?\s?b\b|date\s+of\s+birth|born\s+\d)|\bnhs\s*(no\b\.?|number\b|num\b)?\s*[:.\-]?\s*\d")
        .expect("static pattern compiles")
});

/// A heading over the patient's details, wherever the template puts them.
static PATIENT_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(patient(\s+(details|information|demographics))?|demographics)\s*:?\s*$")
        .expect("static pattern compiles")
});

/// A line that is only a date, or a label and a date ("Date: 02/12/2024").
static HEADER_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*((date|dated|typed|dictated|date\s+typed|date\s+dictated|letter\s+date)\s*[:.]?\s*)?\d{1,4}(st|nd|rd|th)?[\s/.\-]+(\d{1,2}|[a-z]{3,9})[\s/.\-,]+\d{2,4}\s*$")
        .expect("static pattern compiles")
});

/// A sign-off without a valediction: "Dr Bethany Lowther, GP".
static SIGNOFF_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*((Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Professor)\.?\s+[A-Z][\w'\u{2019}\-]*(\s+[A-Z][\w'\u{2019}\-]*){0,3}|[A-Z][a-z'\u{2019}\-]+\s+[A-Z][\w'\u{2019}\-]+,\s+[A-Za-z])")
        .expect("static pattern compiles")
});

/// A bare name on its own line: "Gemma Rowlands".
static BARE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*[A-Z][a-z'\u{2019}\-]+(\s+[A-Z][A-Za-z'\u{2019}\-]+){1,3}\s*$")
        .expect("static pattern compiles")
});

/// A heading over the signatory's details (PRSB "Person completing record").
static SIGNOFF_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(person\s+completing\s+(the\s+)?record|signed|signature|author|completed\s+by|referrer\s+details)\s*:?\s*$")
        .expect("static pattern compiles")
});

/// The letter split into lines, each with its zone.
pub(super) struct Doc<'a> {
    pub text: &'a str,
    /// The text with line breaks inside wrapped prose replaced by spaces: same length,
    /// same offsets, so prose patterns see whole sentences.
    pub flat: String,
    pub lines: Vec<Line<'a>>,
    pub zones: Vec<Zone>,
    pub salutation: Option<usize>,
    pub valediction: Option<usize>,
    /// The letter is addressed to the patient ("Mr Imran Saeed / 41 Kings Road ..." over
    /// "Dear Mr Saeed"): the salutation names the patient, not a colleague.
    pub to_patient: bool,
    /// The lines stand in text order (false when a side column was split off).
    in_order: bool,
    /// The flat text of the header, patient block and body: what the letter says, without
    /// letterhead, sign-off or cc list (offsets unchanged).
    pub prose: String,
}

impl<'a> Doc<'a> {
    pub fn read(text: &'a str) -> Doc<'a> {
        let lines = side_column(text::split_lines(text));
        let mut zones: Vec<Zone> = lines
            .iter()
            .map(|l| {
                if l.is_blank() {
                    Zone::Blank
                } else {
                    Zone::Body
                }
            })
            .collect();
        let salutation = lines.iter().position(|l| SALUTATION.is_match(l.text));
        let from = salutation.map_or(0, |s| s + 1);
        let valediction = (from..lines.len())
            .rev()
            .find(|&i| VALEDICTION.is_match(lines[i].text));
        mark_cc(&lines, &mut zones);
        mark_signature(&lines, &mut zones, valediction);
        mark_letterhead(&lines, &mut zones, salutation);
        mark_patient(&lines, &mut zones);
        mark_header(&lines, &mut zones, salutation);
        let to_patient = super::addressee::mark(&lines, &mut zones, salutation);
        let flat = unwrap_prose(text, &lines, &zones);
        let ordered = in_order(&lines);
        let mut doc = Doc {
            text,
            flat,
            lines,
            zones,
            salutation,
            valediction,
            to_patient,
            in_order: ordered,
            prose: String::new(),
        };
        doc.prose = doc.masked(&[Zone::Header, Zone::Patient, Zone::Body]);
        doc
    }

    /// The index of the line holding byte `offset`.
    pub fn line_at(&self, offset: usize) -> usize {
        if !self.in_order {
            // A side column was split off: the line whose text holds the offset.
            let holds = |l: &Line<'_>| l.start <= offset && offset <= l.end() && !l.is_blank();
            return self.lines.iter().position(holds).unwrap_or_else(|| {
                (0..self.lines.len())
                    .filter(|&i| self.lines[i].start <= offset)
                    .max_by_key(|&i| self.lines[i].start)
                    .unwrap_or(0)
            });
        }
        match self.lines.binary_search_by(|l| l.start.cmp(&offset)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    pub fn zone_at(&self, offset: usize) -> Zone {
        self.zones
            .get(self.line_at(offset))
            .copied()
            .unwrap_or(Zone::Blank)
    }

    /// The flat text with every line outside `keep` blanked out (offsets unchanged).
    pub fn masked(&self, keep: &[Zone]) -> String {
        let mut out = String::with_capacity(self.flat.len());
        let mut last = 0;
        // In text order: a split-off side column comes after the lines it sat beside.
        let mut order: Vec<usize> = (0..self.lines.len()).collect();
        if !self.in_order {
            order.sort_by_key(|&k| self.lines[k].start);
        }
        for (n, &k) in order.iter().enumerate() {
            let zone = &self.zones[k];
            let end = order
                .get(n + 1)
                .map_or(self.flat.len(), |&j| self.lines[j].start)
                .min(self.flat.len());
            let Some(piece) = self.flat.get(last..end) else {
                continue;
            };
            if keep.contains(zone) {
                out.push_str(piece);
            } else {
                out.extend(piece.chars().map(|c| {
                    if c == '\n' {
                        String::from("\n")
                    } else {
                        " ".repeat(c.len_utf8())
                    }
                }));
            }
            last = end;
        }
        if let Some(rest) = self.flat.get(last..) {
            out.push_str(rest);
        }
        out
    }

    /// Indices of the lines in `zone`.
    pub fn lines_in(&self, zone: Zone) -> impl Iterator<Item = usize> + '_ {
        (0..self.lines.len()).filter(move |&i| self.zones[i] == zone)
    }

    /// The paragraph (run of non-blank lines) around line `i`, as a line index range.
    pub fn paragraph(&self, i: usize) -> std::ops::Range<usize> {
        paragraph(&self.lines, i)
    }
}

/// A paragraph ends at a blank line or at a ruler ("-----", "=====") that a template
/// draws between its sections.
fn paragraph(lines: &[Line<'_>], i: usize) -> std::ops::Range<usize> {
    let apart = |l: &Line<'_>| l.is_blank() || is_ruler(l.text);
    let mut a = i;
    while a > 0 && !apart(&lines[a - 1]) {
        a -= 1;
    }
    let mut b = i;
    while b < lines.len() && !apart(&lines[b]) {
        b += 1;
    }
    a..b.max(i + 1).min(lines.len())
}

fn mark_cc(lines: &[Line<'_>], zones: &mut [Zone]) {
    let mut i = 0;
    while i < lines.len() {
        if CC_START.is_match(lines[i].text) {
            zones[i] = Zone::Cc;
            let mut j = i + 1;
            // Further recipients listed one per line under the first.
            while j < lines.len() && !lines[j].is_blank() && looks_like_listing(lines[j].text) {
                zones[j] = Zone::Cc;
                j += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
}

/// A short line without sentence punctuation: an address or recipient, not prose.
fn looks_like_listing(s: &str) -> bool {
    let t = s.trim();
    t.len() <= 90 && !t.ends_with('.') && !SALUTATION.is_match(t) && !VALEDICTION.is_match(t)
}

fn mark_signature(lines: &[Line<'_>], zones: &mut [Zone], valediction: Option<usize>) {
    if let Some(v) = valediction {
        // Templates that print the patient's details under the sign-off ("PATIENT
        // DETAILS / Name: ... / DOB: ...") keep that paragraph out of the signature.
        let stop = (v..lines.len())
            .find(|&k| zones[k] == Zone::Cc)
            .unwrap_or(lines.len());
        let mut i = v;
        while i < stop {
            if zones[i] == Zone::Blank {
                i += 1;
                continue;
            }
            let para = i..paragraph(lines, i).end.min(stop);
            let identifies = i != v
                && (PATIENT_HEADING.is_match(lines[i].text)
                    || para.clone().any(|j| IDENTITY.is_match(lines[j].text)));
            if !identifies {
                for zone in &mut zones[para.clone()] {
                    *zone = Zone::Signature;
                }
            }
            i = para.end;
        }
        return;
    }
    // A "Person completing record" heading: the lines under it.
    if let Some(h) = (0..lines.len())
        .rev()
        .find(|&i| SIGNOFF_HEADING.is_match(lines[i].text))
    {
        let end = paragraph(lines, h).end;
        for zone in zones.iter_mut().take(end).skip(h) {
            if *zone == Zone::Body {
                *zone = Zone::Signature;
            }
        }
        return;
    }
    // No valediction: the last paragraph before the cc list, when it opens with a name;
    // or the one before it when the last is a short note under the sign-off ("Discussed
    // with Dr X.").
    let body = |i: &usize| zones[*i] == Zone::Body && !is_ruler(lines[*i].text);
    let Some(last) = (0..lines.len()).rev().find(body) else {
        return;
    };
    let para = paragraph(lines, last);
    if signs_off(lines, para.clone()) {
        mark_signed(zones, para);
        return;
    }
    let note = para.len() <= 2 && !SIGNOFF_NAME.is_match(lines[para.start].text);
    if note && let Some(prev) = (0..para.start).rev().find(body) {
        let prev = paragraph(lines, prev);
        if signs_off(lines, prev.clone()) {
            mark_signed(zones, prev);
        }
    }
}

/// A paragraph that reads as a sign-off: a few lines opening with a name, with nothing
/// that identifies the patient.
fn signs_off(lines: &[Line<'_>], para: std::ops::Range<usize>) -> bool {
    let first = lines[para.start].text;
    let named = SIGNOFF_NAME.is_match(first) || (para.len() >= 2 && BARE_NAME.is_match(first));
    let identifies_patient = para.clone().any(|i| PATIENT_ANCHOR.is_match(lines[i].text));
    para.len() <= 6 && named && !identifies_patient && !first.trim_end().ends_with('.')
}

fn mark_signed(zones: &mut [Zone], para: std::ops::Range<usize>) {
    for zone in &mut zones[para] {
        if *zone == Zone::Body {
            *zone = Zone::Signature;
        }
    }
}

fn mark_letterhead(lines: &[Line<'_>], zones: &mut [Zone], salutation: Option<usize>) {
    let Some(first) = lines.iter().position(|l| !l.is_blank()) else {
        return;
    };
    // A letter that opens with the addressee ("Dr Kieran Walsh" over "Dear Dr Walsh")
    // has no letterhead in its text.
    let opener = lines[first]
        .text
        .split_whitespace()
        .take(4)
        .last()
        .unwrap_or_default();
    let addressee = salutation.is_some_and(|s| {
        let greeting = lines[s].text;
        SIGNOFF_NAME.is_match(lines[first].text)
            && opener.len() > 1
            && greeting.contains(opener.trim_matches(','))
            && s > first
    });
    if addressee {
        return;
    }
    for i in first..lines.len() {
        let t = lines[i].text;
        if zones[i] != Zone::Body
            || SALUTATION.is_match(t)
            || HEADER_DATE.is_match(t)
            || PATIENT_ANCHOR.is_match(t)
            || t.trim_start().to_ascii_lowercase().starts_with("to:")
        {
            break;
        }
        zones[i] = Zone::Letterhead;
    }
}

fn mark_patient(lines: &[Line<'_>], zones: &mut [Zone]) {
    for i in 0..lines.len() {
        if !matches!(zones[i], Zone::Body | Zone::Letterhead)
            || !PATIENT_ANCHOR.is_match(lines[i].text)
        {
            continue;
        }
        let para = paragraph(lines, i);
        // A long block is the patient's only when it is all fields and address lines
        // (a "PATIENT DETAILS" block with a five-line address), not running text.
        let all_fields = para.len() <= 16 && !para.clone().any(|j| is_prose(lines[j].text));
        if para.len() <= 10 || all_fields {
            for j in para {
                if matches!(zones[j], Zone::Body) || (j == i && zones[j] == Zone::Letterhead) {
                    zones[j] = Zone::Patient;
                }
            }
        } else {
            zones[i] = Zone::Patient;
        }
    }
}

/// Lines before the letter proper that are not letterhead or patient details: the
/// addressee, the date, references.
fn mark_header(lines: &[Line<'_>], zones: &mut [Zone], salutation: Option<usize>) {
    let end = salutation.unwrap_or_else(|| {
        // Without a salutation the header runs to the first patient line or prose.
        (0..lines.len())
            .find(|&i| {
                zones[i] == Zone::Patient || (zones[i] == Zone::Body && is_prose(lines[i].text))
            })
            .unwrap_or(lines.len())
    });
    for zone in zones.iter_mut().take(end.saturating_add(1)) {
        if *zone == Zone::Body {
            *zone = Zone::Header;
        }
    }
}

fn in_order(lines: &[Line<'_>]) -> bool {
    lines.windows(2).all(|w| w[0].start <= w[1].start)
}

/// Spaces that set a side column apart from the text on its left.
const COLUMN_GAP: usize = 4;

/// The byte column where a side column starts on this line: after a gap of
/// `COLUMN_GAP` spaces or more, or at the indent of a line holding only that column.
fn column_start(l: &Line<'_>) -> Option<usize> {
    let t = l.text;
    let indent = l.indent();
    if t[..indent].contains('\t') || t.contains('\t') {
        return None;
    }
    if indent >= 20 {
        return Some(indent);
    }
    let gap = " ".repeat(COLUMN_GAP);
    let at = t[indent..].find(&gap)? + indent;
    let right = at + t[at..].len() - t[at..].trim_start().len();
    (right < t.len()).then_some(right)
}

/// A letterhead with the patient's details set in a column to its right ("Tyne Valley
/// Trust        Patient: Rev A ST CLAIR" / "Department of ...   DOB: 3rd March 1949"):
/// the right-hand parts become lines of their own after the letterhead's, so each block
/// reads as a block. Only a run of at least three lines at the head of the letter whose
/// right-hand parts start at the same column, hold the patient's identity and none of
/// whose left-hand parts do.
fn side_column(lines: Vec<Line<'_>>) -> Vec<Line<'_>> {
    let Some(first) = lines.iter().position(|l| !l.is_blank()) else {
        return lines;
    };
    let end = (first..lines.len())
        .find(|&i| lines[i].is_blank())
        .unwrap_or(lines.len());
    let Some(col) = column_start(&lines[first]) else {
        return lines;
    };
    let rows = first..end;
    let aligned = rows.clone().all(|i| {
        column_start(&lines[i]).is_none_or(|c| c.abs_diff(col) <= 1) || lines[i].text.len() < col
    });
    let right_rows = rows
        .clone()
        .filter(|&i| column_start(&lines[i]).is_some())
        .count();
    if rows.len() < 3 || right_rows < 3 || !aligned {
        return lines;
    }
    let split = |i: usize| -> (Line<'_>, Option<Line<'_>>) {
        let l = lines[i];
        match column_start(&l) {
            Some(c) => {
                let left = l.text[..c].trim_end();
                (
                    Line {
                        start: l.start,
                        text: left,
                    },
                    Some(Line {
                        start: l.start + c,
                        text: &l.text[c..],
                    }),
                )
            }
            None => (l, None),
        }
    };
    let parts: Vec<(Line<'_>, Option<Line<'_>>)> = rows.clone().map(split).collect();
    let identifies = |l: &Line<'_>| PATIENT_ANCHOR.is_match(l.text);
    if !parts.iter().filter_map(|p| p.1.as_ref()).any(identifies)
        || parts.iter().any(|p| identifies(&p.0))
    {
        return lines;
    }
    let mut out: Vec<Line<'_>> = lines[..first].to_vec();
    out.extend(parts.iter().map(|p| p.0).filter(|l| !l.text.is_empty()));
    // A blank line between the two blocks, at the end of the letterhead's text.
    let gap_at = out.last().map_or(0, Line::end);
    out.push(Line {
        start: gap_at,
        text: "",
    });
    out.extend(parts.iter().filter_map(|p| p.1));
    out.extend_from_slice(&lines[end..]);
    out
}

/// A line drawn across the page: only rule characters, at least five of them.
pub(super) fn is_ruler(s: &str) -> bool {
    let t = s.trim();
    t.len() >= 5
        && t.chars().all(|c| {
            matches!(
                c,
                '-' | '=' | '_' | '*' | '~' | '\u{2014}' | '\u{2013}' | '\u{2500}' | '\u{2550}'
            )
        })
}

/// True when `s` carries patient identity labels (DOB, NHS number, "Re:").
pub(super) fn is_patient_anchor(s: &str) -> bool {
    PATIENT_ANCHOR.is_match(s)
}

/// A line of running text rather than a field or address line.
pub(super) fn is_prose(s: &str) -> bool {
    let t = s.trim();
    text::word_count(t) >= 8 && !text::has_wide_gap(t)
}

/// A line that starts a list item or a labelled field; wrapped prose never joins it.
fn starts_field(s: &str) -> bool {
    static FIELD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\s*([-*\u{2022}]\s|\d{1,2}[.)]\s|[A-Za-z][A-Za-z .'/()\-]{0,30}:\s)")
            .expect("static pattern compiles")
    });
    FIELD.is_match(s)
}

/// The column where a list item's text starts ("3.  Referral to ..." -> 4), or an
/// indented line's indent: wrapped lines of the item hang at that column.
fn hanging(s: &str) -> usize {
    static ITEM: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\s*(?:[-*\u{2022}]|\d{1,2}[.)])\s+").expect("static pattern compiles")
    });
    ITEM.find(s)
        .map_or(s.len() - s.trim_start().len(), |m| m.end())
}

/// Replaces the line break between two lines of the same wrapped sentence with a space.
fn unwrap_prose(text: &str, lines: &[Line<'_>], zones: &[Zone]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for i in 0..lines.len().saturating_sub(1) {
        let (a, b) = (&lines[i], &lines[i + 1]);
        let prose_zone = |z: Zone| matches!(z, Zone::Body | Zone::Patient);
        if a.is_blank()
            || b.is_blank()
            || b.start <= a.end()
            || !prose_zone(zones[i])
            || !prose_zone(zones[i + 1])
            || text::word_count(a.text) < 6
            || text::has_wide_gap(a.text)
            || a.text.trim_end().ends_with(':')
            || starts_field(b.text)
            || (b.indent() >= 2 && b.indent() != hanging(a.text))
        {
            continue;
        }
        // a.end() is the '\r' or '\n' after the line: both are single ASCII bytes.
        for k in a.end()..b.start {
            if let Some(byte) = bytes.get_mut(k) {
                *byte = b' ';
            }
        }
    }
    // Only ASCII line-break bytes were replaced by ASCII spaces, so this cannot fail;
    // fall back to the original text rather than panic.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LETTER: &str = "North Clinic\n1 High Street, Leeds LS1 1AA\n\n3 March 2024\n\nDear Colleague\n\nRe: Mrs Jane SMITH\nDOB: 01/02/1970\n\nI saw Mrs Smith today and she would like\nto try CBT for her pain.\n\nYours sincerely\n\nDr Ann Lee\nConsultant\n\ncc: Dr Bob Hart, Hill Surgery\n";

    #[test]
    fn a_letter_is_split_into_its_zones() {
        let doc = Doc::read(LETTER);
        let zone = |needle: &str| doc.zone_at(LETTER.find(needle).unwrap());
        assert_eq!(zone("North Clinic"), Zone::Letterhead);
        assert_eq!(zone("1 High Street"), Zone::Letterhead);
        assert_eq!(zone("3 March"), Zone::Header);
        assert_eq!(zone("Re: Mrs"), Zone::Patient);
        assert_eq!(zone("DOB"), Zone::Patient);
        assert_eq!(zone("I saw"), Zone::Body);
        assert_eq!(zone("Dr Ann Lee"), Zone::Signature);
        assert_eq!(zone("Consultant"), Zone::Signature);
        assert_eq!(zone("cc:"), Zone::Cc);
    }

    #[test]
    fn wrapped_prose_is_joined_without_moving_offsets() {
        let doc = Doc::read(LETTER);
        assert_eq!(doc.flat.len(), LETTER.len());
        assert!(doc.flat.contains("would like to try CBT"));
        assert!(doc.flat.contains("Re: Mrs Jane SMITH\nDOB"));
    }

    #[test]
    fn a_list_items_hanging_lines_join_it() {
        let text = "Dear Colleague\n\nPlan:\n1.  I would be grateful if you could offer her\n    CBT for her pain and low mood in due course.\n2.  Review in clinic in three months with bloods.\n\nYours sincerely\n\nDr Ann Lee\n";
        let doc = Doc::read(text);
        assert!(doc.flat.contains("offer her     CBT"));
        assert!(doc.flat.contains("course.\n2."));
    }

    #[test]
    fn a_signature_without_valediction_is_the_closing_name() {
        let doc = Doc::read(
            "Dear team\n\nPlease see him for CBT, he is keen to start soon.\n\nDr Bethany Lowther, GP\n",
        );
        assert_eq!(doc.zones[4], Zone::Signature);
    }

    #[test]
    fn masking_keeps_offsets() {
        let doc = Doc::read(LETTER);
        let body = doc.masked(&[Zone::Body]);
        assert_eq!(body.len(), LETTER.len());
        assert!(!body.contains("North"));
        assert!(body.contains("I saw Mrs Smith"));
    }
}
