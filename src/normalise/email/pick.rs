//! Choosing the letter among a message's bodies and attachments, by how much each
//! reads like a clinic letter to the letter reader itself.

use super::{Candidate, EmailError, Found, Part};
use crate::normalise::document::{self, DocumentKind, Limits};
use crate::normalise::extract;

/// Below this a body does not read as a letter at all (no patient, no signatory).
const LETTER_LIKE: f64 = 2.0;

/// Documents scored at most: beyond these, attachments are kept as supporting
/// documents unread, so a message with many attachments costs a bounded number of
/// document reads.
const MAX_SCORED: usize = 16;

/// Paragraph starts tried as the start of the letter in a body.
const COVER_NOTE_PARAGRAPHS: usize = 6;

/// A body that opens with a cover note ("Dear team, please accept the referral
/// below") and then the letter: the letter reader takes the first lines for the
/// letterhead, so the note is cut when the text from a later paragraph on reads
/// clearly more like a letter. Never when the note mentions risk: a risk mention is
/// the one thing the reader must not lose.
pub(super) fn without_cover_note(text: String) -> String {
    let starts: Vec<usize> = text
        .match_indices("\n\n")
        .map(|(i, _)| i + 2)
        .filter(|&i| i < text.len())
        .take(COVER_NOTE_PARAGRAPHS)
        .collect();
    // The best-reading start; on a tie the later one (more of the note is cut), but
    // only if it reads clearly better than the whole body.
    let whole = text_score(&text);
    let mut best = (0, whole);
    for start in starts {
        let score = text_score(&text[start..]);
        if score >= best.1 && score > whole + 0.25 {
            best = (start, score);
        }
    }
    let (start, _) = best;
    if start == 0 || extract::extract(&text[..start]).record.risk_flag {
        return text;
    }
    text[start..].to_owned()
}

/// Chooses the letter; every other attachment is supporting. Bodies that are not the
/// letter are cover notes and are not kept (the raw message is, by the channel).
pub(super) fn pick(found: Found) -> Result<(Part, Vec<Part>), EmailError> {
    let Found {
        bodies,
        mut attachments,
    } = found;
    let best_attachment = best(&attachments);
    let best_body = best(&bodies);
    let body_wins = match (&best_body, &best_attachment) {
        (Some(_), None) => true,
        (Some((_, body)), Some((_, doc))) => *body >= LETTER_LIKE && *body > doc + 1.0,
        (None, _) => false,
    };
    if body_wins {
        let (i, _) = best_body.ok_or(EmailError::NoLetter)?;
        let mut letter = bodies.into_iter().nth(i).ok_or(EmailError::NoLetter)?;
        if letter.kind == Some(DocumentKind::Text) {
            let text = String::from_utf8_lossy(&letter.part.bytes).into_owned();
            letter.part.bytes = without_cover_note(text).into_bytes();
        }
        let supporting = attachments.into_iter().map(|c| c.part).collect();
        return Ok((letter.part, supporting));
    }
    let (i, _) = best_attachment.ok_or(EmailError::NoLetter)?;
    let letter = attachments.remove(i);
    // A body that reads as a letter too (not a mere cover note) is kept with the
    // referral rather than dropped: it may be the referrer's own words.
    let body = best_body
        .filter(|(_, score)| *score >= LETTER_LIKE)
        .and_then(|(i, _)| bodies.into_iter().nth(i))
        .map(|c| c.part);
    let supporting = body
        .into_iter()
        .chain(attachments.into_iter().map(|c| c.part))
        .collect();
    Ok((letter.part, supporting))
}

/// The index and score of the candidate that reads most like a letter; on a tie the
/// more deeply forwarded one (the original, not the forwarder's), then the first.
fn best(candidates: &[Candidate]) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64, usize)> = None;
    for (i, c) in candidates.iter().enumerate().take(MAX_SCORED) {
        let Some(kind) = c.kind else { continue };
        let score = letter_score(&c.part.bytes, kind);
        let better = match best {
            None => true,
            Some((_, s, depth)) => score > s || (score == s && c.depth > depth),
        };
        if better {
            best = Some((i, score, c.depth));
        }
    }
    best.map(|(i, s, _)| (i, s))
}

/// How much a document reads like a clinic letter, from what the letter reader finds
/// in it: a valid NHS number counts most, then who the patient is, who signs, and the
/// marks of a letter. A document that gives no text (a scan) scores zero but can still
/// be the letter when nothing else is one.
fn letter_score(bytes: &[u8], kind: DocumentKind) -> f64 {
    match document::to_text(bytes, kind, &Limits::default()) {
        Ok(text) => text_score(&text.text),
        Err(_) => 0.0,
    }
}

fn text_score(text: &str) -> f64 {
    let found = extract::extract(text);
    let r = &found.record;
    let sure = |field: &str| r.confidence.get(field).copied().unwrap_or(0.0);
    let mut score = 0.0;
    if r.patient.nhs_number_valid == Some(true) {
        score += 3.0 * sure("patient.nhs_number").max(0.5);
    }
    for (field, present, weight) in [
        ("patient.family_name", r.patient.family_name.is_some(), 1.0),
        (
            "patient.date_of_birth",
            r.patient.date_of_birth.is_some(),
            1.0,
        ),
        ("referrer.name", r.referrer.name.is_some(), 1.0),
        ("letter_date", r.letter_date.is_some(), 0.5),
        (
            "referrer.organisation",
            r.referrer.organisation.is_some(),
            0.5,
        ),
    ] {
        if present {
            score += weight * sure(field).max(0.5);
        }
    }
    if !r.diagnoses.is_empty() {
        score += 0.5;
    }
    if text
        .lines()
        .any(|l| l.trim_start().to_ascii_lowercase().starts_with("dear "))
    {
        score += 0.5;
    }
    score
}
