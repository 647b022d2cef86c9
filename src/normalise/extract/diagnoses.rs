//! Diagnoses: the items under a "Diagnoses" / "Diagnosis" / "Problems" heading, or,
//! when the letter has no such heading, the conditions its prose says the patient has
//! ("She has chronic low back pain and osteoporosis").
//!
//! Prose is read only after "has", "diagnosed with" and the like, only for phrases that
//! name a condition, and never for a relative ("her mother has rheumatoid arthritis").

use std::sync::LazyLock;

use regex::Regex;

use super::Sink;
use super::blocks::{Doc, Zone};
use super::text::{self, capitalise_first, trim_phrase};

static HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:(?:clinical|working|principal|main|final|active|current|significant|major|ongoing)\s+)?(?:diagnos[ie]s|problems?(?:\s+list)?|impression|presenting\s+(?:problems?|complaints?)|conditions?)(?:\s*(?:/|and|&)\s*(?:diagnos[ie]s|problems?|issues))?\s*[:\-]?\s*")
        .expect("static pattern compiles")
});

/// Lists of past conditions, read when the letter has no diagnosis heading.
static HISTORY_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:past\s+medical\s+history|medical\s+history|pmh|relevant\s+history|co-?morbidities)\s*[:\-]?\s*")
        .expect("static pattern compiles")
});

static REASON_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:reason\s+for\s+referral|presenting\s+complaint|history\s+of\s+presenting\s+complaint)\s*[:\-]?\s*")
        .expect("static pattern compiles")
});

/// The date a clinical system prints before a problem ("12-Mar-2019", "03/02/2021",
/// "2019", "Mar 2019").
static ITEM_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\d{1,2}[\s/.\-](?:\d{1,2}|[a-z]{3,9})[\s/.\-]\d{2,4}|\d{4}(?:-\d\d){0,2}|[a-z]{3,9}\s+\d{4})\s*[:\-\u{2013}]?\s+")
        .expect("static pattern compiles")
});

static ITEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[-*\u{2022}\u{2013}]|\d{1,2}[.)]|[a-z][.)])\s+")
        .expect("static pattern compiles")
});

/// Words that start a condition in prose.
static HAS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:has\s+had|has\s+(?:also\s+|since\s+|now\s+)?developed|developed|has|(?:you|they)\s+(?:also\s+|now\s+)?have|(?:have|has|had)\s+(?:now\s+|recently\s+|also\s+)?diagnosed(?:\s+(?:her|him|them|you)\s+with)?|diagnosed\s+with|a\s+diagnosis\s+of|suffers\s+from|suffering\s+from|living\s+with|lives\s+with|known\s+to\s+have|history\s+of|diagnosed\s+as|diagnosis\s+(?:is|was)|(?:physiotherapy|physio|treatment|rehabilitation|rehab|injections?|sessions?|attending\s+\w+)\s+for|(?:consistent|in\s+keeping)\s+with|fits?\s+(?:best\s+|well\s+)?with|present(?:s|ed|ing)\s+with|(?:saw\s+me|seen|attended|came\s+to\s+clinic)(?:\s+today)?\s+with|\b(?:is|was)\s+an?\s+(?:[\w-]+\s+){1,3}?with|(?:whom|who)\s+(?:i|we)\s+(?:saw|reviewed|assessed)\b[^.;\n]{0,60}?\bwith|attend(?:ed|s|ing)\s+(?:the\s+)?(?:[\w-]+\s+){0,4}?(?:clinic|team|service|department)\s+for|(?:lady|man|woman|gentleman|patient|farmer|teacher|worker|builder|driver|student|\d+[\s-]year[\s-]old(?:\s+[a-z]+){0,2})\s+with)\s+(?:(?:her|his|their|your)\s+)?|\bfor\s+(?:her|his|their|your)\s+(?:ongoing\s+|longstanding\s+)?")
        .expect("static pattern compiles")
});

/// Condition head words (MSK and the conditions that come with them).
static CONDITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(pain|fibromyalgia|arthritis|osteoarthritis|arthrosis|spondyl\w+|stenosis|osteoporosis|osteopenia|hypothyroidism|hyperthyroidism|diabetes|migraines?|headaches?|neuropathy|sciatica|radiculopathy|lupus|crps|regional\s+pain\s+syndrome|hypermobility|ehlers[\s-]danlos|chronic\s+fatigue|me/cfs|irritable\s+bowel|ibs|endometriosis|gout|tendin\w+|tendon\w*|bursitis|capsulitis|frozen\s+shoulder|whiplash|prolapse|polymyalgia|rheumatic\w*|sj[oö]gren\w*|scoliosis|fractures?|depression|depressive\s+disorder|anxiety\s+disorder|ptsd|post[\s-]traumatic|ocd|insomnia|misuse|dependence|obesity|asthma|copd|hypertension|multiple\s+sclerosis|parkinson\w*|stroke|cancer|syndrome|disease|disorder|injury|myalgia|dystrophy|neuralgia|impingement|instability|hernia)\b")
        .expect("static pattern compiles")
});

/// "has become frightened ...", "has been off work": what follows is not a condition.
static STARTS_WITH_VERB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:become|became|been|got|had|found|started|stopped|lost|made|given|tried|seen|struggled|felt|noticed|taken|done|gone|come|left|kept|needed|used|worked|asked|agreed|decided|completed|attended|responded|improved|worsened|reduced|increased|managed|continued|said|told|always|also|never|some|no|not|a\s+lot|little|good|poor|finished|returned|moved|missed|booked|received|enjoyed|joined|passed|retired|changed|written|spoken|asked)\b")
        .expect("static pattern compiles")
});

/// Services and treatments named after a condition ("pain management programme").
static NOT_A_CONDITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(management|programme|clinic|service|team|relief|killers?|medication|appointment|review|injections?|relievers?)\b")
        .expect("static pattern compiles")
});

/// A head word on its own ("his injury", "the syndrome") names no condition.
static GENERIC_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:the\s+|an?\s+|this\s+|that\s+)?(?:injury|injuries|syndrome|disease|disorder|condition|pain)$")
        .expect("static pattern compiles")
});

/// "your blood tests show no sign of inflammatory arthritis": a condition ruled out.
static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:no|not|without|never|nor)\b|\bruled\s+out\b|\bexcluded\b")
        .expect("static pattern compiles")
});

static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(father|mother|husband|wife|partner|son|daughter|brother|sister|parent|parents|family|friend|carer|dad|mum|grand\w+|aunt|uncle|cousin)\b\W*(?:who\s+)?(?:also\s+)?$")
        .expect("static pattern compiles")
});

/// Where a condition phrase stops in prose.
static PHRASE_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[.;:?!\n]|,|\s+(?:and\s+(?:is|has|was|she|he|they|her|his|it|feels|finds|now|lives|works|cares|had)\b|which|who|that|following|since|after|for\s+(?:the\s+)?(?:last|past|\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|many|several|some|over|more|about|around)\b|over\s+the|affecting|but|although|last\s+year|this\s+year|in\s+(?:19|20)\d\d|from\s+(?:19|20)\d\d|at\s+the\s+age|as\s+a|because|causing|making|so\b)")
        .expect("static pattern compiles")
});

pub(super) fn read(doc: &Doc<'_>, prose: &str, sink: &mut Sink) {
    if let Some((items, start, end)) = headed(doc) {
        sink.record.diagnoses = items;
        sink.note("diagnoses", start, end, 0.9);
    } else if let Some((items, start, end)) = from_prose(prose) {
        sink.record.diagnoses = items;
        sink.note("diagnoses", start, end, 0.6);
    }
}

fn headed(doc: &Doc<'_>) -> Option<(Vec<String>, usize, usize)> {
    headed_with(doc, &HEADING)
        .or_else(|| headed_with(doc, &HISTORY_HEADING))
        .or_else(|| {
            // A referral form's reason line mixes conditions with the ask: keep conditions.
            let (items, a, b) = headed_with(doc, &REASON_HEADING)?;
            let items: Vec<String> = items
                .into_iter()
                .filter(|i| CONDITION.is_match(i))
                .collect();
            (!items.is_empty()).then_some((items, a, b))
        })
}

fn headed_with(doc: &Doc<'_>, heading: &Regex) -> Option<(Vec<String>, usize, usize)> {
    for (i, line) in doc.lines.iter().enumerate() {
        if !matches!(doc.zones[i], Zone::Patient | Zone::Body | Zone::Header) {
            continue;
        }
        let Some(m) = heading.find(line.text) else {
            continue;
        };
        let inline = line.text[m.end()..].trim();
        // "Diagnosis" at the start of a sentence is prose, not a heading.
        if !inline.is_empty() && !line.text[..m.end()].contains([':', '-']) {
            continue;
        }
        let (items, end) = if inline.is_empty() {
            listed(doc, i + 1)
        } else {
            continued(doc, i, inline)
        };
        if !items.is_empty() {
            return Some((items, line.start, end.max(line.end())));
        }
    }
    None
}

/// An inline value and the lines that continue it ("...vertebral\nfractures (T12, L1);
/// chronic back pain").
fn continued(doc: &Doc<'_>, i: usize, inline: &str) -> (Vec<String>, usize) {
    let mut value = inline.to_owned();
    let mut end = doc.lines[i].end();
    for j in i + 1..doc.lines.len().min(i + 6) {
        let (prev, next) = (doc.lines[j - 1].text.trim_end(), doc.lines[j].text.trim());
        let labelled = next
            .get(..next.len().min(30))
            .is_some_and(|h| h.contains(':'));
        let joins = prev.ends_with([';', ','])
            || next.starts_with(|c: char| c.is_lowercase() || c == '(')
            || (next.contains(';') && text::word_count(next) <= 8);
        if next.is_empty() || labelled || ITEM.is_match(doc.lines[j].text) || !joins {
            break;
        }
        value.push(' ');
        value.push_str(next);
        end = doc.lines[j].end();
    }
    (split_inline(&value), end)
}

/// One item per line under a heading, bulleted or not; an indented line continues the
/// item above it.
fn listed(doc: &Doc<'_>, from: usize) -> (Vec<String>, usize) {
    let mut raw: Vec<String> = Vec::new();
    let mut end = 0;
    // Items may all be indented under their heading; only a deeper indent continues one.
    let base = doc.lines.get(from).map_or(0, |l| l.indent());
    for j in from..doc.lines.len() {
        let next = doc.lines[j];
        if next.is_blank() || raw.len() >= 12 {
            break;
        }
        // A line that runs on into a lower-case line is wrapped prose, not an item.
        let runs_on = doc
            .lines
            .get(j + 1)
            .is_some_and(|l| l.text.trim_start().starts_with(char::is_lowercase));
        match ITEM.find(next.text) {
            Some(im) => raw.push(next.text[im.end()..].trim().to_owned()),
            None if runs_on && next.indent() == 0 => break,
            // A sentence under the heading ends the list.
            None if next.text.contains(':')
                || (next.text.trim_end().ends_with('.') && text::word_count(next.text) >= 6)
                || text::word_count(next.text) > 14 =>
            {
                break;
            }
            None if next.indent() > base && !raw.is_empty() => {
                if let Some(last) = raw.last_mut() {
                    last.push(' ');
                    last.push_str(next.text.trim());
                }
            }
            None => raw.push(next.text.trim().to_owned()),
        }
        end = next.end();
    }
    // An item's first clause is the diagnosis; what follows a semicolon is comment.
    let items = raw
        .iter()
        .filter_map(|r| clean_item(r.split(';').next().unwrap_or(r)))
        .collect();
    (items, end)
}

/// "chronic low back pain; spinal stenosis L3/4 (not for surgery)" -> two items.
fn split_inline(s: &str) -> Vec<String> {
    let s = text::bounded(s, 600);
    let pieces: Vec<&str> = if s.contains(';') {
        s.split(';').collect()
    } else if s.split(',').all(|p| text::word_count(p) <= 5) {
        split_outside_brackets(s, ',')
    } else {
        vec![s]
    };
    pieces.into_iter().filter_map(clean_item).collect()
}

fn split_outside_brackets(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth <= 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Drops bracketed notes and trailing qualifiers; capitalises the first letter.
fn clean_item(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ if depth <= 0 => out.push(c),
            _ => {}
        }
    }
    // "12-Mar-2019   Chronic neck pain": a coded problem list dates each entry.
    let out = out.trim_start();
    let out = ITEM_DATE.find(out).map_or(out, |m| &out[m.end()..]);
    let cut = [" - ", " \u{2013} ", " \u{2014} "]
        .iter()
        .filter_map(|d| out.find(d))
        .min()
        .unwrap_or(out.len());
    let item = trim_phrase(&out[..cut]);
    let item = item.split_whitespace().collect::<Vec<_>>().join(" ");
    (!item.is_empty() && item.len() <= 150).then(|| capitalise_first(&item))
}

fn from_prose(prose: &str) -> Option<(Vec<String>, usize, usize)> {
    let mut items: Vec<String> = Vec::new();
    let (mut first, mut last) = (usize::MAX, 0);
    for m in HAS.find_iter(prose) {
        let before = text::tail(&prose[..m.start()], 40);
        if RELATIVE.is_match(before) {
            continue;
        }
        let rest = text::head(&prose[m.end()..], 300);
        let rest = &rest[..rest.find(['.', '?', '!', '\n']).unwrap_or(rest.len())];
        let (mut plain, brackets) = blank_brackets(rest);
        let mut extra: Vec<(usize, String)> = Vec::new();
        for (a, b) in brackets {
            let inner = &rest[a..b];
            let head = trim_phrase(inner.split(',').next().unwrap_or(inner));
            if !CONDITION.is_match(head) {
                continue;
            }
            // A one-phrase gloss stays with its condition: "knee pain (osteoarthritis)";
            // "(fibromyalgia, diagnosed in 2020)" names a second condition.
            if inner.contains(',') {
                extra.push((a, head.to_owned()));
            } else if let Some(orig) = rest.get(a - 1..b + 1) {
                plain.replace_range(a - 1..b + 1, orig);
            }
        }
        // "X, and Y" lists like "X and Y" (same length, so offsets hold).
        let plain = plain.replace(", and ", "  and ");
        let p = phrase(&plain);
        let mut found: Vec<String> = split_and(p)
            .into_iter()
            .map(|x| x.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        found.extend(
            extra
                .into_iter()
                .filter(|(a, _)| *a < p.len())
                .map(|(_, h)| h),
        );
        found.extend(after_aside(&plain, p.len()));
        for part in found {
            let part = without_trailing_link(trim_phrase(&part));
            let lower = part.to_lowercase();
            if part.is_empty()
                || !CONDITION.is_match(part)
                || NEGATED.is_match(part)
                || NOT_A_CONDITION.is_match(part)
                || lower.starts_with("no ")
                || lower.starts_with("not ")
                || text::word_count(part) > 12
                || STARTS_WITH_VERB.is_match(part)
                || GENERIC_HEAD.is_match(part)
            {
                continue;
            }
            let part = part.strip_prefix("ongoing ").unwrap_or(part);
            let item = capitalise_first(part);
            let lower = item.to_lowercase();
            // "a 2-year history of chronic neck pain" and "chronic neck pain": keep the
            // condition, not the longer phrase around it.
            if let Some(k) = items.iter().position(|i| {
                lower.ends_with(&i.to_lowercase()) || i.to_lowercase().ends_with(&lower)
            }) {
                if items[k].len() > item.len() {
                    items[k] = item;
                }
                continue;
            }
            if items.len() < 6 {
                items.push(item);
                first = first.min(m.end());
                last = last.max(m.end() + p.len());
            }
        }
    }
    (!items.is_empty()).then_some((items, first, last))
}

/// "gout, now well controlled on allopurinol, and knee osteoarthritis": after an aside
/// that ended the first phrase, ", and" in the same sentence adds a second condition.
fn after_aside(sentence: &str, from: usize) -> Option<String> {
    static AND: LazyLock<Regex> = LazyLock::new(|| {
        // The caller has written ", and" as "  and" (same length).
        Regex::new(r"(?:,\s*|\s\s)and\s+(?:(?:also|a|an)\s+)?").expect("static pattern compiles")
    });
    static CLAUSE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?:is|was|has|had|have|she|he|they|her|his|it|i|we|this|that|there|then|now|so|would|will|can|could|feels?|finds?)\b")
            .expect("static pattern compiles")
    });
    // "... pain and fatigue and, more recently, fibromyalgia": the phrase ended on
    // "and" at the comma before an aside.
    static ASIDE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*,\s*(?:more\s+recently|recently|latterly|also|since\s+then|in\s+addition|later)\s*,\s*")
            .expect("static pattern compiles")
    });
    let after = sentence.get(from..)?;
    let ends_on_and = sentence
        .get(..from)?
        .trim_end()
        .to_ascii_lowercase()
        .ends_with(" and");
    let rest = match ASIDE.find(after).filter(|_| ends_on_and) {
        Some(a) => &after[a.end()..],
        None => &after[AND.find_iter(after).last()?.end()..],
    };
    let part = trim_phrase(phrase(rest));
    (CONDITION.is_match(part)
        && !CLAUSE.is_match(part)
        && !STARTS_WITH_VERB.is_match(part)
        && text::word_count(part) <= 6)
        .then(|| part.to_owned())
}

/// "... joint pain and fatigue and" -> "... joint pain and fatigue": a phrase cut at a
/// comma may end on the word that joined it to the next one.
fn without_trailing_link(s: &str) -> &str {
    let mut s = s;
    while let Some((head, last)) = s.rsplit_once(' ') {
        if !["and", "or", "with", "plus", "also"].contains(&last.to_ascii_lowercase().as_str()) {
            break;
        }
        s = trim_phrase(head);
    }
    s
}

/// `s` with bracketed text replaced by spaces (same length), and where the brackets' insides were.
fn blank_brackets(s: &str) -> (String, Vec<(usize, usize)>) {
    let mut out = String::with_capacity(s.len());
    let mut spans = Vec::new();
    let mut open: Option<usize> = None;
    for (i, c) in s.char_indices() {
        match c {
            '(' if open.is_none() => open = Some(i + 1),
            ')' if open.is_some() => {
                if let Some(a) = open.take() {
                    spans.push((a, i));
                }
            }
            _ => {}
        }
        if open.is_some() || c == '(' || c == ')' {
            out.push_str(&" ".repeat(c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    (out, spans)
}

fn phrase(rest: &str) -> &str {
    let end = PHRASE_END.find(rest).map_or(rest.len(), |e| e.start());
    &rest[..end]
}

/// Splits "fibromyalgia and hypothyroidism" into two conditions, but keeps "chronic neck
/// and shoulder pain" together: a part that names no condition joins the next one.
fn split_and(p: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for part in p.split(" and ") {
        if !pending.is_empty() {
            pending.push_str(" and ");
        }
        pending.push_str(part);
        if CONDITION.is_match(part) {
            out.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        match out.last_mut() {
            Some(last) => {
                last.push_str(" and ");
                last.push_str(&pending);
            }
            None => out.push(pending),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_items_lose_their_bracketed_notes() {
        assert_eq!(
            split_inline("chronic low back pain; spinal stenosis L3/4 (not for surgery)"),
            vec!["Chronic low back pain", "Spinal stenosis L3/4"]
        );
        assert_eq!(split_inline("Fibromyalgia (mild)"), vec!["Fibromyalgia"]);
    }

    #[test]
    fn prose_conditions_are_split_and_trimmed() {
        let (items, _, _) = from_prose("Mrs O'Sullivan has chronic low back pain and osteoporosis with previous vertebral fractures.").unwrap();
        assert_eq!(
            items,
            vec![
                "Chronic low back pain",
                "Osteoporosis with previous vertebral fractures"
            ]
        );
        let (items, _, _) =
            from_prose("She has chronic widespread pain (fibromyalgia, diagnosed in 2020).")
                .unwrap();
        assert_eq!(items, vec!["Chronic widespread pain", "Fibromyalgia"]);
        let (items, _, _) = from_prose(
            "Jo has chronic low back pain and was diagnosed with fibromyalgia last year.",
        )
        .unwrap();
        assert_eq!(items, vec!["Chronic low back pain", "Fibromyalgia"]);
        assert!(from_prose("Her mother has rheumatoid arthritis.").is_none());
        let (items, _, _) =
            from_prose("She has a long history of fibromyalgia and IBS, and chronic fatigue.")
                .unwrap();
        assert_eq!(items, vec!["Fibromyalgia", "IBS", "Chronic fatigue"]);
        let (items, _, _) = from_prose(
            "You have fibromyalgia. The hand clinic have diagnosed complex regional pain syndrome.",
        )
        .unwrap();
        assert_eq!(
            items,
            vec!["Fibromyalgia", "Complex regional pain syndrome"]
        );
        let (items, _, _) =
            from_prose("Rosa has systemic lupus erythematosus with joint pain and fatigue and, more recently, fibromyalgia.")
                .unwrap();
        assert_eq!(
            items[0],
            "Systemic lupus erythematosus with joint pain and fatigue"
        );
        assert!(from_prose("He has finished the pain management programme.").is_none());
        let (items, _, _) = from_prose(
            "He has gout, now well controlled on allopurinol, and longstanding knee osteoarthritis.",
        )
        .unwrap();
        assert_eq!(items, vec!["Gout", "Longstanding knee osteoarthritis"]);
        let (items, _, _) = from_prose(
            "She has chronic back pain, which began in 2019, and is struggling with the pain.",
        )
        .unwrap();
        assert_eq!(items, vec!["Chronic back pain"]);
        let (items, _, _) = from_prose(
            "Following your assessment on 7 October for your chronic neck pain, we agreed a plan.",
        )
        .unwrap();
        assert_eq!(items, vec!["Chronic neck pain"]);
        assert!(from_prose("She was seen for her pain management programme review.").is_none());
        let (items, _, _) = from_prose(
            "Rosa has lupus with joint pain and fatigue and, more recently, fibromyalgia.",
        )
        .unwrap();
        assert_eq!(
            items,
            vec!["Lupus with joint pain and fatigue", "Fibromyalgia"]
        );
    }

    #[test]
    fn coded_problem_lists_lose_their_dates() {
        assert_eq!(
            clean_item("12-Mar-2019   Chronic neck pain").as_deref(),
            Some("Chronic neck pain")
        );
        assert_eq!(
            clean_item("03/02/2021 Migraine").as_deref(),
            Some("Migraine")
        );
        assert_eq!(
            clean_item("2019 - Fibromyalgia").as_deref(),
            Some("Fibromyalgia")
        );
        assert_eq!(
            clean_item("Type 2 diabetes").as_deref(),
            Some("Type 2 diabetes")
        );
    }
}
