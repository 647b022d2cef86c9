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

/// A remark between a measure and its score, in brackets or between commas, without
/// numbers: "PHQ-9 (completed with the interpreter): 15", "PHQ-9, done in clinic, was 15".
const ASIDE: &str = r"(?:\s*\([^()\d]{1,60}\)|\s*,[^,\d.;:]{1,50},)?";

fn measure(name: &str, max_suffix: &str) -> Regex {
    Regex::new(&format!(
        r"(?i)\b{name}\b\)?{ASIDE}{FILLER}{DATE_ASIDE}{FILLER}(?:(?:has\s+)?(?:gone|risen|fallen|dropped|improved|increased|decreased|changed|come\s+down|gone\s+up)\s+)?(?:(?:from\s+)?\d{{1,2}}\s*(?:/\s*{max_suffix}\s*)?(?:->|\u{{2192}}|=>|to)\s*)?(\d{{1,2}})\b(?:\s*/\s*{max_suffix}\b)?"
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
    Regex::new(
        r"(?i)\bhads\b|(?-i:\bHAD\b)|\bhospital\s+anxiety\s+(?:and|&)\s+depression(?:\s+scale)?",
    )
    .expect("static pattern compiles")
});

/// HADS subscales after a HADS mention. Letters "A" and "D" only in capitals, so that
/// "a score of 14" is not read as anxiety; "A11, D8" written without a space too.
static HADS_ANXIETY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?:\bA\)?|(?i:\banxiety\b))(?i:\s*(?:sub-?scale|component|domain))?(?i:{FILLER})(\d{{1,2}})\b")).expect("static pattern compiles")
});
static HADS_DEPRESSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?:\bD\)?|(?i:\bdepression\b))(?i:\s*(?:sub-?scale|component|domain))?(?i:{FILLER})(\d{{1,2}})\b")).expect("static pattern compiles")
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
    let (mut anxiety, mut depression) = hads(prose);
    // A score table's current column outweighs a prose reading of the same row, which
    // takes the first number it meets (often the baseline).
    let table = tables(doc);
    phq9 = table.phq9.or(phq9);
    gad7 = table.gad7.or(gad7);
    anxiety = table.anxiety.or(anxiety);
    depression = table.depression.or(depression);
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

/// The measure a table row is for, from its first cell: "PHQ-9", "GAD-7 (anxiety)",
/// "HADS-A", "HADS depression".
static ROW_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:(?P<phq>phq[\s\-]?9)|(?P<gad>gad[\s\-]?7)|(?P<a>hads?[\s\-]*(?:a|anxiety)(?:\s+sub-?scale)?)|(?P<d>hads?[\s\-]*(?:d|depression)(?:\s+sub-?scale)?))(?:\s*\([^()]*\))?\s*:?$")
        .expect("static pattern compiles")
});

/// A score cell: "14", "14/27", "14 (moderate)"; not "7.4".
static SCORE_CELL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})(?:\s*/\s*\d{1,2})?(?:$|\s|\()").expect("static pattern compiles")
});

/// A column header naming the latest reading: "Today", "Current", "Post-PMP",
/// "At discharge", "Latest".
static CURRENT_COLUMN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(today|current|currently|now|latest|most\s+recent|recent|post|after|discharge|final|end|this\s+(?:visit|appointment|review|session)|follow[\s\-]?up)\b")
        .expect("static pattern compiles")
});

/// Column headers that are points in time, read left to right: "Baseline", "Week 6",
/// "First appt", "Pre-treatment".
static TIME_COLUMN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(baseline|initial|first|pre|before|start|referral|assessment|admission|week|wk|session|appt|appointment|month|previous|review|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4})\b")
        .expect("static pattern compiles")
});

#[derive(Default)]
struct TableScores {
    phq9: Score,
    gad7: Score,
    anxiety: Score,
    depression: Score,
}

/// The cells of a table line with their byte offsets in the line: split on `|` when
/// the line is ruled that way, otherwise on tabs and runs of two or more spaces.
fn cells(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    if line.matches('|').count() >= 2 {
        let mut at = 0;
        for piece in line.split('|') {
            let t = piece.trim();
            out.push((at + piece.len() - piece.trim_start().len(), t));
            at += piece.len() + 1;
        }
        // A ruled row opens and closes with a bar: no cells outside them.
        if out.first().is_some_and(|c| c.1.is_empty()) {
            out.remove(0);
        }
        if out.last().is_some_and(|c| c.1.is_empty()) {
            out.pop();
        }
        return out;
    }
    let bytes = line.as_bytes();
    let (mut i, mut start) = (0, None);
    while i <= bytes.len() {
        let gap = i == bytes.len()
            || bytes[i] == b'\t'
            || (bytes[i] == b' ' && bytes.get(i + 1) == Some(&b' '));
        match (gap, start) {
            (true, Some(s)) => {
                out.push((s, line[s..i].trim_end()));
                start = None;
            }
            (false, None) if bytes[i] != b' ' => start = Some(i),
            _ => {}
        }
        i += 1;
    }
    out
}

/// The latest date in a header cell, as (year, month, day).
fn cell_date(cell: &str) -> Option<(i32, u32, u32)> {
    use chrono::Datelike;
    let era = super::dates::Era::Recent {
        reference_year: super::dates::this_year(),
    };
    super::dates::find(cell)
        .iter()
        .filter_map(|h| h.resolve(era))
        .map(|d| (d.year(), d.month(), d.day()))
        .max()
}

/// Which of a row's score cells is the current reading, from the table's header: the
/// one column headed as current, else the latest dated column, else the last of
/// columns headed as points in time. A lone score needs no header. `None` when the
/// table does not say.
fn current_column(scores: &[usize], header: Option<&[(usize, &str)]>) -> Option<usize> {
    if let [only] = scores {
        return Some(*only);
    }
    let header = header?;
    let heads = scores
        .iter()
        .map(|&k| header.get(k).map_or("", |c| c.1))
        .collect::<Vec<_>>();
    let current = (0..heads.len())
        .filter(|&j| CURRENT_COLUMN.is_match(heads[j]))
        .collect::<Vec<_>>();
    if let [j] = current[..] {
        return Some(scores[j]);
    }
    let dated = (0..heads.len())
        .filter_map(|j| cell_date(heads[j]).map(|d| (d, j)))
        .collect::<Vec<_>>();
    if dated.len() == heads.len() {
        return dated.iter().max().map(|&(_, j)| scores[j]);
    }
    if heads
        .iter()
        .all(|h| TIME_COLUMN.is_match(h) || CURRENT_COLUMN.is_match(h))
    {
        return scores.last().copied();
    }
    None
}

/// Scores laid out in a table: a row per measure, a column per reading, a header row
/// above naming the columns ("| Measure | First appt (16/01/2025) | Today |").
fn tables(doc: &Doc<'_>) -> TableScores {
    let mut out = TableScores::default();
    let keep = |k: usize| {
        matches!(
            doc.zones[k],
            super::blocks::Zone::Body | super::blocks::Zone::Header | super::blocks::Zone::Patient
        )
    };
    for (k, line) in doc.lines.iter().enumerate() {
        let t = line.text.trim_start().trim_start_matches('|').trim_start();
        let named = t.get(..3).is_some_and(|h| {
            ["phq", "gad", "had"]
                .iter()
                .any(|n| h.eq_ignore_ascii_case(n))
        });
        if !named || !keep(k) {
            continue;
        }
        let row = cells(line.text);
        let Some(c) = row.first().and_then(|c| ROW_NAME.captures(c.1)) else {
            continue;
        };
        let (slot, max) = if c.name("phq").is_some() {
            (&mut out.phq9, 27)
        } else if c.name("gad").is_some() {
            (&mut out.gad7, 21)
        } else if c.name("a").is_some() {
            (&mut out.anxiety, 21)
        } else {
            (&mut out.depression, 21)
        };
        let scores = (1..row.len())
            .filter(|&j| SCORE_CELL.is_match(row[j].1))
            .collect::<Vec<_>>();
        if scores.is_empty() || slot.is_some() {
            continue;
        }
        // The header: the nearest line above in the same block with as many cells,
        // passing over rules ("|----|----|") and other rows.
        let header = (k.saturating_sub(8)..k)
            .rev()
            .take_while(|&j| !doc.lines[j].is_blank())
            .map(|j| cells(doc.lines[j].text))
            .find(|h| {
                h.len() == row.len()
                    && h.iter().any(|c| c.1.chars().any(char::is_alphabetic))
                    && !h.first().is_some_and(|c| ROW_NAME.is_match(c.1))
                    && h[1..].iter().all(|c| {
                        c.1.is_empty()
                            || c.1.chars().any(char::is_alphabetic)
                            || cell_date(c.1).is_some()
                    })
            });
        let Some(j) = current_column(&scores, header.as_deref()) else {
            continue;
        };
        let (at, cell) = row[j];
        if let Some(m) = SCORE_CELL.captures(cell).and_then(|c| c.get(1)) {
            let start = line.start + at + m.start();
            *slot = score(m, max).map(|(v, _, _)| (v, start, start + m.len()));
        }
    }
    out
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
            "Dear Sir\n\nOn the HAD scale: A 14, D 11.",
            "Dear Sir\n\nHADS    (A) 14, (D) 11",
            "Dear Sir\n\nHADS anxiety subscale 14, depression subscale 11.",
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
            "Dear Sir\n\nPHQ-9 (done with her daughter): 18. GAD-7, completed in clinic, was 12.",
            "Dear Sir\n\nPHQ-9 22 -> 18, GAD-7 15/21 -> 12/21.",
            "Dear Sir\n\nShe scored 18 on the PHQ-9 and scored 12 on the GAD-7.",
        ] {
            assert_eq!(scores(text), (None, None, Some(18), Some(12)), "{text}");
        }
    }

    #[test]
    fn a_score_table_is_read_from_its_current_column() {
        for text in [
            "Dear Sir\n\nI am referring her for CBT.\n\nScores\n| Measure | Initial (02/03/2026) | Today (12/06/2026) |\n|---|---|---|\n| PHQ-9 | 22 | 18 |\n| GAD-7 | 16 | 12 |\n| HADS-A | 15 | 14 |\n| HADS-D | 13 | 11 |\n\nYours sincerely\n\nDr A Jones\n",
            "Dear Sir\n\nI am referring her for CBT.\n\nMeasure\tBefore group\tAfter group\nPHQ-9\t\t22\t\t18\nGAD-7\t\t16\t\t12\nHADS anxiety\t15\t14\nHADS depression\t13\t11\n\nYours sincerely\n\nDr A Jones\n",
            "Dear Sir\n\nI am referring her for CBT.\n\n  Measure        Score    Band\n  HADS-A         14       moderate\n  HADS-D         11       moderate\n  PHQ-9          18/27    mod-severe\n  GAD-7          12       moderate\n\nYours sincerely\n\nDr A Jones\n",
            "Dear Sir\n\nI am referring her for CBT.\n\n| Measure | 01/02/2026 | 01/05/2026 |\n| PHQ-9 | 22 | 18 |\n| GAD-7 | 16 | 12 |\n| HADS-A | 15 | 14 |\n| HADS-D | 13 | 11 |\n\nYours sincerely\n\nDr A Jones\n",
            "Dear Sir\n\nI am referring her for CBT.\n\n| Measure | Current | Previous |\n| PHQ-9 | 18 | 22 |\n| GAD-7 | 12 | 16 |\n| HADS-A | 14 | 15 |\n| HADS-D | 11 | 13 |\n\nYours sincerely\n\nDr A Jones\n",
        ] {
            assert_eq!(
                scores(text),
                (Some(14), Some(11), Some(18), Some(12)),
                "{text}"
            );
        }
        // Two unlabelled columns do not say which reading is current.
        assert_eq!(
            scores(
                "Dear Sir\n\nI am referring her for CBT.\n\n| Measure | Mary | John |\n| PHQ-9 | 22 | 18 |\n\nYours sincerely\n\nDr A Jones\n"
            ),
            (None, None, None, None)
        );
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
