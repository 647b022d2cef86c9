//! Plain text: which encoding the bytes are in, and their characters.
//!
//! Clinic systems write UTF-8 (often with a BOM), UTF-16 with a BOM (Windows
//! "Unicode" saves) or Windows-1252 (older systems: `£` is 0xA3, `’` is 0x92).
//! Latin-1 text is Windows-1252 text for every printable byte, so one fallback
//! covers both. Decoding is by content alone; a declared charset is not trusted.

use std::borrow::Cow;

use encoding_rs::{UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::DocumentError;

/// Bytes that Windows-1252 leaves undefined: real 1252 text never has them, so
/// their presence means the bytes are not text in that encoding.
const UNDEFINED_1252: [u8; 5] = [0x81, 0x8D, 0x8F, 0x90, 0x9D];

/// The characters of `bytes` as plain text.
///
/// # Errors
/// [`DocumentError::Corrupt`] when the bytes are not text in any accepted encoding
/// (binary data sent as `text/plain`).
pub(super) fn decode(bytes: &[u8]) -> Result<String, DocumentError> {
    match decode_any(bytes) {
        Some(text) if !has_binary_controls(&text) => Ok(text.into_owned()),
        _ => Err(DocumentError::Corrupt("text")),
    }
}

/// True if `bytes` decode as text with no control characters a text file would not
/// hold. Used by `sniff`, so it must be cheap and never allocate needlessly.
pub(super) fn looks_like_text(bytes: &[u8]) -> bool {
    decode_any(bytes).is_some_and(|text| !has_binary_controls(&text))
}

/// The characters of `bytes` by BOM, else UTF-8 if valid, else Windows-1252; `None`
/// for malformed UTF-16 or bytes that 1252 leaves undefined.
pub(super) fn decode_any(bytes: &[u8]) -> Option<Cow<'_, str>> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest).ok().map(Cow::Borrowed);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return UTF_16LE.decode_without_bom_handling_and_without_replacement(rest);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return UTF_16BE.decode_without_bom_handling_and_without_replacement(rest);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(Cow::Borrowed(text));
    }
    if bytes.iter().any(|b| UNDEFINED_1252.contains(b)) {
        return None;
    }
    Some(WINDOWS_1252.decode_without_bom_handling(bytes).0)
}

/// Control characters other than tab, CR, LF and form feed (which letters use) mark
/// binary data: NUL above all, which no text encoding accepted here produces.
fn has_binary_controls(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n' | '\u{c}'))
}

#[cfg(test)]
mod tests {
    use super::super::{DocumentKind, Limits, to_text};
    use super::*;

    fn read(bytes: &[u8]) -> String {
        to_text(bytes, DocumentKind::Text, &Limits::default())
            .unwrap()
            .text
    }

    #[test]
    fn windows_1252_quotes_and_pound_sign_become_utf8() {
        assert_eq!(
            read(b"Patient\x92s fee \xA33 \x93ok\x94"),
            "Patient’s fee £3 “ok”"
        );
    }

    #[test]
    fn utf8_bom_is_stripped() {
        assert_eq!(read("\u{feff}Dear Dr Khan".as_bytes()), "Dear Dr Khan");
    }

    #[test]
    fn utf16_with_either_bom_is_decoded() {
        let le: Vec<u8> = b"\xFF\xFE"
            .iter()
            .copied()
            .chain("Café £".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = b"\xFE\xFF"
            .iter()
            .copied()
            .chain("Café £".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(read(&le), "Café £");
        assert_eq!(read(&be), "Café £");
    }

    #[test]
    fn line_ends_become_lf_and_form_feeds_split_pages() {
        let t = to_text(
            b"one\r\ntwo\rthree\x0cpage two\n",
            DocumentKind::Text,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(t.text, "one\ntwo\nthree\x0cpage two\n");
        assert_eq!(t.pages, vec![0..13, 14..23]);
        assert_eq!(&t.text[t.pages[1].clone()], "page two\n");
    }

    #[test]
    fn binary_declared_as_text_is_corrupt() {
        let err = to_text(b"abc\x00\x01def", DocumentKind::Text, &Limits::default());
        assert_eq!(err.unwrap_err(), DocumentError::Corrupt("text"));
    }

    #[test]
    fn malformed_utf16_is_corrupt() {
        // An unpaired high surrogate.
        let err = to_text(b"\xFF\xFE\x00\xD8", DocumentKind::Text, &Limits::default());
        assert_eq!(err.unwrap_err(), DocumentError::Corrupt("text"));
    }

    #[test]
    fn text_over_the_character_limit_is_too_large() {
        let limits = Limits {
            max_text_chars: 5,
            ..Limits::default()
        };
        let err = to_text(b"123456", DocumentKind::Text, &limits);
        assert_eq!(err.unwrap_err(), DocumentError::TooLarge);
        assert!(to_text(b"12345", DocumentKind::Text, &limits).is_ok());
    }
}
