//! A letter addressed to the patient: clinic letters written to the patient with a copy
//! to the GP, appointment letters, results letters.
//!
//! Input: the letter's lines and zones. The addressee is the name heading a block of
//! lines before the salutation; when the salutation greets that same person ("Dear Mr
//! Saeed", "Dear Gareth") and the block is a home address, not a clinician or an
//! organisation, the block is the patient's details and is marked as such. A letter
//! greeting a colleague ("Dear Dr Walsh") or a team is never read this way, and
//! nothing here decides anything from a name alone.

use std::sync::LazyLock;

use regex::Regex;

use super::blocks::Zone;
use super::names::{self, PersonName};
use super::text::Line;

/// Words that make an addressee block a workplace: the addressee is a colleague.
static WORKPLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(surgery|practice|medical|health|hospital|clinic|service|services|centre|center|team|department|dept|trust|unit|infirmary|consultant|gp|nurse|physiotherap\w*|therap\w*|psycholog\w*|manager|coordinator|administrator|nhs|ltd|limited|group)\b")
        .expect("static pattern compiles")
});

/// "Private and confidential" over the addressee.
static MARKING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(private|confidential|strictly|addressee\s+only|personal)\b")
        .expect("static pattern compiles")
});

/// A greeting to no one in particular.
static GENERIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(colleagues?|team|sir|madam|all|whom|friends?|doctor|talking|iapt|psycholog\w*|therap\w*|service|wellbeing|mental|nhs)\b")
        .expect("static pattern compiles")
});

static POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Z]{1,2}[0-9][0-9A-Z]?\s?[0-9][A-Z]{2}\b").expect("static pattern compiles")
});

/// Finds the patient's own address block above the salutation and marks it
/// `Zone::Patient`; returns whether the letter is addressed to the patient. When that
/// block stood where a letterhead is expected (a window-envelope layout with the
/// sender under it), the sender's block becomes the letterhead.
pub(super) fn mark(lines: &[Line<'_>], zones: &mut [Zone], salutation: Option<usize>) -> bool {
    let Some(s) = salutation else {
        return false;
    };
    let Some(greeted) = lines[s].text.trim_start().get(5..) else {
        return false;
    };
    let mut i = 0;
    while i < s {
        if lines[i].is_blank() || !matches!(zones[i], Zone::Letterhead | Zone::Header) {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < s && !lines[end].is_blank() {
            end += 1;
        }
        let head = if MARKING.is_match(lines[i].text) && i + 1 < end {
            i + 1
        } else {
            i
        };
        if let Some(name) = names::parse(lines[head].text, false)
            && is_home_address(lines, head, end)
        {
            // Greeted by name: the letter is written to the patient. Greeted as a team
            // or colleague: the name and home address over it are the patient's details
            // (the form a referral template prints where an addressee would be).
            let to_patient = greets(greeted, &name);
            // A sender's own name and address heading the letter signs it too.
            let signs = zones.iter().zip(lines).any(|(z, l)| {
                *z == Zone::Signature && l.text.to_lowercase().contains(&name.family.to_lowercase())
            });
            if signs || (!to_patient && !GENERIC.is_match(greeted)) {
                i = end;
                continue;
            }
            let was_letterhead = zones[i] == Zone::Letterhead;
            for zone in &mut zones[i..end] {
                *zone = Zone::Patient;
            }
            if was_letterhead {
                promote_letterhead(lines, zones, end, s);
            }
            return to_patient;
        }
        i = end;
    }
    false
}

/// Lines `from..to` are a person's name over a home address: a postcode or a house
/// number, and no workplace, role or doctor.
fn is_home_address(lines: &[Line<'_>], from: usize, to: usize) -> bool {
    let Some(name) = names::parse(lines[from].text, false) else {
        return false;
    };
    let anonymous = name.title.is_none() && name.given.is_empty();
    if anonymous
        || matches!(name.title.as_deref(), Some("Dr" | "Prof"))
        || to - from < 2
        || to - from > 8
    {
        return false;
    }
    let block = &lines[from..to];
    let addressed = block.iter().skip(1).any(|l| {
        POSTCODE.is_match(l.text)
            || l.text
                .trim_start()
                .starts_with(|c: char| c.is_ascii_digit())
    });
    addressed
        && !block
            .iter()
            .any(|l| WORKPLACE.is_match(l.text) || l.text.contains(':'))
}

/// The salutation greets `name`: by family name ("Dear Mr Saeed") or by first name
/// ("Dear Gareth").
fn greets(greeted: &str, name: &PersonName) -> bool {
    let words: Vec<&str> = greeted
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ':' | '.'))
        .filter(|w| !w.is_empty())
        .collect();
    let family = name.family.to_lowercase();
    let first = name.given.first().map(|g| g.to_lowercase());
    // "Mrs J Whittaker" greeted "Dear Julie": a lone first name with the same initial.
    let lone = words.len() == 1 && names::title(words[0]).is_none();
    words.iter().any(|w| {
        let w = w.to_lowercase();
        w == family
            || first.as_ref().is_some_and(|f| {
                if f.chars().count() > 1 {
                    *f == w
                } else {
                    lone && w.starts_with(f.as_str())
                }
            })
    })
}

/// The sender's name and address under the patient's block: lines `from..to` up to the
/// first blank line, date or labelled field.
fn promote_letterhead(lines: &[Line<'_>], zones: &mut [Zone], from: usize, to: usize) {
    let Some(start) = (from..to).find(|&k| !lines[k].is_blank()) else {
        return;
    };
    for k in start..to {
        if lines[k].is_blank() || zones[k] != Zone::Header || lines[k].text.contains(':') {
            break;
        }
        if lines[k]
            .text
            .trim_start()
            .starts_with(|c: char| c.is_ascii_digit())
            && k == start
        {
            break;
        }
        zones[k] = Zone::Letterhead;
    }
}

#[cfg(test)]
mod tests {
    use super::super::blocks::Doc;
    use super::*;

    #[test]
    fn a_letter_to_the_patient_marks_their_address_block() {
        let text = "Pain Clinic\n1 High St, Leeds LS1 1AA\n\nMr Imran Saeed\n41 Kings Road\nLeeds LS6 2AB\n\n1 May 2024\n\nDear Mr Saeed\n\nYour appointment is on Monday.\n";
        let doc = Doc::read(text);
        assert!(doc.to_patient);
        assert_eq!(doc.zone_at(text.find("Mr Imran").unwrap()), Zone::Patient);
        assert_eq!(doc.zone_at(text.find("41 Kings").unwrap()), Zone::Patient);
        assert_eq!(
            doc.zone_at(text.find("Pain Clinic").unwrap()),
            Zone::Letterhead
        );
    }

    #[test]
    fn a_first_name_greeting_and_a_window_envelope_layout_are_read() {
        let text = "Mr Gareth LLOYD-EVANS\n16 Heol y Deri\nCardiff CF14 6HF\n\nMSK Physiotherapy\nPenarth CF64 2XX\n\n14th October 2026\n\nDear Gareth\n\nI have referred you for CBT.\n";
        let doc = Doc::read(text);
        assert!(doc.to_patient);
        assert_eq!(doc.zone_at(0), Zone::Patient);
        assert_eq!(doc.zone_at(text.find("MSK").unwrap()), Zone::Letterhead);
    }

    #[test]
    fn an_initial_in_the_address_block_matches_a_first_name_greeting() {
        let text = "Pain Service\n\nMrs J WHITTAKER\n27 Lime Grove\nChorley PR7 2DS\n\nDear Julie\n\nText.\n";
        assert!(Doc::read(text).to_patient);
        let text = "Pain Service\n\nMrs J WHITTAKER\n27 Lime Grove\nChorley PR7 2DS\n\nDear Kate\n\nText.\n";
        assert!(!Doc::read(text).to_patient);
    }

    #[test]
    fn a_home_address_over_a_greeting_to_a_team_is_the_patients_block() {
        let text = "Clinic\n\nMrs Jo Hart\n2 Mill Lane, Leeds LS1 2AB\n\nDear Colleague\n\nText.\n";
        let doc = Doc::read(text);
        assert!(!doc.to_patient);
        assert_eq!(doc.zone_at(text.find("Mrs Jo").unwrap()), Zone::Patient);
        let text = "Clinic\n\nMrs Jo Hart\n2 Mill Lane, Leeds LS1 2AB\n\nDear Mrs Brown\n\nText.\n";
        let doc = Doc::read(text);
        assert_ne!(doc.zone_at(text.find("Mrs Jo").unwrap()), Zone::Patient);
    }

    #[test]
    fn a_senders_own_letterhead_is_not_the_patient() {
        let text = "Jane Doe MCSP\n12 High Street\nLeeds LS1 1AA\n\nDear Colleague\n\nText.\n\nYours sincerely\n\nJane Doe\nPhysiotherapist\n";
        let doc = Doc::read(text);
        assert_ne!(doc.zone_at(0), Zone::Patient);
    }

    #[test]
    fn a_colleague_or_a_practice_is_not_the_patient() {
        for text in [
            "Clinic\n\nDr Kieran Walsh\nOld Town Surgery\nSwindon SN1 1AA\n\nDear Dr Walsh\n\nText.\n",
            "Clinic\n\nMrs Jo Hart\nService Manager\n2 Mill Lane, Leeds LS1 2AB\n\nDear Mrs Hart\n\nText.\n",
        ] {
            assert!(!Doc::read(text).to_patient, "{text}");
        }
    }
}
