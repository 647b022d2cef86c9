//! Wording cues in free text: risk of harm (with negation and time) and telephone
//! preference. FHIR notes and patient instructions use them now; the letter reader will
//! use the same functions, so every channel flags risk the same way.

use std::sync::LazyLock;

use regex::Regex;

/// What the text says about risk of harm to self or others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RiskFinding {
    /// Current or past suicidal thoughts, attempts, self-harm or thoughts of harming
    /// others are reported (negated mentions do not count).
    pub mentioned: bool,
    /// At least one such mention is current or recent, which makes the referral urgent.
    pub current: bool,
}

impl RiskFinding {
    /// Either finding counts.
    pub fn or(self, other: RiskFinding) -> RiskFinding {
        RiskFinding {
            mentioned: self.mentioned || other.mentioned,
            current: self.current || other.current,
        }
    }
}

static RISK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        suicid\w*
        | self[\s-]?harm\w*
        | harm(ing)?\s+(him|her|them)sel(f|ves)
        | harm(ing)?\s+(to\s+)?(others|other\s+people|someone)
        | hurt(ing)?\s+(him|her|them)sel(f|ves)
        | hurt(ing)?\s+(others|other\s+people|someone)
        | overdose\w*
        | (end|ending|take|taking)\s+(his|her|their|my)\s+(own\s+)?life
        | kill(ing)?\s+(him|her|them)sel(f|ves)
        | (wish|wishes|wishing|want|wants|wanting)\s+to\s+die
        | homicid\w*",
    )
    .expect("static pattern compiles")
});

// A negation cue earlier in the same clause ("denies suicidal ideation", "no thoughts of
// self-harm", "not suicidal").
static NEGATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(no|not|nor|denies|denied|deny|denying|without|nil|never|negative\s+for|absence\s+of|free\s+of|none)\b")
        .expect("static pattern compiles")
});

static PAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(history\s+of|previous|previously|past|years\s+ago|historic\w*|as\s+a\s+(teenager|child)|in\s+(19|20)\d\d)\b")
        .expect("static pattern compiles")
});

static CURRENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(current|currently|recent|recently|ongoing|active|now|this\s+week|last\s+week|at\s+present|presently)\b")
        .expect("static pattern compiles")
});

/// Reads risk wording in `text`.
pub fn risk(text: &str) -> RiskFinding {
    let lower = text.to_lowercase();
    let mut finding = RiskFinding::default();
    for clause in clauses(&lower) {
        for m in RISK.find_iter(clause) {
            if NEGATION.is_match(&clause[..m.start()]) {
                continue;
            }
            finding.mentioned = true;
            if CURRENT.is_match(clause) || !PAST.is_match(clause) {
                finding.current = true;
            }
        }
    }
    finding
}

/// What the text says about contact by telephone: `Some(true)` acceptable or preferred,
/// `Some(false)` face to face only, `None` when it does not say.
pub fn telephone_ok(text: &str) -> Option<bool> {
    static NOT_OK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?x)
            face[\s-]to[\s-]face(\s+(contact|appointments?|sessions?))?\s+only | only\s+face[\s-]to[\s-]face | in[\s-]person\s+only
            | (not|no|doesn't|does\s+not|won't|unable\s+to\s+use\s+the|cannot\s+use\s+the)\s+(want\s+)?(by\s+)?(tele)?phone
            | (tele)?phone\s+(is\s+)?not\s+(suitable|appropriate|acceptable|possible)")
        .expect("static pattern compiles")
    });
    static OK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?x)
            (tele)?phone\s+(contact\s+|appointments?\s+|sessions?\s+|cbt\s+)?(is\s+|are\s+|would\s+be\s+)?(preferred|fine|ok|okay|acceptable|suitable)
            | prefers?\s+(tele)?phone | (by|over\s+the)\s+(tele)?phone
            | happy\s+(to\s+be\s+contacted\s+by|with|to\s+have|for)\s+(a\s+)?(tele)?phone
            | telephone\s+cbt")
        .expect("static pattern compiles")
    });
    let lower = text.to_lowercase();
    if NOT_OK.is_match(&lower) {
        Some(false)
    } else if OK.is_match(&lower) {
        Some(true)
    } else {
        None
    }
}

fn clauses(text: &str) -> impl Iterator<Item = &str> {
    text.split(['.', ';', '\n', '!', '?'])
        .flat_map(|s| s.split(" but "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negated_mentions_are_not_risk() {
        for text in [
            "No risk issues.",
            "Denies suicidal ideation or thoughts of self-harm.",
            "She is not suicidal.",
            "No thoughts of harming others.",
            "Nil self harm.",
        ] {
            assert_eq!(risk(text), RiskFinding::default(), "{text}");
        }
    }

    #[test]
    fn current_risk_is_urgent_and_past_risk_is_not() {
        let now = risk("Recent thoughts of self-harm, no plan. Safety plan agreed.");
        assert!(now.mentioned && now.current);
        let past = risk("History of an overdose in 2009. Mood stable since.");
        assert!(past.mentioned && !past.current);
        let mixed = risk("Denies suicidal ideation but reports thoughts of harming herself.");
        assert!(mixed.mentioned && mixed.current);
    }

    #[test]
    fn telephone_preference_wording() {
        assert_eq!(telephone_ok("Telephone preferred."), Some(true));
        assert_eq!(telephone_ok("Happy to be contacted by phone"), Some(true));
        assert_eq!(telephone_ok("Face to face only please"), Some(false));
        assert_eq!(telephone_ok("Face-to-face contact only."), Some(false));
        assert_eq!(
            telephone_ok("She does not want telephone appointments"),
            Some(false)
        );
        assert_eq!(telephone_ok("Please see soon."), None);
    }
}
