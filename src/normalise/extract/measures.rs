//! Questionnaire scores quoted in a letter: HADS anxiety and depression, PHQ-9, GAD-7
//! (standards.md "Measures"), in the many ways letters write them: "HADS A 14 D 11",
//! "HADS anxiety 11, depression 12", "scored 11 for anxiety and 12 for depression" after
//! a HADS mention, "PHQ-9 of 18", "PHQ9 = 12", "GAD7=12", "GAD-7 15/21".
//!
//! A score outside its scale's range is not taken: it is a misreading, not a score.

use std::sync::LazyLock;

use regex::Regex;

use super::Sink;
use super::blocks::Doc;
use super::text;

/// Words allowed between a measure's name and its score.
const FILLER: &str = r"(?:\s*(?:score[sd]?|total|of|was|is|were|today|initially|now|currently|result|questionnaire|at|the)\b|\s*[=:\-\u{2013}\u{2014}])*\s*";

/// The date a score was taken, between the measure and its score: "GAD-7
/// (03/10/2026): 12", "PHQ-9 on 12/05/2026 was 14".
const DATE_ASIDE: &str = r"(?:\(?\s*(?:on|dated|taken)?\s*(?:\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{1,2}(?:st|nd|rd|th)?\s+[a-z]{3,9}\s+\d{4})\b\s*\)?)?";

fn measure(name: &str, max_suffix: &str) -> Regex {
    Regex::new(&format!(
        r"(?i)\b{name}\b\)?{FILLER}{DATE_ASIDE}{FILLER}(?:(?:has\s+)?(?:gone|risen|fallen|dropped|improved|increased|decreased|changed|come\s+down|gone\s+up)\s+)?(?:from\s+\d{{1,2}}\s+to\s+)?(\d{{1,2}})\b(?:\s*/\s*{max_suffix}\b)?"
    ))
    .expect("static pattern compiles")
}

static PHQ9: LazyLock<Regex> =
    LazyLock::new(|| measure(r"phq[\s\-\u{2010}\u{2011}\u{2013}]?9", "27"));
static GAD7: LazyLock<Regex> =
    LazyLock::new(|| measure(r"gad[\s\-\u{2010}\u{2011}\u{2013}]?7", "21"));

/// "scored 18 on the PHQ-9".
static SCORE_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,2})(?:\s*(?:/|out\s+of)\s*\d\d)?\s+(?:points\s+)?(?:on|in|for)\s+(?:the\s+|her\s+|his\s+|their\s+|a\s+)?(phq[\s\-]?9|gad[\s\-]?7)\b")
        .expect("static pattern compiles")
});

/// "PHQ-9 and GAD-7 scores of 18 and 12", "PHQ-9/GAD-7 18/12".
static PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)\b(phq[\s\-]?9|gad[\s\-]?7)\s*(?:and|/|&)\s*(phq[\s\-]?9|gad[\s\-]?7){FILLER}(\d{{1,2}})\s*(?:and|/|,|&)\s*(\d{{1,2}})\b"))
        .expect("static pattern compiles")
});

static HADS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bhads\b|\bhospital\s+anxiety\s+(?:and|&)\s+depression(?:\s+scale)?")
        .expect("static pattern compiles")
});

/// HADS subscales after a HADS mention. Letters "A" and "D" only in capitals, so that
/// "a score of 14" is not read as anxiety; "A11, D8" written without a space too.
static HADS_ANXIETY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?:\bA|(?i:\banxiety\b))(?i:\s*(?:sub-?scale|component|domain))?(?i:{FILLER})(\d{{1,2}})\b")).expect("static pattern compiles")
});
static HADS_DEPRESSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?:\bD|(?i:\bdepression\b))(?i:\s*(?:sub-?scale|component|domain))?(?i:{FILLER})(\d{{1,2}})\b")).expect("static pattern compiles")
});
static HADS_ANXIETY_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,2})(?:\s*/\s*21)?\s*(?:\(\s*|(?:for|on)\s+(?:the\s+)?)anxiety\b")
        .expect("static pattern compiles")
});
static HADS_DEPRESSION_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,2})(?:\s*/\s*21)?\s*(?:\(\s*|(?:for|on)\s+(?:the\s+)?)depression\b")
        .expect("static pattern compiles")
});
/// "HADS A/D 11/12".
static HADS_SLASH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\(?\bA\s*/\s*D\b\)?(?i:\s*[:=\-]?\s*)(\d{1,2})\s*/\s*(\d{1,2})\b")
        .expect("static pattern compiles")
});

pub(super) fn read(doc: &Doc<'_>, sink: &mut Sink) {
    let prose = doc.prose.as_str();
    let mut phq9 = first(&PHQ9, prose, 27);
    let mut gad7 = first(&GAD7, prose, 21);
    for c in SCORE_FIRST.captures_iter(prose) {
        let (Some(v), Some(name)) = (c.get(1), c.get(2)) else {
            continue;
        };
        let is_phq = name.as_str().to_ascii_lowercase().starts_with("phq");
        let slot = if is_phq { &mut phq9 } else { &mut gad7 };
        if slot.is_none() {
            *slot = score(v, if is_phq { 27 } else { 21 });
        }
    }
    for c in PAIR.captures_iter(prose) {
        let (Some(n1), Some(v1), Some(v2)) = (c.get(1), c.get(3), c.get(4)) else {
            continue;
        };
        let (p, g) = if n1.as_str().to_ascii_lowercase().starts_with("phq") {
            (v1, v2)
        } else {
            (v2, v1)
        };
        // The pair reading replaces a single reading that took only the first number.
        phq9 = score(p, 27).or(phq9);
        gad7 = score(g, 21).or(gad7);
    }
    let (anxiety, depression) = hads(prose);
    for (field, value) in [
        ("measures.phq9", phq9),
        ("measures.gad7", gad7),
        ("measures.hads_anxiety", anxiety),
        ("measures.hads_depression", depression),
    ] {
        let Some((v, start, end)) = value else {
            continue;
        };
        let m = &mut sink.record.measures;
        *match field {
            "measures.phq9" => &mut m.phq9,
            "measures.gad7" => &mut m.gad7,
            "measures.hads_anxiety" => &mut m.hads_anxiety,
            _ => &mut m.hads_depression,
        } = Some(v);
        sink.note(field, start, end, 0.9);
    }
}

type Score = Option<(i64, usize, usize)>;

fn score(m: regex::Match<'_>, max: i64) -> Score {
    let v: i64 = m.as_str().parse().ok()?;
    (0..=max).contains(&v).then_some((v, m.start(), m.end()))
}

fn first(re: &Regex, s: &str, max: i64) -> Score {
    re.captures_iter(s)
        .find_map(|c| c.get(1).and_then(|m| score(m, max)))
}

/// Anxiety and depression subscales read within the sentence or two after "HADS".
fn hads(prose: &str) -> (Score, Score) {
    let (mut a, mut d): (Score, Score) = (None, None);
    for m in HADS.find_iter(prose) {
        // From the start of the sentence holding the mention ("She scored 15 for anxiety
        // and 12 for depression on the HADS") to the end of the next sentence.
        let before = text::tail(&prose[..m.start()], 120);
        let from =
            m.start() - before.len() + before.rfind(['.', '!', '?', '\n']).map_or(0, |k| k + 1);
        let window = text::head(&prose[from..], 160 + (m.start() - from));
        let shift = |s: Score| s.map(|(v, x, y)| (v, from + x, from + y));
        if let Some(c) = HADS_SLASH.captures(window) {
            a = a.or_else(|| shift(c.get(1).and_then(|v| score(v, 21))));
            d = d.or_else(|| shift(c.get(2).and_then(|v| score(v, 21))));
        }
        for (slot, before, after) in [
            (&mut a, &*HADS_ANXIETY, &*HADS_ANXIETY_AFTER),
            (&mut d, &*HADS_DEPRESSION, &*HADS_DEPRESSION_AFTER),
        ] {
            if slot.is_none() {
                *slot = shift(first(before, window, 21).or_else(|| first(after, window, 21)));
            }
        }
        if a.is_some() && d.is_some() {
            break;
        }
    }
    (a, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(text: &str) -> (Option<i64>, Option<i64>, Option<i64>, Option<i64>) {
        let doc = Doc::read(text);
        let mut sink = Sink::default();
        read(&doc, &mut sink);
        let m = &sink.record.measures;
        (m.hads_anxiety, m.hads_depression, m.phq9, m.gad7)
    }

    #[test]
    fn hads_in_its_usual_wordings() {
        for text in [
            "Dear Sir\n\nHADS A 14 D 11 today.",
            "Dear Sir\n\nHADS anxiety 14, depression 11.",
            "Dear Sir\n\nOn the HADS she scored 14 for anxiety and 11 for depression.",
            "Dear Sir\n\nHADS: A 14, D 11.",
            "Dear Sir\n\nHADS-A 14, HADS-D 11.",
            "Dear Sir\n\nHADS A/D 14/11.",
            "Dear Sir\n\nHADS (A/D) 14/11.",
            "Dear Sir\n\nHADS: A=14, D=11.",
            "Dear Sir\n\nHADS A14, D11.",
            "Dear Sir\n\nHADS A 14 / D 11.",
            "Dear Sir\n\nHADS-A is 14/21 and HADS-D 11/21.",
            "Dear Sir\n\nShe scored 14 for anxiety and 11 for depression on the HADS.",
            "Dear Sir\n\nHADS anxiety score: 14 depression score: 11.",
            "Dear Sir\n\nHADS score 14 (anxiety) and 11 (depression).",
            "Dear Sir\n\nOn the Hospital Anxiety and Depression Scale she scored anxiety 14 and depression 11.",
        ] {
            assert_eq!(scores(text), (Some(14), Some(11), None, None), "{text}");
        }
    }

    #[test]
    fn a_date_between_the_measure_and_its_score_is_passed_over() {
        for text in [
            "Dear Sir\n\nPHQ-9 (03/10/2026): 15. GAD-7 (03/10/2026): 12",
            "Dear Sir\n\nPHQ-9 on 03/10/2026 was 15 and GAD-7 on 03/10/2026 was 12.",
            "Dear Sir\n\nPHQ-9 total score 15 on 03/10/2026. GAD-7 (3 October 2026) 12",
        ] {
            assert_eq!(scores(text), (None, None, Some(15), Some(12)), "{text}");
        }
        // A date with no score after it gives no score.
        assert_eq!(
            scores("Dear Sir\n\nGAD-7 (03/10/2026) not completed."),
            (None, None, None, None)
        );
    }

    #[test]
    fn phq9_and_gad7_in_their_usual_wordings() {
        for text in [
            "Dear Sir\n\nPHQ-9 of 18 and GAD7=12.",
            "Dear Sir\n\nPHQ9 = 18, GAD-7 12/21.",
            "Dear Sir\n\nShe scored 18 on the PHQ-9 and 12 on the GAD-7.",
            "Dear Sir\n\nPHQ-9 and GAD-7 scores of 18 and 12.",
            "Dear Sir\n\nHer PHQ-9 score was 18. GAD-7: 12.",
            "Dear Sir\n\nPHQ9: 18/27. GAD-7 score 12.",
            "Dear Sir\n\nPHQ 9 = 18, GAD 7 is 12.",
            "Dear Sir\n\nPHQ-9: 18 (moderately severe). GAD7 = 12.",
            "Dear Sir\n\nPatient Health Questionnaire (PHQ-9) score 18. GAD\u{2011}7 \u{2013} 12.",
            "Dear Sir\n\nHer PHQ-9 has gone from 11 to 18 and GAD-7 is 12.",
            "Dear Sir\n\nShe scored 18 out of 27 on the PHQ-9 and 12 on the GAD-7.",
        ] {
            assert_eq!(scores(text), (None, None, Some(18), Some(12)), "{text}");
        }
    }

    #[test]
    fn out_of_range_scores_and_item_scores_are_not_taken() {
        assert_eq!(
            scores("Dear Sir\n\nPHQ-9 35. GAD-7 item 9."),
            (None, None, None, None)
        );
        assert_eq!(
            scores("Dear Sir\n\nThe HADS showed a score of 14."),
            (None, None, None, None)
        );
    }
}
