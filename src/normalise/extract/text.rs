//! Line-level helpers shared by the field readers: lines with their byte offsets, wide
//! gaps that separate fields laid out on one line, and small word tests.
//!
//! Every offset here is a byte offset into the letter as received, so provenance spans
//! point at the original text. Nothing here slices a string except at char boundaries.

/// One line of the letter, without its line ending.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line<'a> {
    pub start: usize,
    pub text: &'a str,
}

impl Line<'_> {
    pub fn end(&self) -> usize {
        self.start + self.text.len()
    }

    pub fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// Leading whitespace width in bytes.
    pub fn indent(&self) -> usize {
        self.text.len() - self.text.trim_start().len()
    }
}

/// Splits on `\n`, dropping a trailing `\r`.
pub(super) fn split_lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split('\n') {
        let body = piece.strip_suffix('\r').unwrap_or(piece);
        out.push(Line { start, text: body });
        start += piece.len() + 1;
    }
    out
}

/// The end (exclusive, relative to `s`) of the field value starting at the beginning of
/// `s`: the next run of three or more spaces, a tab, or the end of the line. Letters lay
/// several fields on one line separated by wide gaps ("DOB 09/01/1959   NHS 999...").
pub(super) fn field_end(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'\r' | b'\t' => return i,
            b' ' if bytes[i..].starts_with(b"   ") || bytes[i..].starts_with(b" | ") => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Number of whitespace-separated words.
pub(super) fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

/// True when `s` has a run of three or more spaces or a tab after its indentation.
pub(super) fn has_wide_gap(s: &str) -> bool {
    let t = s.trim();
    t.contains("   ") || t.contains('\t')
}

/// Title-cases a word written in capitals ("O'SULLIVAN" -> "O'Sullivan"); other words are
/// returned as written.
pub(super) fn soften_caps(word: &str) -> String {
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    let is_caps = letters >= 2 && word.chars().all(|c| !c.is_lowercase());
    if !is_caps {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len());
    let mut upper_next = true;
    for c in word.chars() {
        if upper_next {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper_next = matches!(c, '\'' | '\u{2019}' | '-' | ' ');
    }
    out
}

/// Upper-cases the first letter ("chronic low back pain" -> "Chronic low back pain").
pub(super) fn capitalise_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Text trimmed of spaces and the punctuation that ends a phrase.
pub(super) fn trim_phrase(s: &str) -> &str {
    s.trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '-' | '?' | '!')
    })
}

/// The byte offset of `sub` inside `outer` when `sub` is a slice of it.
pub(super) fn offset_in(outer: &str, sub: &str) -> usize {
    (sub.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// Cuts `s` to at most `max` bytes on a char boundary (record text fields are bounded).
pub(super) fn bounded(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last `n` bytes of `s` (fewer if that would split a character).
pub(super) fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The first `n` bytes of `s` (fewer if that would split a character).
pub(super) fn head(s: &str, n: usize) -> &str {
    bounded(s, n)
}

/// Sentences of prose with their offsets: split after `.`, `?` or `!` followed by a
/// space, and at line breaks (wrapped prose has none left in the flat text).
pub(super) fn sentences(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ends = match b {
            b'\n' => true,
            b'.' | b'?' | b'!' => bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()),
            _ => false,
        };
        if ends {
            if let Some(piece) = s.get(start..=i)
                && !piece.trim().is_empty()
            {
                out.push((start, piece));
            }
            start = i + 1;
        }
    }
    if let Some(piece) = s.get(start..)
        && !piece.trim().is_empty()
    {
        out.push((start, piece));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_their_offsets_and_drop_carriage_returns() {
        let text = "ab\r\ncd\n\nef";
        let lines = split_lines(text);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1].text, "cd");
        assert_eq!(&text[lines[3].start..lines[3].end()], "ef");
        assert!(lines[2].is_blank());
    }

    #[test]
    fn field_values_end_at_a_wide_gap() {
        assert_eq!(field_end("09/01/1959   NHS 999"), 10);
        assert_eq!(field_end("Jane Smith"), 10);
    }

    #[test]
    fn capitals_are_softened_but_mixed_case_is_kept() {
        assert_eq!(soften_caps("O'SULLIVAN"), "O'Sullivan");
        assert_eq!(soften_caps("SMITH-JONES"), "Smith-Jones");
        assert_eq!(soften_caps("McDonald"), "McDonald");
        assert_eq!(soften_caps("J"), "J");
    }

    #[test]
    fn bounded_text_never_splits_a_character() {
        assert_eq!(bounded("aé", 2), "a");
    }
}
