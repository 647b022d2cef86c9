//! RTF: the text of the body, headers and footers.
//!
//! Written here because the one maintained crate (`rtf-parser` 0.4) takes `&str`, so
//! it cannot honour `\ansicpg` or `\fcharset` for `\'hh` bytes, and it is known to
//! panic on malformed input (d0rianb/rtf-parser#18). This reader is one forward pass
//! over the bytes with a group stack capped at [`MAX_DEPTH`], so time is linear and
//! memory is the text plus the stack.
//!
//! Follows the RTF 1.9.1 specification: `\par`, `\line`, `\sect`, `\page` and `\row`
//! end lines, `\tab` and `\cell` give tabs; `\'hh` bytes decode in the current font's
//! charset or else the document's `\ansicpg` (Windows-1252 by default); `\uN` gives a
//! character and skips the `\ucN` fallback characters after it. Destinations that
//! hold no body text (`{\*...}`, font, colour and style tables, `\info`, `\pict`,
//! field instructions and the like) are skipped.

use std::collections::HashMap;

use encoding_rs::{Encoding, WINDOWS_1252};

use super::{DocumentError, Limits, Sink};

/// Deepest group nesting accepted. Real documents nest a few tens deep; a deeper
/// file is malformed or built to exhaust memory.
const MAX_DEPTH: usize = 256;

/// Destinations whose content is not letter text, space-separated.
const SKIPPED: &str = "fonttbl colortbl stylesheet info pict object fldinst listtable \
    listoverridetable revtbl rsidtbl generator xmlnstbl themedata colorschememapping \
    latentstyles datastore filetbl pgdsctbl bkmkstart bkmkend nonshppict shpinst";

#[derive(Clone, Copy)]
struct Group {
    skip: bool,
    /// Fallback characters after `\uN`, from `\ucN`.
    uc: u32,
    encoding: &'static Encoding,
    /// Inside `{\fonttbl ...}`: `\fN` and `\fcharsetN` define fonts, not select them.
    font_table: bool,
}

struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
    out: Sink,
    stack: Vec<Group>,
    group: Group,
    /// The document's `\ansicpg`: the encoding of fonts without a charset.
    ansi: &'static Encoding,
    fonts: HashMap<i32, &'static Encoding>,
    /// The font `\fN` being defined in the font table.
    defining_font: Option<i32>,
    /// `\'hh` bytes not yet decoded: double-byte code pages need them in pairs.
    bytes: Vec<u8>,
    /// Fallback characters still to skip after a `\uN`.
    skip_fallback: u32,
    /// A high surrogate from `\uN`, waiting for its low half.
    high_surrogate: Option<u16>,
    /// Set at the first control word of a group, where destinations are named.
    group_start: bool,
}

/// The text of an RTF document.
///
/// # Errors
/// [`DocumentError::Corrupt`] if it does not start with `{\rtf`, nests deeper than
/// [`MAX_DEPTH`] or ends inside a group; [`DocumentError::TooLarge`] past the
/// character limit.
pub(super) fn to_text(bytes: &[u8], limits: &Limits) -> Result<String, DocumentError> {
    let src = super::skip_bom_and_space(bytes);
    if !src.starts_with(b"{\\rtf") {
        return Err(DocumentError::Corrupt("rtf"));
    }
    let group = Group {
        skip: false,
        uc: 1,
        encoding: WINDOWS_1252,
        font_table: false,
    };
    let mut r = Reader {
        src,
        pos: 0,
        out: Sink::new(limits),
        stack: Vec::new(),
        group,
        ansi: WINDOWS_1252,
        fonts: HashMap::new(),
        defining_font: None,
        bytes: Vec::new(),
        skip_fallback: 0,
        high_surrogate: None,
        group_start: false,
    };
    r.run()?;
    Ok(r.out.text)
}

impl Reader<'_> {
    fn run(&mut self) -> Result<(), DocumentError> {
        while let Some(&b) = self.src.get(self.pos) {
            self.pos += 1;
            match b {
                b'{' => self.open()?,
                b'}' => {
                    if self.close()? {
                        return Ok(());
                    }
                }
                b'\\' => self.control()?,
                // Line ends in RTF source are formatting of the file, not of the text.
                b'\r' | b'\n' => {}
                _ => self.byte(b)?,
            }
        }
        // The outermost group never closed: the file is truncated.
        Err(DocumentError::Corrupt("rtf"))
    }

    fn open(&mut self) -> Result<(), DocumentError> {
        self.flush()?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(DocumentError::Corrupt("rtf"));
        }
        self.stack.push(self.group);
        self.group_start = true;
        self.skip_fallback = 0;
        Ok(())
    }

    /// Ends a group; true when it was the outermost one (the end of the document).
    fn close(&mut self) -> Result<bool, DocumentError> {
        self.flush()?;
        self.skip_fallback = 0;
        self.group_start = false;
        if self.group.font_table {
            self.defining_font = None;
        }
        match self.stack.pop() {
            Some(outer) => {
                self.group = outer;
                Ok(self.stack.is_empty())
            }
            None => Err(DocumentError::Corrupt("rtf")),
        }
    }

    fn control(&mut self) -> Result<(), DocumentError> {
        let Some(&c) = self.src.get(self.pos) else {
            return Err(DocumentError::Corrupt("rtf"));
        };
        if !c.is_ascii_alphabetic() {
            self.pos += 1;
            return self.symbol(c);
        }
        let start = self.pos;
        // The specification caps control words at 32 letters and parameters at
        // 10 digits; longer runs are left as text rather than read without bound.
        while self.pos < self.src.len()
            && self.src[self.pos].is_ascii_alphabetic()
            && self.pos - start < 32
        {
            self.pos += 1;
        }
        let word = &self.src[start..self.pos];
        let param = self.parameter();
        // One space after a control word delimits it and is not text.
        if self.src.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        let first = std::mem::replace(&mut self.group_start, false);
        if first
            && SKIPPED
                .split_ascii_whitespace()
                .any(|d| d.as_bytes() == word)
        {
            self.group.skip = true;
        }
        if word == b"fonttbl" {
            self.group.font_table = true;
        }
        if word == b"bin" {
            // Raw binary data: skip it whole so its bytes are not read as RTF.
            let n = usize::try_from(param.unwrap_or(0)).unwrap_or(0);
            self.pos = self.pos.saturating_add(n).min(self.src.len());
            return Ok(());
        }
        self.word(word, param)
    }

    fn parameter(&mut self) -> Option<i32> {
        let start = self.pos;
        if self.src.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.pos < self.src.len()
            && self.src[self.pos].is_ascii_digit()
            && self.pos - digits < 10
        {
            self.pos += 1;
        }
        if self.pos == digits {
            self.pos = start;
            return None;
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).ok()?;
        text.parse::<i64>()
            .ok()
            .map(|v| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }

    fn symbol(&mut self, c: u8) -> Result<(), DocumentError> {
        self.group_start = false;
        match c {
            b'\\' | b'{' | b'}' => self.byte(c),
            b'\'' => {
                let hex = self.src.get(self.pos..self.pos + 2);
                let value = hex
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match value {
                    Some(v) => {
                        self.pos += 2;
                        self.byte(v)
                    }
                    None => Err(DocumentError::Corrupt("rtf")),
                }
            }
            b'*' => {
                self.group.skip = true;
                Ok(())
            }
            b'~' => self.char('\u{a0}'),
            b'_' => self.char('\u{2011}'),
            // A backslash before a line end is a paragraph mark.
            b'\n' | b'\r' => self.char('\n'),
            // Optional hyphen, index marks and anything unknown carry no text.
            _ => Ok(()),
        }
    }

    fn word(&mut self, word: &[u8], param: Option<i32>) -> Result<(), DocumentError> {
        match word {
            b"par" | b"line" | b"sect" | b"page" => self.char('\n'),
            b"row" => {
                self.flush()?;
                self.out.pop_if('\t');
                self.char('\n')
            }
            b"tab" | b"cell" => self.char('\t'),
            b"emdash" => self.char('—'),
            b"endash" => self.char('–'),
            b"bullet" => self.char('•'),
            b"lquote" => self.char('‘'),
            b"rquote" => self.char('’'),
            b"ldblquote" => self.char('“'),
            b"rdblquote" => self.char('”'),
            b"emspace" | b"enspace" | b"qmspace" => self.char(' '),
            b"uc" => {
                self.group.uc = param.map_or(1, |n| n.clamp(0, 16) as u32);
                Ok(())
            }
            b"u" => self.unicode(param.unwrap_or(0)),
            b"ansicpg" => {
                self.ansi = param.and_then(codepage).unwrap_or(WINDOWS_1252);
                self.group.encoding = self.ansi;
                Ok(())
            }
            b"f" => {
                let Some(n) = param else { return Ok(()) };
                if self.group.font_table {
                    self.defining_font = Some(n);
                } else {
                    self.flush()?;
                    self.group.encoding = self.fonts.get(&n).copied().unwrap_or(self.ansi);
                }
                Ok(())
            }
            b"fcharset" => {
                if let (Some(font), Some(enc)) = (self.defining_font, param.and_then(charset)) {
                    self.fonts.insert(font, enc);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn unicode(&mut self, n: i32) -> Result<(), DocumentError> {
        self.flush()?;
        // RTF writes code points above 32767 as negative 16-bit values.
        let unit = if n < 0 { n + 65536 } else { n };
        let unit = u16::try_from(unit).unwrap_or(0xFFFD);
        if (0xD800..0xDC00).contains(&unit) {
            self.high_surrogate = Some(unit);
        } else {
            let c = match self.high_surrogate.take() {
                Some(high) if (0xDC00..0xE000).contains(&unit) => {
                    char::decode_utf16([high, unit]).next().and_then(Result::ok)
                }
                _ => char::from_u32(u32::from(unit)),
            };
            self.char(c.unwrap_or('\u{fffd}'))?;
        }
        self.skip_fallback = self.group.uc;
        Ok(())
    }

    /// A text byte (literal or `\'hh`) in the current encoding.
    fn byte(&mut self, b: u8) -> Result<(), DocumentError> {
        self.group_start = false;
        if self.skip_fallback > 0 {
            self.skip_fallback -= 1;
            return Ok(());
        }
        if self.group.skip {
            return Ok(());
        }
        if self.group.font_table {
            return Ok(());
        }
        if b == b'\t' {
            return self.char('\t');
        }
        if b < 0x20 {
            return Ok(());
        }
        // Held until the next non-byte event: double-byte code pages need both bytes
        // of a pair to decode. The buffer is never longer than the input.
        self.bytes.push(b);
        Ok(())
    }

    fn char(&mut self, c: char) -> Result<(), DocumentError> {
        self.flush()?;
        self.skip_fallback = 0;
        if self.group.skip {
            return Ok(());
        }
        self.out.push(c)
    }

    fn flush(&mut self) -> Result<(), DocumentError> {
        if self.bytes.is_empty() {
            return Ok(());
        }
        let decoded = self
            .group
            .encoding
            .decode_without_bom_handling(&self.bytes)
            .0;
        let result = self.out.push_str(&decoded);
        self.bytes.clear();
        result
    }
}

/// The encoding of a Windows code page number, as `\ansicpg` gives it.
fn codepage(cp: i32) -> Option<&'static Encoding> {
    let label = match cp {
        874 => "windows-874",
        932 => "shift_jis",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        1250..=1258 => return Encoding::for_label(format!("windows-{cp}").as_bytes()),
        10000 => "macintosh",
        65001 => "utf-8",
        _ => return None,
    };
    Encoding::for_label(label.as_bytes())
}

/// The encoding of a font's `\fcharsetN` (RTF specification, font table).
fn charset(n: i32) -> Option<&'static Encoding> {
    // 0 (ANSI) and 1 (default) mean the document's own code page.
    codepage(match n {
        77 => 10000,
        128 => 932,
        129 => 949,
        134 => 936,
        136 => 950,
        161 => 1253,
        162 => 1254,
        163 => 1258,
        177 => 1255,
        178 => 1256,
        186 => 1257,
        204 => 1251,
        222 => 874,
        238 => 1250,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{DocumentKind, to_text as read_document};
    use super::*;

    fn read(rtf: &str) -> Result<String, DocumentError> {
        read_document(rtf.as_bytes(), DocumentKind::Rtf, &Limits::default()).map(|t| t.text)
    }

    #[test]
    fn paragraphs_escapes_unicode_and_skipped_destinations_give_exact_text() {
        let rtf = r"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Arial;}{\f1 Times;}}
{\colortbl;\red0\green0\blue0;}{\*\generator Riched20 10.0.19041}{\info{\author Dr X}}
\viewkind4\uc1\pard\f0\fs22 Dear Dr Khan,\par
Re: Ren\'e9e Smith\'92s referral\par
She said \u8217?fine\u8217? and {\b improving}\tab today.\line
{\*\bkmkstart x}Fee \'a3\{30\}\par
{\pict\wmetafile8 0a0b0c0d}}";
        assert_eq!(
            read(rtf).unwrap(),
            "Dear Dr Khan,\nRe: Renée Smith’s referral\nShe said ’fine’ and improving\ttoday.\nFee £{30}"
        );
    }

    #[test]
    fn uc_skips_its_fallback_and_surrogate_pairs_combine() {
        let rtf = r"{\rtf1{\uc2 caf\u233\'65\'3f!}\u-10179?\u-8704?}";
        assert_eq!(read(rtf).unwrap(), "café!😀");
    }

    #[test]
    fn font_charsets_and_code_pages_decode_hex_bytes() {
        let rtf = r"{\rtf1\ansi\ansicpg1250{\fonttbl{\f0 Arial;}{\f1\fcharset204 Arial Cyr;}}\f0 \'a3ukasz {\f1 \'cf\'e5\'f2\'f0}\par}";
        assert_eq!(read(rtf).unwrap(), "Łukasz Петр");
    }

    #[test]
    fn table_cells_are_tab_separated() {
        let rtf = r"{\rtf1\trowd\cellx100\cellx200 Drug\cell Dose\cell\row Sertraline\cell 50 mg\cell\row}";
        assert_eq!(read(rtf).unwrap(), "Drug\tDose\nSertraline\t50 mg");
    }

    #[test]
    fn deep_nesting_is_corrupt() {
        let rtf = format!("{{\\rtf1 {}x{}}}", "{".repeat(300), "}".repeat(300));
        assert_eq!(read(&rtf).unwrap_err(), DocumentError::Corrupt("rtf"));
        let ok = format!("{{\\rtf1 {}x{}}}", "{".repeat(200), "}".repeat(200));
        assert_eq!(read(&ok).unwrap(), "x");
    }

    #[test]
    fn truncated_and_non_rtf_input_is_corrupt() {
        assert_eq!(
            read(r"{\rtf1 Dear Dr").unwrap_err(),
            DocumentError::Corrupt("rtf")
        );
        assert_eq!(read("Dear Dr").unwrap_err(), DocumentError::Corrupt("rtf"));
        assert_eq!(
            read(r"{\rtf1 x\'4").unwrap_err(),
            DocumentError::Corrupt("rtf")
        );
    }

    #[test]
    fn bin_data_is_skipped_whole() {
        assert_eq!(read("{\\rtf1 a{\\*\\blob\\bin3 }{\\}b}").unwrap(), "ab");
        assert_eq!(read("{\\rtf1 a\\bin3 }{\\b}").unwrap(), "ab");
    }
}
