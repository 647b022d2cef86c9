//! Person names as letters write them: "Mrs Jane SMITH", "SMITH, Jane (Mrs)",
//! "Mrs J A Smith", "Dr Martin Oduya", "Kathleen Mary O'SULLIVAN".
//!
//! The family name is the word in capitals when the writer used capitals for it, the
//! first word when written surname first, otherwise the last word (with any particle
//! such as "van der" before it). Given names and initials are kept as written; an
//! initial loses its full stop. Whose name it is, is for the caller to decide.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::text::{field_end, soften_caps};

/// A parsed name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PersonName {
    pub title: Option<String>,
    pub given: Vec<String>,
    pub family: String,
    /// Byte offsets of the name inside the parsed slice.
    pub start: usize,
    pub end: usize,
}

impl PersonName {
    /// "Dr Claire Whitfield" / "Adam Kerr": the form used for clinicians.
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(t) = &self.title {
            parts.push(t.clone());
        }
        parts.extend(self.given.iter().cloned());
        parts.push(self.family.clone());
        parts.join(" ")
    }

    /// True when `other` may be the same person (same family name, compatible first
    /// given name or initial).
    pub fn same_person(&self, other: &PersonName) -> bool {
        if !self.family.eq_ignore_ascii_case(&other.family) {
            return false;
        }
        match (self.given.first(), other.given.first()) {
            (Some(a), Some(b)) => {
                let (a, b) = (a.to_lowercase(), b.to_lowercase());
                a == b
                    || (a.chars().count() == 1 && b.starts_with(&a))
                    || (b.chars().count() == 1 && a.starts_with(&b))
            }
            _ => true,
        }
    }
}

/// The normal form of an honorific, or `None` when `word` is not one.
pub(super) fn title(word: &str) -> Option<&'static str> {
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    Some(match w.as_str() {
        "mr" => "Mr",
        "mrs" => "Mrs",
        "ms" => "Ms",
        "miss" => "Miss",
        "mx" => "Mx",
        "dr" => "Dr",
        "prof" | "professor" => "Prof",
        "rev" | "revd" | "reverend" => "Rev",
        "sir" => "Sir",
        "dame" => "Dame",
        "master" => "Master",
        "lady" => "Lady",
        "lord" => "Lord",
        _ => return None,
    })
}

/// Capitalised words that are not names: labels, clinical and organisation words, and
/// post-nominal letters after a signatory's name. Words that are also common surnames
/// (Lane, Street, Ward, Best ...) are left out.
static NOT_NAMES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    concat!(
        "re referral refer patient dear thank thanks clinic chronic pain nhs talking therapies ",
        "therapy hospital service services surgery practice road avenue date consultant ",
        "department dept team the this she he her his they i we mental health letter cbt gp ",
        "urgent routine diagnosis diagnoses problems dob name address tel telephone mobile ",
        "phone email ref our your hads phq gad physiotherapy rheumatology orthopaedic ",
        "orthopaedics centre center medical group unit trust foundation university county ",
        "district nurse specialist physiotherapist practitioner secretary copy cc yours regards ",
        "wishes sincerely faithfully with and for to from of in on at by a an is was has had ",
        "who mrs mr ms miss dr number no born aged age male female hosp mrn fibromyalgia mood ",
        "anxiety depression widespread plan summary clinical history impression assessment ",
        "dictated typed signed registered rheumatologist surgeon physician anaesthetist ",
        "psychologist pharmacist registrar musculoskeletal msk spinal neurology mbchb mbbs mb ",
        "chb bm bch bs frcp mrcp frca mrcgp frcgp bsc msc phd md frcs mcsp rgn rn rmn ma ba ",
        "hons drcog dfsrh ffpmrca mrcpsych frcpsych dip pgdip pgcert dphil mphil frcpch mrcs ",
        "frcr fficm fcem frcem dm mbe obe cbe nmp gmc hcpc nmc fmedsci facp mcsi bmbs bmedsci ",
        "msc. bsc. mpharm mrpharms fpharms ip ",
    )
    .split_whitespace()
    .collect()
});

/// Lower-case words that may sit inside a family name.
const PARTICLES: &[&str] = &[
    "van", "von", "de", "da", "del", "della", "di", "du", "le", "la", "der", "den", "bin", "binti",
    "al", "el", "ter", "ten", "dos", "das",
];

struct Tok<'a> {
    start: usize,
    end: usize,
    raw: &'a str,
}

fn tokens(s: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() {
            if let Some(st) = start.take() {
                out.push(Tok {
                    start: st,
                    end: i,
                    raw: &s[st..i],
                });
            }
        } else if start.is_none() {
            start = Some(i);
        }
        if out.len() >= 12 {
            return out;
        }
    }
    if let Some(st) = start {
        out.push(Tok {
            start: st,
            end: s.len(),
            raw: &s[st..],
        });
    }
    out
}

/// The word without the punctuation around it.
fn core(raw: &str) -> &str {
    raw.trim_start_matches(['(', '"', '\u{201c}'])
        .trim_end_matches([',', ';', ':', ')', '"', '\u{201d}'])
}

fn is_name_word(w: &str) -> bool {
    if initials(w).is_some() {
        return true;
    }
    let mut chars = w.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_uppercase()
        && w.chars().count() <= 30
        && w.chars()
            .all(|c| c.is_alphabetic() || matches!(c, '\'' | '\u{2019}' | '-' | '.'))
        && !w.contains("..")
        && !NOT_NAMES.contains(w.trim_end_matches('.').to_lowercase().as_str())
}

fn is_caps(w: &str) -> bool {
    w.chars().filter(|c| c.is_alphabetic()).count() >= 2 && !w.chars().any(char::is_lowercase)
}

/// "J", "J.", "J.A." -> the initials.
fn initials(w: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = w.split('.').filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()
        && parts
            .iter()
            .all(|p| p.chars().count() == 1 && p.chars().all(char::is_uppercase)))
    .then(|| parts.iter().map(|p| (*p).to_owned()).collect())
}

/// Reads a name at the start of `s` (leading spaces allowed). `surname_first` allows
/// "Smith, Jane" in mixed case (labelled patient fields); "SMITH, Jane" is always read
/// surname first.
pub(super) fn parse(s: &str, surname_first: bool) -> Option<PersonName> {
    // An indented name (an address block set to the right) starts after its indent: the
    // wide gap that ends a field is only looked for after it.
    let indent = s.len() - s.trim_start().len();
    let mut name = parse_from(&s[indent..], surname_first)?;
    name.start += indent;
    name.end += indent;
    Some(name)
}

fn parse_from(s: &str, surname_first: bool) -> Option<PersonName> {
    let s = &s[..field_end(s)];
    let toks = tokens(s);
    let mut i = 0;
    let mut name_title = None;
    if let Some(t) = toks.first().and_then(|t| title(core(t.raw))) {
        name_title = Some(t.to_owned());
        i = 1;
    }
    let start = toks.get(i)?.start;
    let mut words: Vec<&str> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    let mut end = start;
    let mut comma_after_first = false;
    while let Some(t) = toks.get(i) {
        let w = core(t.raw);
        if t.raw.starts_with('(') || t.raw.starts_with(['"', '\u{201c}', '\'']) {
            // "(Mrs)" after the name gives the title; "(Bob)" or "Bob" in quotes is a
            // name the patient goes by, not one of their names.
            if let Some(tt) = title(w).filter(|_| t.raw.starts_with('(')) {
                name_title.get_or_insert_with(|| tt.to_owned());
                end = t.end;
                break;
            }
            let closed = t.raw.ends_with([')', '"', '\u{201d}', '\'']) && t.raw.chars().count() > 2;
            if closed && is_name_word(w) && !words.is_empty() {
                i += 1;
                continue;
            }
            break;
        }
        // "van der Berg": particles count when a name word follows them.
        let particle = PARTICLES.contains(&w)
            && toks[i + 1..]
                .iter()
                .map(|n| core(n.raw))
                .find(|n| !PARTICLES.contains(n))
                .is_some_and(is_name_word);
        if !(is_name_word(w) || particle) || words.len() >= 6 {
            break;
        }
        words.push(w.trim_end_matches('.'));
        end = t.start + t.raw.trim_end_matches([',', ';', ':']).len();
        ends.push(end);
        i += 1;
        if t.raw.ends_with([',', ';']) {
            if words.len() == 1 && name_title.is_none() {
                comma_after_first = true;
                continue;
            }
            break;
        }
        if t.raw.ends_with(')') {
            break;
        }
    }
    // Initials come before a family name; trailing ones belong to the next words
    // ("Mrs Pearson I reviewed").
    while words.len() > 1
        && words.last().is_some_and(|w| initials(w).is_some())
        && !comma_after_first
    {
        words.pop();
        ends.pop();
        end = ends.last().copied().unwrap_or(start);
    }
    if words.is_empty() {
        return None;
    }
    let (given_words, family_words) = split_family(&words, comma_after_first, surname_first)?;
    let family = family_words
        .iter()
        .map(|w| soften_caps(w))
        .collect::<Vec<_>>()
        .join(" ");
    let mut given = Vec::new();
    for w in given_words {
        match initials(w) {
            Some(list) if w.chars().count() <= 4 => given.extend(list),
            _ => given.push(soften_caps(w)),
        }
    }
    Some(PersonName {
        title: name_title,
        given,
        family,
        start,
        end,
    })
}

type Split<'a> = (Vec<&'a str>, Vec<&'a str>);

fn split_family<'a>(
    words: &[&'a str],
    comma_after_first: bool,
    surname_first: bool,
) -> Option<Split<'a>> {
    let first = *words.first()?;
    if comma_after_first {
        if words.len() >= 2 && (is_caps(first) || surname_first) {
            return Some((words[1..].to_vec(), vec![first]));
        }
        // "Smith," alone, or mixed case where surname-first is not expected.
        return Some((Vec::new(), vec![first]));
    }
    let caps: Vec<usize> = (0..words.len())
        .filter(|&k| is_caps(words[k]) && initials(words[k]).is_none())
        .collect();
    if !caps.is_empty() && caps.len() < words.len() {
        let (a, b) = (caps[0], caps[caps.len() - 1]);
        if b - a + 1 == caps.len() {
            let mut lo = a;
            while lo > 0 && PARTICLES.contains(&words[lo - 1]) {
                lo -= 1;
            }
            let given = words[..lo].iter().chain(&words[b + 1..]).copied().collect();
            return Some((given, words[lo..=b].to_vec()));
        }
    }
    let mut lo = words.len() - 1;
    while lo > 0 && PARTICLES.contains(&words[lo - 1]) {
        lo -= 1;
    }
    // A family name is never a bare initial.
    if initials(words[words.len() - 1]).is_some() {
        return None;
    }
    Some((words[..lo].to_vec(), words[lo..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (Option<String>, Vec<String>, String) {
        let n = parse(s, true).unwrap();
        (n.title, n.given, n.family)
    }

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_usual_styles_give_title_given_and_family_names() {
        assert_eq!(
            p("Mrs Sandra Louise PEARSON"),
            (
                Some("Mrs".into()),
                v(&["Sandra", "Louise"]),
                "Pearson".into()
            )
        );
        assert_eq!(
            p("YILMAZ, Ayse (Mrs)"),
            (Some("Mrs".into()), v(&["Ayse"]), "Yilmaz".into())
        );
        assert_eq!(p("Smith, Jane"), (None, v(&["Jane"]), "Smith".into()));
        assert_eq!(
            p("Mrs J A Smith"),
            (Some("Mrs".into()), v(&["J", "A"]), "Smith".into())
        );
        assert_eq!(
            p("Mrs J. Smith"),
            (Some("Mrs".into()), v(&["J"]), "Smith".into())
        );
        assert_eq!(
            p("Jane Smith (Mrs)"),
            (Some("Mrs".into()), v(&["Jane"]), "Smith".into())
        );
        assert_eq!(
            p("Mrs Kathleen Mary O'SULLIVAN, date of birth"),
            (
                Some("Mrs".into()),
                v(&["Kathleen", "Mary"]),
                "O'Sullivan".into()
            )
        );
        assert_eq!(
            p("Mr Paul Richard DEAKIN   DOB 09/01/1959"),
            (Some("Mr".into()), v(&["Paul", "Richard"]), "Deakin".into())
        );
        assert_eq!(
            p("Ms Anna van der Berg"),
            (Some("Ms".into()), v(&["Anna"]), "van der Berg".into())
        );
        assert_eq!(
            p("Mr Dean FOSTER, DOB 25/05/1973"),
            (Some("Mr".into()), v(&["Dean"]), "Foster".into())
        );
    }

    #[test]
    fn a_nickname_in_brackets_or_quotes_is_not_a_given_name() {
        assert_eq!(
            p("Mr Francis (Frank) McALLISTER, DOB"),
            (Some("Mr".into()), v(&["Francis"]), "McALLISTER".into())
        );
        assert_eq!(
            p("Mr Robert \"Bob\" Smith"),
            (Some("Mr".into()), v(&["Robert"]), "Smith".into())
        );
    }

    #[test]
    fn an_indented_name_is_read_with_its_offsets() {
        let line = "                              Mrs Jo Ann HART";
        let n = parse(line, false).unwrap();
        assert_eq!(n.family, "Hart");
        assert_eq!(n.given, v(&["Jo", "Ann"]));
        assert_eq!(&line[n.start..n.end], "Jo Ann HART");
    }

    #[test]
    fn a_title_and_surname_alone_is_a_name() {
        assert_eq!(
            p("Mrs Pearson in the clinic"),
            (Some("Mrs".into()), v(&[]), "Pearson".into())
        );
    }

    #[test]
    fn words_that_are_not_names_stop_the_name() {
        assert!(parse("Referral for CBT", true).is_none());
        assert_eq!(
            parse("Dr Claire Whitfield, Otley Road Surgery", false)
                .unwrap()
                .display(),
            "Dr Claire Whitfield"
        );
    }
}
