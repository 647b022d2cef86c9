//! Facts about the letter itself: the date it bears, whether it refers the patient at
//! all, what it asks for, and whether the referrer asks for urgency.
//!
//! The letter date is the typed/dictated/letter date or the date at the head, never a
//! clinic, appointment or birth date. A letter is not a referral when it says no
//! referral was made or wanted, or when it is an update to the GP that asks nothing.

use std::sync::LazyLock;

use chrono::Datelike;
use regex::Regex;

use super::Sink;
use super::blocks::{Doc, Zone};
use super::dates::{self, Era};
use super::text::{self, bounded, trim_phrase};
use crate::domain::Urgency;

// ------------------------------------------------------------------ the date

static DATE_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(date\s+typed|typed(?:\s+on)?|date\s+printed|printed(?:\s+on)?|date\s+of\s+letter|letter\s+date|date\s+of\s+referral|referral\s+date|date\s+dictated|dictated(?:\s+on)?|date\s+sent|sent|dated|date|d/t|d/d)(?:\b|\s|:)\s*[:.\-]?\s*")
        .expect("static pattern compiles")
});

static WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s*")
        .expect("static pattern compiles")
});

/// Words before a date label that make it some other date ("Clinic date:").
static OTHER_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(clinic|seen|appointment|attend\w*|admi\w*|discharg\w*|birth|d\.?o\.?b|born|review|operation|surgery|scan|mri|x-?ray|injection|received|visit|consultation|next|onset|start|end|operation)\b")
        .expect("static pattern compiles")
});

/// Reads the letter date; returns its year for settling two-digit years elsewhere.
pub(super) fn read_date(doc: &Doc<'_>, sink: &mut Sink) -> Option<i32> {
    let era = Era::Recent {
        reference_year: dates::this_year(),
    };
    // (rank, start, end, date): lower rank wins, then the earlier date.
    let mut best: Option<(u8, usize, usize, chrono::NaiveDate)> = None;
    let mut consider = |rank: u8, start: usize, end: usize, d: chrono::NaiveDate| {
        if best.is_none_or(|b| rank < b.0) {
            best = Some((rank, start, end, d));
        }
    };
    for (i, line) in doc.lines.iter().enumerate() {
        let zone = doc.zones[i];
        if matches!(zone, Zone::Cc | Zone::Blank) {
            continue;
        }
        if !line.text.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        let hits = dates::find(line.text);
        for m in DATE_LABEL.find_iter(line.text) {
            let label = m.as_str().to_ascii_lowercase();
            let before = text::tail(&line.text[..m.start()], 20);
            if OTHER_DATE.is_match(before) || OTHER_DATE.is_match(&label) {
                continue;
            }
            // "Date: Tuesday 17 November 2026": a weekday may stand before the date.
            let after = &line.text[m.end()..];
            let skip = WEEKDAY.find(after).map_or(0, |w| w.end());
            let Some(h) = hits
                .iter()
                .find(|h| h.start >= m.end() && h.start <= m.end() + skip + 2)
            else {
                continue;
            };
            let Some(d) = h.resolve(era) else { continue };
            let rank = if label.starts_with("dictated")
                || label.starts_with("date dictated")
                || label.starts_with("d/d")
            {
                2
            } else if label.contains("referral")
                || label.starts_with("sent")
                || label.starts_with("date sent")
            {
                1
            } else {
                0
            };
            consider(rank, line.start + h.start, line.start + h.end, d);
        }
        if matches!(zone, Zone::Letterhead | Zone::Header)
            && !DATE_LABEL.is_match(line.text)
            && let Some(h) = hits.first()
            && !OTHER_DATE.is_match(line.text)
            && let Some(d) = h.resolve(era)
        {
            // A date standing alone at the head of the letter, or with a place or
            // reference beside it.
            let rest = format!("{}{}", &line.text[..h.start], &line.text[h.end..]);
            let rank = if text::word_count(&rest) <= 1 { 0 } else { 3 };
            consider(rank, line.start + h.start, line.start + h.end, d);
        }
    }
    let (rank, start, end, d) = best?;
    sink.record.letter_date = Some(dates::iso(d));
    sink.note(
        "letter_date",
        start,
        end,
        [0.95, 0.9, 0.85, 0.6][usize::from(rank.min(3))],
    );
    Some(d.year())
}

// -------------------------------------------------------- referral and asks

/// The letter says no referral is made or wanted.
static NOT_REFERRING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \bnot\s+(?:made|make|making|sent|send|done|completed)\s+(?:a\s+|any\s+)?referral
        | \bno\s+(?:onward\s+|further\s+|new\s+|other\s+)?(?:psycholog\w*\s+|talking\s+therap\w*\s+|iapt\s+|cbt\s+|mental\s+health\s+)?referral\b
        | \b(?:do|does|did)\s*n[o']t\s+(?:feel|think|believe|consider)\s+(?:that\s+)?(?:a\s+|any\s+)?(?:referral|psycholog\w*|therapy|talking\s+therap\w*|cbt|counselling)[^.;\n]{0,60}?\b(?:is|are|was|would\s+be)\s+(?:required|needed|necessary|indicated|warranted)
        | \bfor\s+(?:your\s+)?information\s+only\b
        | \bno\s+action\s+(?:is\s+)?(?:required|needed)\b
        | \b(?:i\s+am|we\s+are)\s+not\s+(?:requesting|asking\s+for)\b
        | \b(?:have|has|had)\s+not\s+(?:been\s+)?referr?ed
        | \bnot\s+(?:be\s+)?referring
        | \b(?:does|did|do)\s*n[o']t\s+(?:feel\s+(?:that\s+)?(?:she|he|they)\s+)?(?:need|needs|want|wants|wish|wishes|require|requires)\w*\s+(?:to\s+be\s+referred|(?:a\s+|any\s+)?(?:referral|psycholog\w*|therapy|talking|cbt|counselling|support|input))
        | \bdeclined\s+(?:a\s+|the\s+|any\s+|my\s+|our\s+)?(?:offer\s+of\s+(?:a\s+)?)?(?:referral|psycholog\w*|therapy|talking|cbt|counselling|support|offer)
        | \bnot\s+(?:keen|willing|ready|wishing)\s+to\s+(?:be\s+referred|engage|consider|try|accept)
        | \bno\s+(?:further\s+)?(?:need|indication)\s+for\s+(?:a\s+)?(?:referral|psycholog\w*|therapy)
        | \breferral\s+(?:is\s+|was\s+)?not\s+(?:needed|required|indicated|necessary|appropriate|made|wanted)
        | \bself[\s-]?refer
        | \b(?:she|he|they)\s+(?:has\s+|have\s+)?declined\b
        | \b(?:does|did)\s*n[o']t\s+wish\s+to\s+(?:be\s+referred|engage|have|see|try)",
    )
    .expect("static pattern compiles")
});

/// The letter refers the patient in so many words.
static REFERRING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?imx)
        \bi\s+am\s+(?:writing\s+to\s+)?refer(?:ring)?\b
        | \bi\s+(?:have|had|['\u{2019}]ve)\s+(?:now\s+|also\s+|today\s+)?(?:made\s+a\s+referral|referred)\b
        | \bi\s+am\s+(?:also\s+)?making\s+a\s+referral\b
        | \brefer\w*\b[^.?!\n]{0,80}?\bi\s+(?:have|['\u{2019}]ve)\s+(?:now\s+)?done\s+(?:this|so)\b
        | \basking\s+(?:them|the\s+service|the\s+team)\s+to\s+(?:offer|see|assess|contact)\b
        | \b(?:i|we)\s+(?:have|['\u{2019}]ve)\s+(?:also\s+|now\s+)?asked\s+(?:the|your|our)\s+[^.?!\n]{0,60}?\b(?:service|team|clinic|colleagues|therapists?|psycholog\w+)\s+to\s+(?:offer|see|assess|contact)\b
        | \b(?:i|we)\s+(?:\w+\s+){0,6}?and\s+(?:have|had|['\u{2019}]ve)\s+(?:now\s+|also\s+|today\s+)?(?:made\s+a\s+referral|referred)\b
        | \bi\s+would\s+like\s+to\s+refer\b
        | \b(?:please\s+)?accept\s+this\s+(?:as\s+a\s+)?referral
        | \b(?:thank\s+you|thanks)\s+for\s+accepting\s+this\s+referral
        | ^\s*(?:urgent\s+)?referral\b
        | \bplease\s+(?:could\s+you\s+)?(?:see|assess|offer)\b
        | \bplease\s+consider\s+(?:her|him|them)\s+for\b
        | \bcould\s+you\s+(?:please\s+)?(?:see|assess|offer)\b
        | \bgrateful\s+if\s+you\s+(?:could|would)\s+(?:kindly\s+)?(?:see|assess|offer)\b
        | \b(?:she|he|they)\s+(?:could|can|would|might)\s+be\s+(?:offered|seen|assessed)\b
        | \b(?:could|can)\s+(?:she|he|they)\s+(?:please\s+)?be\s+(?:offered|seen|assessed)\b",
    )
    .expect("static pattern compiles")
});

/// Wording that leans towards a referral without making one ("a referral to Talking
/// Therapies" may be what was discussed and declined).
static LEANING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\breferral\s+to\s+(?:nhs\s+)?(?:talking|iapt|your\s+service|the\s+(?:talking|psycholog\w*|iapt))|\bwould\s+benefit\s+from\b")
        .expect("static pattern compiles")
});

/// What the referrer asks for, strongest first. The service follows the match.
static ASKS: LazyLock<[Regex; 3]> = LazyLock::new(|| {
    let explicit = r"(?imx)
        ^\s*(?:requested|request|service\s+requested|requested\s+service|intervention\s+requested|referred\s+for|referral\s+for|reason\s+for\s+referral)\s*[:\-]\s*
        | \b(?:grateful|pleased|glad|appreciate\w*)\b[^.?!\n]{0,60}?\b(?:offer(?:ed)?|provide|arrange)\s+(?:(?:her|him|them|this\s+(?:lady|gentleman|patient|man|woman))\s+)?(?:with\s+)?
        | \bgrateful\s+for\s+(?:an?\s+|the\s+)?
        | \b(?:she|he|they)\s+(?:could|can|would|might)\s+(?:please\s+)?be\s+(?:offered|considered\s+for|(?:seen|assessed|referred)\s+(?:\w+ly\s+)?for)\s+
        | \b(?:could|can|would)\s+(?:she|he|they)\s+(?:please\s+)?be\s+(?:offered|considered\s+for|(?:seen|assessed|referred)\s+(?:\w+ly\s+)?for)\s+
        | \bplease\s+(?:could\s+you\s+|would\s+you\s+|can\s+you\s+)?(?:offer|provide|arrange)\s+(?:(?:her|him|them)\s+)?
        | \b(?:see|assess|contact|accept)\s+(?:her|him|them|this\s+\w+)\s+(?:\w+ly\s+)?for\s+
        | \bconsider(?:ing)?\s+(?:her|him|them)\s+for\s+
        | \bfor\s+(?:you|her|him|them)\s+to\s+be\s+(?:offered|considered\s+for|(?:seen|assessed)\s+for)\s+
        | \bplease\s+consider\s+(?:her|him|them)\s+for\s+
        | \basking\s+(?:them|the\s+service|the\s+team)\s+to\s+(?:offer|provide|arrange)\s+(?:you|her|him|them)\s+
        | \b(?:i|we)\s+(?:have|['\u{2019}]ve)\s+(?:also\s+|now\s+)?asked\s+(?:the|your|our)\s+[^.?!\n]{0,60}?\b(?:service|team|clinic|colleagues|therapists?|psycholog\w+)\s+to\s+(?:offer|provide|arrange)\s+(?:(?:you|her|him|them)\s+)?(?:with\s+)?
        | \b(?:could|can|would)\s+(?:you|your\s+(?:service|team)|the\s+(?:service|team))\s+(?:please\s+)?(?:kindly\s+)?(?:offer|provide|arrange)\s+(?:(?:her|him|them)\s+)?(?:with\s+)?
        | \b(?:she|he|they)\s+(?:could|can|would|might)\s+(?:please\s+)?access\s+
        | \bwith\s+a\s+view\s+to\s+(?:offering\s+(?:her|him|them)\s+)?
        | \b(?:to|am|is|are)\s+request(?:ing)?\s+
        | (?:^|[.!?]\s+)(?:please\s+)?refer\s+(?:(?:her|him|them)\s+)?(?:on\s+)?for\s+(?:an?\s+)?";
    let referral_for = r"(?ix)
        \brefer(?:ral|ring\s+(?:her|him|them|you|this\s+(?:lady|gentleman|patient|man|woman|young\s+(?:man|woman|lady))|(?:mr|mrs|ms|miss|mx)\.?\s+[a-z'\-]+)|red\s+(?:her|him|them|you|this\s+(?:lady|gentleman|patient|man|woman|young\s+(?:man|woman|lady))|(?:mr|mrs|ms|miss|mx)\.?\s+[a-z'\-]+)|\s+(?:her|him|them|you|this\s+(?:lady|gentleman|patient|man|woman|young\s+(?:man|woman|lady))|(?:mr|mrs|ms|miss|mx)\.?\s+[a-z'\-]+))\s+(?:\w+ly\s+)?(?:to\s+[^.?!\n]{0,90}?\s+)?for\s+
        | \bto\s+be\s+referred\s+(?:\w+ly\s+)?(?:to\s+[^.?!\n]{0,90}?\s+)?for\s+
        | \bconsideration\s+(?:of|for)\s+";
    let softer = r"(?ix)
        \bwould\s+(?:also\s+|really\s+|now\s+|still\s+)?(?:benefit\s+from|like\s+to\s+(?:try|have|start|access|be\s+offered)|like|welcome|value|be\s+keen\s+(?:on|to\s+try))\s+
        | ['\u{2019}]d\s+(?:like|welcome)\s+(?:to\s+(?:try|have|start)\s+)?
        | \b(?:is|was)\s+(?:keen|open|willing|happy)\s+(?:on|to\s+try|to\s+have|to\s+start|to\s+engage\s+(?:with|in)|to)\s+
        | \bwish(?:es|ing)?\s+to\s+(?:try|have|start|access|be\s+offered)\s+
        | \binterested\s+in\s+";
    [explicit, referral_for, softer].map(|p| Regex::new(p).expect("static pattern compiles"))
});

/// Where the asked-for service stops.
static SERVICE_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[.?!;\n]|,\s+(?:which|as|if|because|so|since|but|although|though|who|where|and|she|he|they|i|we|please|ideally|preferably|given|in\s+view)\b|\s+(?:which|as\s+(?:she|he|they|this|it|i|her|his)|because|so\s+that|if\s|since|but|although|whereas|and\s+(?:is|has|she|he|they|would|i|we|her|his|was|prefers?)\b|from\s+your|at\s+your|with\s+your|in\s+due\s+course|at\s+(?:the\s+)?earliest|please\b|once\b|when\b|until\b)")
        .expect("static pattern compiles")
});

static ASKS_GP_TO_REFER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:could|would|can|please)\s+(?:you\s+)?(?:kindly\s+|please\s+)?(?:consider\s+)?(?:re-?)?refer(?:ring)?\s+(?:her|him|them)\b|\byou\s+(?:may|might)\s+(?:wish|want|like)\s+to\s+(?:consider\s+)?(?:re-?)?refer|\b(?:suggest|recommend)\w*\s+(?:that\s+)?(?:you\s+)?(?:consider\s+)?(?:a\s+)?(?:(?:she|he|they|her|him|them)\s+(?:is\s+|be\s+)?)?(?:re-?)?referr?(?:al|ed|ing)?\b|\b(?:could|would|can|please)\s+(?:you\s+)?(?:kindly\s+|please\s+)?(?:arrange|make|organise|action)\s+(?:this|that|the|such\s+a)(?:\s+referral)?\b").expect("static pattern compiles")
});

static CLAUSE_VERB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(are|is|was|were|would|will|has|have|can|could|prefers?|wants?|works?|lives?)\b",
    )
    .expect("static pattern compiles")
});

static SERVICE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(cbt|therap\w*|counsel\w*|assessment|support|self[\s-]help|psycholog\w*|treatment|intervention|sessions?|emdr|ipt|psychoeducation|group|programme|course|pain\s+management|talking|mindfulness|help|input|step\s*[234]|intensity|wellbeing|coaching|behavioural|act)\b")
        .expect("static pattern compiles")
});

/// A named kind of therapy, not just "help" or "advice": "your pain management group".
static NAMED_SERVICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(cbt|therap\w*|counsel\w*|psycholog\w*|group|programme|course|self[\s-]help|step\s*[234]|pain\s+management)\b")
        .expect("static pattern compiles")
});

static URGENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(urgent(?:ly)?|as\s+a\s+matter\s+of\s+urgency|soon\s+as\s+possible|asap|expedite\w*|high\s+priority)\b").expect("static pattern compiles")
});

static NOT_URGENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\b(not|non|no|nothing|isn't|wasn't)\b[\s-]*(an?\s+|as\s+|the\s+|particularly\s+|very\s+)?$)").expect("static pattern compiles")
});

static HYPOTHETICAL_NEED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(would|will|may|might|could|can)\s+(need|require)s?\s+(an?\s+)?$")
        .expect("static pattern compiles")
});

/// An urgent request to some other service ("an urgent MRI", "urgent referral to the
/// spinal surgeons") says nothing about this referral.
static OTHER_SERVICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(mri|scan|x-?ray|ct|bloods?|blood\s+tests?|investigations?|surgery|surgical|surgeons?|orthopaedic\w*|spinal\s+team|neurosurg\w*|operation|a&e|emergency\s+department|ambulance|two[\s-]week\s+wait|2ww|oncology|cancer)\b")
        .expect("static pattern compiles")
});

static URGENCY_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)^\s*(?:urgency|priority)\s*[:\-]\s*(routine|soon|urgent|asap|two\s+week\s+wait|2ww)",
    )
    .expect("static pattern compiles")
});

/// Sets `is_referral`, `requested_service` and a requested urgency.
pub(super) fn read_intent(doc: &Doc<'_>, sink: &mut Sink) {
    let prose = doc.prose.as_str();
    let asked = ask(prose);
    let explicit = asked.as_ref().is_some_and(|a| a.3);
    let referring = not_negated(&REFERRING, prose) || explicit;
    let leaning = asked.is_some() || not_negated(&LEANING, prose);
    let declined = NOT_REFERRING.find(prose);
    // A letter asking the GP to make the referral does not make it.
    let to_gp = addressed_to_gp(doc, sink);
    let leaning = leaning && !(to_gp && ASKS_GP_TO_REFER.is_match(prose));
    let to_gp_only = to_gp && !leaning;
    // A letter written to the patient (an appointment, a clinic summary) refers only
    // when it says so.
    let is_referral = referring || (declined.is_none() && !to_gp_only && !doc.to_patient);
    sink.record.is_referral = is_referral;

    let sure = if referring || (declined.is_some() && !leaning) {
        0.85
    } else {
        0.7
    };
    // The wording that decided it: the refusal when the letter is not a referral.
    match declined.filter(|_| !is_referral) {
        Some(m) => sink.note("is_referral", m.start(), m.end(), sure),
        None => sink.assess("is_referral", sure),
    }
    if is_referral && let Some((service, start, end, explicit)) = asked {
        sink.record.requested_service = Some(service);
        sink.note(
            "requested_service",
            start,
            end,
            if explicit { 0.8 } else { 0.65 },
        );
    }
    // Only a referral asks for urgency; other letters' "as soon as possible" is about
    // something else (cancelling an appointment, a scan).
    if is_referral {
        urgency_asked(doc, prose, sink);
    }
}

/// The service asked for, its span and whether the ask was explicit.
fn ask(prose: &str) -> Option<(String, usize, usize, bool)> {
    for (k, re) in ASKS.iter().enumerate() {
        for m in re.find_iter(prose) {
            let rest = text::head(&prose[m.end()..], 300);
            let end = SERVICE_END.find(rest).map_or(rest.len(), |e| e.start());
            let mut service = trim_phrase(&rest[..end]);
            // An unclosed bracket is cut off with what follows it.
            if let Some(open) = service.rfind('(')
                && !service[open..].contains(')')
            {
                service = trim_phrase(&service[..open]);
            }
            // "CBT and phone appointments are fine": a new clause after "and".
            if let Some(and) = service.rfind(" and ")
                && CLAUSE_VERB.is_match(&service[and..])
            {
                service = trim_phrase(&service[..and]);
            }
            // "assessed for suitability for psychological therapy", "EMDR for her".
            for lead in [
                "suitability for ",
                "consideration of ",
                "consideration for ",
            ] {
                if let Some(rest) = service.get(lead.len()..)
                    && service
                        .get(..lead.len())
                        .is_some_and(|h| h.eq_ignore_ascii_case(lead))
                {
                    service = rest;
                }
            }
            for tail in [" for her", " for him", " for them"] {
                if let Some(head) = service.strip_suffix(tail) {
                    service = head;
                }
            }
            // "considered for your pain management group": the service, not "your".
            if let (Some(head), Some(rest)) = (service.get(..5), service.get(5..))
                && head.eq_ignore_ascii_case("your ")
                && NAMED_SERVICE.is_match(rest)
            {
                service = rest.trim_start();
            }
            let lower = service.to_lowercase();
            if service.is_empty()
                || !SERVICE_WORD.is_match(service)
                || text::word_count(service) > 20
                || lower.starts_with("your ")
                || lower.starts_with("you ")
            {
                continue;
            }
            let start = m.end() + text::offset_in(rest, service);
            let squashed = service.split_whitespace().collect::<Vec<_>>().join(" ");
            return Some((
                bounded(&squashed, 200).to_owned(),
                start,
                start + service.len(),
                k == 0,
            ));
        }
    }
    None
}

/// A match of `re` that no negation in its clause turns round ("I have not made a
/// referral to ...").
fn not_negated(re: &Regex, prose: &str) -> bool {
    static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(not|no|never|declined|without|consider|discussed|\w+n['\x{2019}]t)\b")
            .expect("static pattern compiles")
    });
    re.find_iter(prose).any(|m| {
        let before = text::tail(&prose[..m.start()], 60);
        let clause = before
            .rsplit(['.', '?', '!', '\n', ';'])
            .next()
            .unwrap_or(before);
        !NEGATED.is_match(clause)
    })
}

/// "Dear Dr Walsh" where Dr Walsh is the patient's GP.
fn addressed_to_gp(doc: &Doc<'_>, sink: &Sink) -> bool {
    let (Some(s), Some(gp)) = (doc.salutation, sink.record.gp.name.as_deref()) else {
        return false;
    };
    let family = gp
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_lowercase();
    let referrer = sink.record.referrer.name.as_deref().unwrap_or_default();
    !family.is_empty() && gp != referrer && doc.lines[s].text.to_lowercase().contains(&family)
}

fn urgency_asked(doc: &Doc<'_>, prose: &str, sink: &mut Sink) {
    if let Some(c) = URGENCY_LABEL.captures(doc.text)
        && let (Some(m), Some(v)) = (c.get(0), c.get(1))
    {
        let urgent = !v.as_str().eq_ignore_ascii_case("routine");
        if urgent {
            sink.record.urgency = Urgency::Urgent;
        }
        if urgent || sink.record.urgency == Urgency::Routine {
            sink.note("urgency", m.start(), m.end(), 0.95);
        }
        return;
    }
    for m in URGENT.find_iter(prose) {
        let before = text::tail(&prose[..m.start()], 25);
        let after = text::head(&prose[m.end()..], 25).to_ascii_lowercase();
        let sentence = text::sentences(text::head(&prose[m.start()..], 200))
            .first()
            .map_or("", |s| s.1);
        let sentence = format!(
            "{} {sentence}",
            before
                .rsplit(['.', '?', '!', '\n'])
                .next()
                .unwrap_or(before)
        );
        // "which would need urgent attention": a hypothetical need, not a request.
        if NOT_URGENT.is_match(before)
            || HYPOTHETICAL_NEED.is_match(before)
            || after.trim_start().starts_with("care")
            || after.trim_start().starts_with("treatment centre")
            || OTHER_SERVICE.is_match(&sentence)
        {
            continue;
        }
        sink.record.urgency = Urgency::Urgent;
        sink.note("urgency", m.start(), m.end(), 0.85);
        return;
    }
}
