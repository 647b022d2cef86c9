//! Risk, urgency from risk, and the patient's stated preferences (telephone contact,
//! interpreter), read from the letter's prose with the same cue functions every channel
//! uses (`normalise::cues`), plus the diagnoses.
//!
//! Risk is never inferred from the absence of words; negated mentions ("denies suicidal
//! ideation") are not risk; a relative's death by suicide is not the patient's risk.

use std::sync::LazyLock;

use regex::Regex;

use super::Sink;
use super::blocks::Doc;
use super::text;
use crate::domain::Urgency;
use crate::normalise::cues;

pub(super) fn read(doc: &Doc<'_>, sink: &mut Sink) {
    let prose = doc.prose.as_str();
    let sentences = text::sentences(prose);
    risk(&sentences, sink);
    telephone(&sentences, sink);
    interpreter(&sentences, sink);
    super::diagnoses::read(doc, prose, sink);
}

fn risk(sentences: &[(usize, &str)], sink: &mut Sink) {
    let mut first: Option<(usize, usize)> = None;
    let mut current: Option<(usize, usize)> = None;
    for &(at, s) in sentences {
        let finding = cues::risk(s);
        let span = (at, at + s.trim_end().len());
        if finding.mentioned && first.is_none() {
            first = Some(span);
        }
        if finding.current && current.is_none() {
            current = Some(span);
        }
    }
    if let Some((a, b)) = first {
        sink.record.risk_flag = true;
        sink.note("risk_flag", a, b, 0.85);
    }
    if let Some((a, b)) = current {
        sink.record.urgency = Urgency::Urgent;
        sink.note("urgency", a, b, 0.8);
    }
}

/// The clinician's own calls ("I discussed her with her GP by telephone") say nothing
/// about the patient's preference.
static CLINICIAN_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(i|we)\s+(have\s+|had\s+|will\s+)?(discussed|spoke|spoken|phoned|rang|called|informed|contacted|telephoned|updated|phone|call|ring|speak)\b")
        .expect("static pattern compiles")
});

fn telephone(sentences: &[(usize, &str)], sink: &mut Sink) {
    let mut found: Option<(bool, usize, usize)> = None;
    for &(at, s) in sentences {
        if CLINICIAN_CALL.is_match(s) {
            continue;
        }
        match cues::telephone_ok(s) {
            // Face to face only outweighs any mention of the telephone elsewhere.
            Some(false) => {
                found = Some((false, at, at + s.trim_end().len()));
                break;
            }
            Some(true) if found.is_none() => found = Some((true, at, at + s.trim_end().len())),
            _ => {}
        }
    }
    if let Some((ok, a, b)) = found {
        sink.record.preferences.telephone_ok = Some(ok);
        sink.note("preferences.telephone_ok", a, b, 0.8);
    }
}

static INTERPRETER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(interpret\w*|translat\w*|language\s+line|signer|sign\s+language|bsl)\b")
        .expect("static pattern compiles")
});

static NO_INTERPRETER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\b(no|not|doesn't|does\s+not|don't|do\s+not|without|nil|never|neither)\b[^.;]{0,30}\b(interpret|translat)|\binterpret\w*\s*(?:required|needed)?\s*[:\-]\s*(?:no|none|not\s+required|not\s+needed|n/?a|nil)\b|\binterpret\w*\s+(?:is\s+)?not\s+(?:required|needed|necessary))")
        .expect("static pattern compiles")
});

/// Languages for which interpreters are commonly booked in England (one word each).
const LANGUAGES: &str = concat!(
    "Albanian Amharic Arabic Bengali Bosnian Bulgarian Cantonese Croatian Czech Dari Dutch ",
    "Estonian Farsi French German Greek Gujarati Hausa Hebrew Hindi Hungarian Igbo Italian ",
    "Japanese Korean Kurdish Sorani Kurmanji Latvian Lingala Lithuanian Malayalam Mandarin ",
    "Marathi Nepali Oromo Pashto Persian Polish Portuguese Punjabi Romanian Romany Russian ",
    "Serbian Shona Sinhala Slovak Somali Spanish Swahili Sylheti Tamil Telugu Thai Tigrinya ",
    "Turkish Twi Ukrainian Urdu Vietnamese Welsh Yoruba Chinese Tagalog Mirpuri Pahari ",
    "Hakka Slovenian Macedonian Georgian Armenian Azeri Uzbek Ndebele Zulu Xhosa Afrikaans ",
    "Swedish Norwegian Danish Finnish Malay Indonesian Burmese Khmer Lao Tetum Krio Fula ",
    "Wolof Mandinka Bambara Kinyarwanda Kirundi Luganda Tigre Moldovan Belarusian ",
);

static LANGUAGE: LazyLock<Regex> = LazyLock::new(|| {
    let names = LANGUAGES.split_whitespace().collect::<Vec<_>>().join("|");
    Regex::new(&format!(
        r"(?i)\b(british\s+sign\s+language|bsl|{names})\b(\s+descent)?"
    ))
    .expect("static pattern compiles")
});

/// The first language named in `s` (not "of Polish descent"), with its offsets in `s`.
fn language_in(s: &str) -> Option<(String, usize, usize)> {
    LANGUAGE.captures_iter(s).find_map(|c| {
        let (m, name) = (c.get(1)?, c.get(1)?.as_str());
        if c.get(2).is_some() {
            return None;
        }
        let canonical =
            if name.eq_ignore_ascii_case("bsl") || name.to_lowercase().starts_with("british") {
                "British Sign Language".to_owned()
            } else {
                LANGUAGES
                    .split_whitespace()
                    .find(|l| l.eq_ignore_ascii_case(name))
                    .unwrap_or(name)
                    .to_owned()
            };
        Some((canonical, m.start(), m.end()))
    })
}

fn interpreter(sentences: &[(usize, &str)], sink: &mut Sink) {
    // The language may be stated in the sentence that asks for an interpreter or in a
    // neighbouring one ("Her first language is Urdu. She will need an interpreter.").
    for (k, &(_, s)) in sentences.iter().enumerate() {
        if !INTERPRETER.is_match(s) || NO_INTERPRETER.is_match(s) {
            continue;
        }
        let around = [Some(k), k.checked_sub(1), Some(k + 1)];
        for j in around.into_iter().flatten() {
            if let Some(&(bt, bs)) = sentences.get(j)
                && let Some((lang, a, b)) = language_in(bs)
                && (j == k || !lang.eq_ignore_ascii_case("english"))
            {
                sink.record.preferences.interpreter = Some(lang);
                sink.note(
                    "preferences.interpreter",
                    bt + a,
                    bt + b,
                    if j == k { 0.85 } else { 0.7 },
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_named_near_the_interpreter_is_taken() {
        assert_eq!(
            language_in("offer CBT with a Turkish interpreter")
                .map(|l| l.0)
                .as_deref(),
            Some("Turkish")
        );
        assert_eq!(
            language_in("needs a BSL interpreter")
                .map(|l| l.0)
                .as_deref(),
            Some("British Sign Language")
        );
        assert_eq!(language_in("needs an interpreter"), None);
    }
}
