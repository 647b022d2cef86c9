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
        | self[\s-]?injur\w*
        | harm(ing)?\s+(him|her|them)sel(f|ves)
        | harm(ing)?\s+(to\s+)?(others|other\s+people|someone)
        | hurt(ing)?\s+(him|her|them)sel(f|ves)
        | hurt(ing)?\s+(others|other\s+people|someone)
        | (harm|hurt|kill)(s|ing)?\s+(his|her|their)\s+(partner|wife|husband|child|children|son|daughter|baby|mother|father|family)
        | (kill|hurt|harm)(s|ing)?\s+(somebody|anyone|people)
        | overdos\w*
        | (end|ending|ended|take|taking|took)\s+(his|her|their|my)\s+(own\s+)?life
        | (kill|hang|drown|poison|gas|strangl|stab|electrocut|suffocat)\w*\s+(him|her|them)sel(f|ves)
        | (wish|wishes|wishing|want|wants|wanting)\s+to\s+die
        | homicid\w*
        # Passive suicidal ideation: these contain 'not' or 'no' and are risk, not negation.
        | not\s+want(s|ed|ing)?\s+to\s+(be\s+here|be\s+alive|live|wake\s+up|go\s+on|carry\s+on|exist)
        | (wish|wishes|wishing|wished)\s+(she|he|they|i)\s+(was|were)\s+(dead|not\s+here|not\s+alive|gone)
        # 'better off dead / gone / not here / without him / if she were gone / with me not
        # around': a wish not to be alive however it is put.
        | better\s+off\s+(dead|gone|without\s+(her|him|them|me)
            |not\s+(being\s+)?(here|around|alive)
            |(if|when)\s+(she|he|they|i)\s+(was|were|wasn['\x{2019}]t|weren['\x{2019}]t)\s+(dead|gone|here|around|alive|not\s+(here|around|alive))
            |with(out)?\s+(her|him|them|me)\s+(not\s+)?(here|around|gone|dead))
        | (wish|wishes|wished|wishing|hopes?|hoped|hoping|prays?|prayed|praying)\s+(that\s+)?((she|he|they|i)\s+(would|will|could)\s+)?(not|never)\s+(to\s+)?wake\s+up
        # 'wishes she could go to sleep and not wake up': the wish in two steps.
        | (go|goes|going|went|fall|falls|falling|fell)\s+(to\s+sleep|asleep)\s+and\s+(not|never)\s+(to\s+)?wake\s+up
        # Thoughts of taking all one's tablets at once: overdose ideation.
        | (thought|thinks|thinking|thoughts|considered|considering|urges?|plann?(ed|ing)?)\s+(about\s+|of\s+|on\s+)?(taking|swallowing)\s+(all|too\s+many|a\s+handful|a\s+lot|lots|the\s+whole\s+\w+)\s+(of\s+)?((her|his|their|my|the)\s+)?(tablets|pills|medication|medicines|meds|painkillers)
        | (take|takes|taking|took|swallow\w*)\s+(all|the\s+whole\s+\w+|a\s+handful)\s+(of\s+)?(her|his|their|my|the)\s+(tablets|pills|medication|medicines|meds|painkillers)\s+(at\s+once|in\s+one\s+go|together)
        | no\s+(point|reason)\s+(in\s+)?(living|going\s+on|to\s+live|to\s+go\s+on|carrying\s+on|being\s+alive)
        | (not|\w+n['\x{2019}]t)\s+worth\s+living
        | ways\s+to\s+(die|end\s+(it|things))
        | thoughts\s+of\s+(death|dying|ending\s+it)
        | (thought|thinks|thinking|thoughts)\s+(about|of)\s+(ending\s+(it|things|(her|his|their)\s+(own\s+)?life)|taking\s+(her|his|their)\s+(own\s+)?life|not\s+being\s+(here|alive|around))
        | end(s|ing)?\s+it\s+all | death\s+wish | stockpil\w+
        | (jump|jumps|jumping|jumped)\s+(off|from|in\s+front\s+of)\s+(a|the)\s+(bridge|train|building|car|cliff|roof)
        | (cut|cuts|cutting|burnt|burned|burns|burning|scratch\w*)\s+(her|his|their)\s+((fore)?arms?|wrists?|legs?|thighs?|skin|hands?|stomach)
        | (cut|cuts|cutting|burnt|burned|burns|burning|hitting|strangl\w+)\s+(her|him|them)sel(f|ves)
        # Thoughts or urges to hurt anyone, including the patient ('thoughts of seriously
        # hurting his former manager'); negation is checked as for any mention.
        | (thoughts?|urges?|impulses?|fantas\w+|ideas?)\s+(of|about|to)\s+(\w+\s+)?(harming|hurting|killing|attacking|stabbing|strangling|harm|hurt|kill|attack)\b
        | ligature\w*
        # Clinical shorthand: OD x2, previous ODs, DSH. A bare od is also the
        # prescription shorthand for once daily, so it needs a word that makes it an event.
        | (history\s+of|previous|prior|past|took\s+an?|an|multiple|several|two|three|four|recurrent|further|another)\s+ods?\b
        | \bods?\s*x\s*\d
        | \bdsh\b
        # Threats and violence towards someone: harm to others.
        | threat(s|en|ened|ening)?\s+(to|of)\s+(\w+\s+)?(harm|hurt|kill|attack|stab|strangle|injure|assault)\w*
        | (violent|homicidal|aggressive)\s+(thoughts|urges|impulses|fantas\w+|ideas)
        | (item|question|q)\s*9\b[^.;\d]{0,30}?(=|:|was|of|scored?)?\s*[1-3]\b",
    )
    .expect("static pattern compiles")
});

// A negation cue shortly before the mention in the same clause ("denies suicidal
// ideation", "no thoughts of self-harm", "not suicidal").
static NEGATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(no|not|nor|denies|denied|deny|denying|without|nil|never|negative\s+for|absence\s+of|free\s+of|none|ruled\s+out|\w+n['\x{2019}]t|(low|minimal)\s+risk\s+(of|to))\b")
        .expect("static pattern compiles")
});

// A negation written after the mention: "suicidal ideation: none", "self-harm denied".
static NEGATED_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(ideation|thoughts|intent|plans?|behaviou?rs?|risk)?\s*([:\-]\s*(no|none|nil|denied|absent|negative|not\s+present|low|minimal)\b|(is\s+|was\s+)?(denied|absent|not\s+present|not\s+reported|low|minimal)\b)")
        .expect("static pattern compiles")
});

// Someone else's death by suicide is not the patient's risk.
static OTHERS_SUICIDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(father|mother|brother|sister|son|daughter|husband|wife|partner|friend|cousin|uncle|aunt|grand\w+|dad|mum|colleague|family\s+history)('s)?,?\s+((who|also|had|has|of|sadly|recently|then)\s+){0,3}(died\s+by\s+suicide|committed\s+suicide|suicide|took\s+(his|her|their)\s+own\s+life|killed\s+(him|her|them)sel(f|ves))|\b(bereaved|lost\s+\w+\s+\w+)\s+(by|to)\s+suicide")
        .expect("static pattern compiles")
});

// A clause whose subject is a relative or someone close ("Robin's brother has a history
// of self-harm", "His partner, Michelle, took an overdose"): their risk, not the
// patient's, unless the patient comes back in as the subject before the mention.
static RELATIVE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\W*(?:(?:his|her|their|the\s+patient['\x{2019}]s|[a-z]+['\x{2019}]s)\s+)?(?:older\s+|younger\s+|twin\s+|late\s+|ex-?)?(?:father|mother|brother|sister|son|daughter|husband|wife|partner|friend|cousin|uncle|aunt|grand\w+|dad|mum|parents?|sibling|step\w+|niece|nephew|boyfriend|girlfriend|fianc\w+)\b(?:\s*,[^,]{1,40},)?\s+(?:also\s+|too\s+)?(?:has|had|have|is|was|who|with)\b")
        .expect("static pattern compiles")
});

// The patient as the subject of the words before a mention.
static PATIENT_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(she|he|they|herself|himself|themselves|the\s+patient)\b")
        .expect("static pattern compiles")
});

// "She has a brother who was admitted after self-harming": the relative clause is about
// the relative.
static RELATIVE_WHO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(a|an|her|his|their)\s+(older\s+|younger\s+|twin\s+)?(father|mother|brother|sister|son|daughter|husband|wife|partner|friend|cousin|uncle|aunt|grand\w+|dad|mum|sibling|niece|nephew|boyfriend|girlfriend)\s*,?\s+who\b")
        .expect("static pattern compiles")
});

// "family history of self-harm": a relative's risk.
static FAMILY_HISTORY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bfamily\s+history\s+of\s*$").expect("static pattern compiles"));

static MOST_RECENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(the\s+)?most\s+recent(ly)?\b").expect("static pattern compiles")
});

static PAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(history\s+of|previous|previously|past|years\s+ago|historic\w*|as\s+a\s+(teenager|child|student)|in\s+(19|20)\d\d|in\s+the\s+past|last\s+year|when\s+(she|he|they)\s+(was|were)|aged\s+\d+|at\s+the\s+age\s+of\s+\d+|(between\s+)?the\s+ages\s+of\s+\d+|in\s+(her|his|their)\s+(teens|twenties|youth)|no\s+longer|had\s+(felt|thought|considered|experienced)|last\s+(spring|summer|autumn|winter|month|christmas)|(during|in)\s+the\s+(spring|summer|autumn|winter)|at\s+(her|his|their|its)\s+(lowest|worst))\b")
        .expect("static pattern compiles")
});

static CURRENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(current|currently|recent|recently|ongoing|active|now|this\s+week|last\s+week|at\s+present|presently|today|at\s+the\s+moment|lately|these\s+days|(over|in|during)\s+the\s+(last|past)\s+(few\s+|couple\s+of\s+|two\s+|three\s+|\d+\s+)?(days|weeks?|months?|fortnight)|has\s+been\s+having|is\s+having|this\s+month|some\s+nights|at\s+times)\b")
        .expect("static pattern compiles")
});

/// Reads risk wording in `text`.
pub fn risk(text: &str) -> RiskFinding {
    let lower = text.to_lowercase();
    let mut finding = RiskFinding::default();
    let sentences = lower
        .split(['.', '!', '?', '\n'])
        .filter(|s| !safety_net(s));
    for clause in sentences.flat_map(clauses) {
        let others = OTHERS_SUICIDE
            .find_iter(clause)
            .map(|m| m.range())
            .collect::<Vec<_>>();
        // Earlier mentions are blanked out before looking for a negation, so the 'not'
        // in "not wanting to be here" negates nothing after it.
        let mut seen = clause.to_owned();
        for m in RISK.find_iter(clause) {
            let blank = " ".repeat(m.len());
            if others.iter().any(|r| r.contains(&m.start())) {
                seen.replace_range(m.range(), &blank);
                continue;
            }
            if someone_elses(&clause[..m.start()]) {
                seen.replace_range(m.range(), &blank);
                continue;
            }
            let before = last_words(&seen[..m.start()], 12).to_owned();
            let negation = NEGATION.find_iter(&before).last();
            let after = &clause[m.end()..];
            seen.replace_range(m.range(), &blank);
            let past_only = match negation {
                _ if NEGATED_AFTER.is_match(after) => continue,
                Some(n)
                    if n.as_str() == "no"
                        && before[n.end()..].trim_start().starts_with("longer") =>
                {
                    true
                }
                // "has not self-harmed since 2015": a past mention.
                Some(_) if after.contains(" since ") => true,
                Some(_) => continue,
                None => false,
            };
            finding.mentioned = true;
            // "most recently as a student" dates the last episode; it is not a current cue.
            let dated = MOST_RECENT.replace_all(clause, "");
            if !past_only && (current_cue(&dated) || !PAST.is_match(clause)) {
                finding.current = true;
            }
        }
    }
    finding
}

// Safety-netting advice: what to do if risk arises, not a report that it has ("If you
// have thoughts of harming yourself, please call 111"; "she knows to contact the crisis
// team should she feel suicidal"). Words that say the thoughts were there before
// ("again", "return", "worsen") make it a report.
static CONDITIONAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(if|should\s+(you|she|he|they)|in\s+case|whenever)\b")
        .expect("static pattern compiles")
});
static HELP_SEEKING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(contact|call|ring|phone|telephone|dial|attend|seek|go\s+to|present\s+to|text)\b",
    )
    .expect("static pattern compiles")
});
static RECURRENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(again|further|return\w*|recur\w*|wors\w+|persist\w*|continu\w+|any\s+more|anymore|still)\b")
        .expect("static pattern compiles")
});

static MAIN_CLAUSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(will|would|might|may|could|says|said|told|tells|threaten\w*|plan\w*|then)\b|['\x{2019}]ll\b")
        .expect("static pattern compiles")
});

/// A sentence that advises what to do if risk arises: a conditional opens before the
/// first mention and the sentence tells someone to seek help.
fn safety_net(sentence: &str) -> bool {
    // Most sentences hold no conditional: skip the risk scan for them.
    if !CONDITIONAL.is_match(sentence) {
        return false;
    }
    let Some(m) = RISK.find(sentence) else {
        return false;
    };
    let Some(c) = CONDITIONAL.find_iter(&sentence[..m.start()]).last() else {
        return false;
    };
    // The mention is the condition itself, not the main clause after it ("if his claim
    // is refused he says he will end his life").
    !MAIN_CLAUSE.is_match(&sentence[c.end()..m.start()])
        && HELP_SEEKING.is_match(sentence)
        && !RECURRENCE.is_match(sentence)
}

/// The words of a clause before a risk mention make it a relative's: the clause opens
/// with a relative as its subject and the patient is not named as a subject after it.
fn someone_elses(before: &str) -> bool {
    if FAMILY_HISTORY.is_match(before) {
        return true;
    }
    if let Some(m) = RELATIVE_WHO.find_iter(before).last()
        && !PATIENT_SUBJECT.is_match(&before[m.end()..])
    {
        return true;
    }
    match RELATIVE_SUBJECT.find(before) {
        Some(m) => !PATIENT_SUBJECT.is_match(&before[m.end()..]),
        None => false,
    }
}

/// A cue that the risk is current, other than a negated one ("there is no current
/// risk" says the opposite).
fn current_cue(clause: &str) -> bool {
    CURRENT.find_iter(clause).any(|m| {
        let before = last_words(&clause[..m.start()], 2);
        !NEGATION.is_match(before)
    })
}

/// The end of `s` holding at most `n` words.
fn last_words(s: &str, n: usize) -> &str {
    let mut count = 0;
    let mut in_word = false;
    for (i, c) in s.char_indices().rev() {
        if c.is_whitespace() {
            if in_word {
                count += 1;
                if count == n {
                    return &s[i..];
                }
            }
            in_word = false;
        } else {
            in_word = true;
        }
    }
    s
}

/// What the text says about contact by telephone: `Some(true)` acceptable or preferred,
/// `Some(false)` face to face only, `None` when it does not say.
pub fn telephone_ok(text: &str) -> Option<bool> {
    static NOT_OK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?x)
            face[\s-]to[\s-]face(\s+(contact|appointments?|sessions?))?\s+only | only\s+face[\s-]to[\s-]face | in[\s-]person\s+only
            | (not|no|doesn't|does\s+not|won't|unable\s+to\s+use\s+the|cannot\s+use\s+the)\s+(want\s+)?(by\s+)?(tele)?phone
            | (tele)?phone\s+(appointments?\s+|contact\s+|sessions?\s+)?(is\s+|are\s+)?not\s+(suitable|appropriate|acceptable|possible)
            | not\s+suitable\s+for\s+(tele)?phone
            | (unable\s+to|cannot|can't|struggles?\s+to|does\s+not|doesn't|do\s+not|don't|would\s+not|wouldn't|(is|are|was|were)(\s+not|n't)\s+able\s+to|not\s+able\s+to)\s+(use|manage|cope\s+with|hear\s+on)\s+(the\s+)?(tele)?phone
            | only\s+(be\s+able\s+to\s+)?(attend|manage|do|have|be\s+seen\s+in)\s+(a\s+)?face[\s-]to[\s-]face
            | (finds?|found)\s+(the\s+|using\s+the\s+)?(tele)?phone(\s+calls?)?\s+(very\s+|really\s+)?(difficult|hard|stressful|distressing|impossible)
            | (doesn't|does\s+not|don't|do\s+not)\s+(like|want|enjoy)\s+(using\s+|to\s+use\s+|(talking|speaking|to\s+talk|to\s+speak)\s+(on|over)\s+)?(the\s+)?(tele)?phone
            | rather\s+not\s+(\w+\s+)?(tele)?phone
            | (tele)?phone\s*(contact|appointments?|calls?|consultations?)\s*(ok|acceptable|suitable)?\s*[:?]\s*no\b
            | (tele)?phone\s+(calls?|appointments?|contact)\s+(is|are)\s+(very\s+|really\s+)?(difficult|hard|stressful|distressing)
            | struggles?\s+(with|on)\s+(the\s+)?(tele)?phone
            | (tele)?phone\s+(appointments?\s+|contact\s+|sessions?\s+)?(would|will)\s+not\s+be\s+(suitable|appropriate|acceptable|possible)
            # 'would much rather be seen in person than on the telephone'
            | rather\s+(be\s+seen\s+|meet\s+|have\s+appointments\s+)?(in\s+person|face[\s-]to[\s-]face)\s+than\s+(on\s+the\s+|by\s+|over\s+the\s+)?(tele)?phone
            | (tele)?phone\s+(appointments?|contact|calls?|sessions?|consultations?)\b[^.;]{0,40}?\b(have|has)\s+not\s+(worked|been\s+(possible|successful|suitable))
            | (needs?|will\s+need|has|have)\s+to\s+be\s+seen\s+(face[\s-]to[\s-]face|in\s+person)")
        .expect("static pattern compiles")
    });
    static OK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?x)
            (tele)?phone\s+(contact\s+|appointments?\s+|sessions?\s+|cbt\s+|consultations?\s+|assessments?\s+|therapy\s+|support\s+|calls?\s+|follow[\s-]?ups?\s+)?(is\s+|are\s+|would\s+be\s+)?(preferred|fine|ok|okay|acceptable|suitable|ideal|best)
            | (tele)?phone\s+(or|and|/)\s+(online|virtual|remote|e-?mail|text|face[\s-]to[\s-]face)
            | (online|virtual|remote|face[\s-]to[\s-]face)\s+(or|and|/)\s+(tele)?phone
            | (preference|prefers?|preferring)\s+for\s+(tele)?phone | consent\w*\s+to\s+(tele)?phone
            | (open|agreeable|amenable|willing)\s+to\s+(a\s+)?(tele)?phone
            | (tele)?phone\s+(contact|appointments?|calls?|sessions?)[^.;]{0,30}?\bsuits?\b
            | (tele)?phone\s+(\w+\s+)?(is|are)\s+(her|his|their)\s+preferen
            | (would\s+like|wants?|requests?|requested|asked\s+for)\s+(a\s+)?(tele)?phone\s+(appointments?|sessions?|contact|therapy|support|cbt|assessments?|consultations?)
            | (tele)?phone\s*(contact|appointments?|calls?|consultations?)\s*(ok|acceptable|suitable)?\s*[:?]\s*(yes|y)\b
            | prefers?\s+(\w+\s+)?(tele)?phone | (by|over\s+the)\s+(tele)?phone
            | happy\s+(to\s+be\s+contacted\s+by|with|to\s+have|for|to\s+receive)\s+(a\s+)?(tele)?phone
            | happy\s+to\s+be\s+(tele)?phoned | (can|could|may)\s+be\s+(tele)?phoned
            | (tele)?phone\s+(or|and|/)\s+video | video\s+(or|and|/)\s+(tele)?phone
            | (tele)?phone\s+calls?\s+(is\s+|are\s+)?(fine|ok|okay|acceptable)
            | (tele)?phone\s+(appointments?|contact|calls?|sessions?)\s+(would|will)\s+(suit|be\s+(best|ideal|good|better|easier))
            | (fine|ok|okay|happy|content|comfortable)\s+with\s+(tele)?phone
            | happy\s+to\s+be\s+(called|rung|contacted)\b
            | happy\s+to\s+(receive|take|have)\s+((tele)?phone\s+)?calls
            | (preferred|preference)\s*(contact|method|mode)?\s*(of\s+contact)?\s*[:\-]?\s*(by\s+)?(tele)?phone
            | (would|will|could|can|may)\s+(also\s+)?(accept|consider|manage|do)\s+(a\s+)?(tele)?phone
            | accepts?\s+(a\s+)?(tele)?phone
            | telephone\s+cbt
            # 'happy for you to ring her on her mobile'
            | happy\s+for\s+(you|us|the\s+(service|team|therapist))\s+to\s+(ring|call|phone|telephone)
            # 'Telephone appointments with an interpreter on a three-way call are acceptable'
            | (tele)?phone\s+(appointments?|contact|calls?|sessions?|consultations?)\b[^.;]{0,60}?\b(is|are|would\s+be)\s+(fine|ok|okay|acceptable|suitable)\b")
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

// A clause ends at sentence punctuation and at words that turn to a new statement, so
// a negation before "but" or "although" does not reach past it, and "and now" or "and
// currently" starts a statement about a different time.
fn clauses(text: &str) -> impl Iterator<Item = &str> {
    static TURN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(but|although|though|however|whereas|except|yet)\b|\band\s+(she|he|they)\b|\band\s+(currently|now|presently|at\s+present|at\s+the\s+moment)\b")
            .expect("static pattern compiles")
    });
    text.split(['.', ';', '\n', '!', '?'])
        .flat_map(|s| TURN.split(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safety_netting_advice_is_not_reported_risk() {
        for text in [
            "If you have thoughts of harming yourself, please call 111 or your GP.",
            "Should you feel suicidal at any time, contact the crisis line on the number below.",
            "She knows to ring the crisis team if she has thoughts of self-harm.",
        ] {
            assert_eq!(risk(text), RiskFinding::default(), "{text}");
        }
        for text in [
            "She knows to ring the crisis team if her thoughts of self-harm return.",
            "If his claim is refused he says he will end his life, and I asked him to call 111.",
            "She has had thoughts of suicide this week. If they get worse she will call 111.",
        ] {
            assert!(risk(text).mentioned, "{text}");
        }
    }

    #[test]
    fn passive_wishes_in_two_steps_and_thoughts_of_taking_all_tablets_are_risk() {
        for text in [
            "Most nights he wishes he could go to sleep and not wake up.",
            "She wishes she could fall asleep and never wake up.",
            "She has thought about taking all her tablets at once.",
            "He has had thoughts of swallowing all of his painkillers.",
            "She said she might take all her pills together.",
        ] {
            let f = risk(text);
            assert!(f.mentioned, "{text}");
        }
        let f = risk(
            "She wishes she could go to sleep and not wake up and that sometimes her family would be better off without her.",
        );
        assert!(f.mentioned && f.current);
        assert!(!risk("She is taking all her tablets as prescribed.").mentioned);
        assert!(!risk("She goes to sleep late and does not wake up until noon.").mentioned);
    }

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
    fn a_low_risk_assessment_reports_no_risk() {
        assert!(!risk("She is at low risk of self-harm.").mentioned);
        assert!(!risk("Risk of self-harm: low").mentioned);
        assert!(risk("She is at high risk of suicide.").mentioned);
    }

    #[test]
    fn passive_suicidal_thoughts_are_risk_even_though_they_say_not() {
        let f = risk(
            "He told me today that he has had thoughts of not wanting to be here and has looked up ways to end his life, although he has not made any plans.",
        );
        assert!(f.mentioned && f.current);
        assert!(!risk("He could not wake up in the mornings on amitriptyline.").mentioned);
        assert!(risk("She feels she would be better off dead.").mentioned);
        assert!(risk("He says there is no point in living.").mentioned);
        let f = risk("He has sometimes wished he would not wake up, but denies any plan.");
        assert!(f.mentioned && f.current);
    }

    #[test]
    fn negation_reaches_only_its_own_clause() {
        assert!(
            risk("There is no history of self-harm and she has recently had thoughts of suicide.")
                .current
        );
        assert!(
            !risk("She denies any current thoughts of suicide, self-harm or harming others.")
                .mentioned
        );
        assert!(!risk("Suicidal ideation: none.").mentioned);
        assert!(!risk("Self-harm denied.").mentioned);
        assert!(!risk("She doesn't have suicidal thoughts.").mentioned);
    }

    #[test]
    fn thoughts_of_harming_anyone_and_self_injury_are_risk() {
        let f = risk(
            "For the past few weeks he has been having thoughts of seriously hurting his former manager.",
        );
        assert!(f.mentioned && f.current);
        assert!(risk("She cut her forearms last weekend.").mentioned);
        assert!(risk("She burns herself to feel something else.").mentioned);
        let past = risk("In 2015 she had thoughts of harming her ex-partner.");
        assert!(past.mentioned && !past.current);
        assert!(!risk("He denies any thoughts of harming himself.").mentioned);
    }

    #[test]
    fn past_risk_is_flagged_but_not_urgent() {
        for text in [
            "She no longer has suicidal thoughts.",
            "He has not self-harmed since 2015.",
            "Took an overdose when she was 19.",
            "She took an overdose at the age of 17.",
        ] {
            let f = risk(text);
            assert!(f.mentioned && !f.current, "{text}");
        }
    }

    #[test]
    fn other_wordings_of_suicidal_thoughts_are_risk() {
        for text in [
            "She has thought about ending it all.",
            "He has been thinking about taking his own life.",
            "She has had thoughts of not being around.",
            "He describes a passive death wish.",
            "She admits to stockpiling her tablets.",
            "He has thought of jumping in front of a train.",
        ] {
            assert!(risk(text).mentioned, "{text}");
        }
        assert!(!risk("She denies any thoughts of ending it all.").mentioned);
    }

    #[test]
    fn wishes_not_to_be_alive_are_risk_however_they_are_put() {
        for text in [
            "Some nights he feels everyone would be better off if he were gone.",
            "She says her children would be better off with her not around.",
            "He thinks they would all be better off if he wasn't here.",
            "She feels she would be better off not being here.",
        ] {
            assert!(risk(text).mentioned, "{text}");
        }
        assert!(!risk("She is better off now that the pain is controlled.").mentioned);
    }

    #[test]
    fn a_contracted_not_worth_living_is_risk_not_a_negation() {
        let past = risk(
            "During the winter, when the pain was at its worst, she had felt that life \
             wasn't worth living; she has not felt like that since.",
        );
        assert!(past.mentioned && !past.current);
        let now = risk("He says life isn't worth living at the moment.");
        assert!(now.mentioned && now.current);
    }

    #[test]
    fn a_relatives_suicide_is_not_the_patients_risk() {
        assert!(!risk("Her brother took his own life in 2019.").mentioned);
        assert!(!risk("Family history of suicide.").mentioned);
        assert!(risk("Since her father died she has had thoughts of suicide.").mentioned);
    }

    #[test]
    fn a_relatives_self_harm_is_not_the_patients_risk() {
        for text in [
            "Robin's brother has a history of self-harm and this has been very stressful.",
            "His partner, Michelle Hughes, has a history of an overdose; he has none himself and denies thoughts of self-harm.",
            "Her mother was suicidal for many years.",
            "There is a family history of self-harm.",
        ] {
            assert!(!risk(text).mentioned, "{text}");
        }
        for text in [
            "Her husband found her after she took an overdose.",
            "Her brother, who lives with her, is worried because she has been self-harming.",
            "Since her sister died she has had thoughts of suicide.",
        ] {
            assert!(risk(text).mentioned, "{text}");
        }
    }

    #[test]
    fn attempts_by_any_means_are_risk_and_a_dated_last_episode_is_past() {
        let f = risk("Two years ago he tried to hang himself.");
        assert!(f.mentioned && !f.current);
        assert!(risk("She has thought about drowning herself.").mentioned);
        assert!(!risk("He denies any thoughts of hanging himself.").mentioned);
        let f = risk("In the past she has self-harmed by cutting, most recently as a student.");
        assert!(f.mentioned && !f.current);
        let f = risk("She has self-harmed on and off, most recently last week.");
        assert!(f.mentioned && f.current);
    }

    #[test]
    fn threats_and_violent_thoughts_towards_others_are_risk() {
        let f = risk("He made threats to harm his ex-partner this week.");
        assert!(f.mentioned && f.current);
        assert!(risk("He made threats to kill a neighbour in 2019.").mentioned);
        assert!(risk("He still has violent thoughts towards her.").mentioned);
        assert!(!risk("There have been no threats to harm anyone.").mentioned);
        assert!(!risk("She denies violent thoughts.").mentioned);
    }

    #[test]
    fn clinical_shorthand_for_overdose_and_self_harm_is_risk() {
        for text in [
            "Risk: past history of OD x2 (2012 and 2018).",
            "Previous ODs in her twenties.",
            "History of DSH as a teenager.",
        ] {
            let f = risk(text);
            assert!(f.mentioned && !f.current, "{text}");
        }
        assert!(!risk("Amitriptyline 10 mg od, paracetamol 1 g qds.").mentioned);
        assert!(!risk("No DSH.").mentioned);
    }

    #[test]
    fn a_relatives_risk_in_a_who_clause_is_theirs() {
        assert!(!risk("She has a brother who was recently admitted after self-harming.").mentioned);
        assert!(risk("Her sister, who found her, says she took an overdose.").mentioned);
    }

    #[test]
    fn and_now_starts_a_statement_about_another_time() {
        let f = risk(
            "She has had two previous suicide attempts, the last in 2023, and currently reports no suicidal thoughts.",
        );
        assert!(f.mentioned && !f.current);
        let f = risk("He took an overdose in 2019 and now has thoughts of suicide again.");
        assert!(f.mentioned && f.current);
    }

    #[test]
    fn thoughts_over_the_last_weeks_or_month_are_current() {
        for text in [
            "He has had fleeting thoughts of suicide over the last month but no plans.",
            "She has thought of overdosing most days over the past 2 weeks.",
            "In the past couple of weeks he has had thoughts of harming himself.",
        ] {
            let f = risk(text);
            assert!(f.mentioned && f.current, "{text}");
        }
        let f = risk("She took an overdose last month.");
        assert!(f.mentioned && !f.current);
    }

    #[test]
    fn a_negated_current_cue_leaves_past_risk_routine() {
        let f = risk("He took an overdose aged 19 and there is no current risk.");
        assert!(f.mentioned && !f.current);
    }

    #[test]
    fn telephone_wordings_with_words_between() {
        for (text, want) in [
            (
                "Happy for you to ring him on his landline in the mornings.",
                Some(true),
            ),
            (
                "Phone sessions with a Farsi interpreter on the line are fine for her.",
                Some(true),
            ),
            (
                "He would rather be seen in person than on the phone.",
                Some(false),
            ),
            (
                "Phone appointments with an interpreter have not worked for him.",
                Some(false),
            ),
            ("She needs to be seen face to face.", Some(false)),
            ("Phone calls with his brother are not possible.", None),
        ] {
            assert_eq!(telephone_ok(text), want, "{text}");
        }
    }

    #[test]
    fn an_episode_between_given_ages_is_past() {
        let f = risk("She cut her arms between the ages of 13 and 16.");
        assert!(f.mentioned && !f.current);
    }

    #[test]
    fn not_liking_talking_on_the_phone_is_not_telephone_ok() {
        assert_eq!(
            telephone_ok("He does not like talking on the telephone."),
            Some(false)
        );
        assert_eq!(
            telephone_ok("She doesn't want to speak over the phone."),
            Some(false)
        );
    }

    #[test]
    fn not_able_to_manage_phone_calls_is_not_telephone_ok() {
        assert_eq!(
            telephone_ok("She is not able to manage phone calls."),
            Some(false)
        );
    }

    #[test]
    fn an_accepted_phone_call_is_telephone_ok() {
        assert_eq!(
            telephone_ok("She prefers face to face but would accept a phone call."),
            Some(true)
        );
        assert_eq!(telephone_ok("He accepts telephone contact."), Some(true));
        assert_eq!(
            telephone_ok("They are hard of hearing, so not by phone please."),
            Some(false)
        );
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
        assert_eq!(
            telephone_ok("Telephone consultations are acceptable."),
            Some(true)
        );
        assert_eq!(telephone_ok("Telephone contact: Yes"), Some(true));
        assert_eq!(telephone_ok("Telephone contact: No"), Some(false));
        assert_eq!(
            telephone_ok("He has a preference for telephone sessions."),
            Some(true)
        );
        assert_eq!(
            telephone_ok("She would like telephone appointments."),
            Some(true)
        );
        assert_eq!(
            telephone_ok("Happy with face to face or telephone."),
            Some(true)
        );
        assert_eq!(
            telephone_ok("She finds the telephone very difficult with her hearing aids."),
            Some(false)
        );
        assert_eq!(
            telephone_ok("He doesn't like using the phone."),
            Some(false)
        );
        assert_eq!(
            telephone_ok("You said that you struggle with the phone."),
            Some(false)
        );
        assert_eq!(telephone_ok("Home phone: no landline"), None);
        assert_eq!(
            telephone_ok("She is open to telephone therapy."),
            Some(true)
        );
        assert_eq!(
            telephone_ok("Telephone contact in the afternoon suits her best."),
            Some(true)
        );
        assert_eq!(
            telephone_ok("Telephone appointments are her preference."),
            Some(true)
        );
        assert_eq!(telephone_ok("He is happy to be phoned."), Some(true));
        assert_eq!(
            telephone_ok("She would prefer evening telephone appointments."),
            Some(true)
        );
        assert_eq!(
            telephone_ok("Happy to have telephone or video sessions"),
            Some(true)
        );
        assert_eq!(telephone_ok("She is unable to use the phone"), Some(false));
        assert_eq!(
            telephone_ok("She cannot manage telephone calls"),
            Some(false)
        );
        assert_eq!(
            telephone_ok("He would only attend face-to-face appointments"),
            Some(false)
        );
        assert_eq!(
            telephone_ok("Telephone appointments would suit him best"),
            Some(true)
        );
        assert_eq!(
            telephone_ok("She is fine with telephone appointments."),
            Some(true)
        );
    }
}
