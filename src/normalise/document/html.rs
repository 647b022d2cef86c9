//! HTML: the text a reader would see.
//!
//! A single-pass tokenizer, not a DOM: a letter needs its visible text and line
//! structure only, and a tree builder (html5ever) would add a large dependency and
//! memory proportional to the markup. Script, style and head content is dropped;
//! block elements and `<br>` end lines; table cells are separated by tabs and rows by
//! newlines; entities are decoded. Whitespace collapses as a browser collapses it,
//! except inside `<pre>`. Every step moves forward, so time is linear in the input.

use super::text::decode_any;
use super::{DocumentError, Limits, Sink};

/// Elements that start and end a line when rendered.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "caption",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// Elements whose content is never shown; their end tag is searched for directly,
/// because script and style content is not markup.
const HIDDEN: &[&str] = &["script", "style", "template", "title", "noscript"];

/// True if `start` (after BOM and whitespace) opens like an HTML document.
pub(super) fn looks_like_html(start: &[u8]) -> bool {
    let mut rest = start;
    // XHTML may open with an XML declaration and comments before the doctype.
    for _ in 0..8 {
        let lower = lowercase_prefix(rest, 16);
        let skip = if lower.starts_with(b"<?xml") {
            super::find(rest, b"?>").map(|i| i + 2)
        } else if lower.starts_with(b"<!--") {
            super::find(rest, b"-->").map(|i| i + 3)
        } else {
            break;
        };
        let Some(skip) = skip else { return false };
        rest = super::skip_bom_and_space(&rest[skip..]);
    }
    let lower = lowercase_prefix(rest, 16);
    const OPENINGS: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<body",
        b"<meta",
        b"<title",
        b"<p>",
        b"<p ",
        b"<div",
        b"<table",
        b"<br",
        b"<span",
        b"<font",
    ];
    OPENINGS.iter().any(|o| lower.starts_with(o))
        || (lower.len() >= 4 && lower.starts_with(b"<h") && lower[2].is_ascii_digit())
}

fn lowercase_prefix(bytes: &[u8], n: usize) -> Vec<u8> {
    bytes[..bytes.len().min(n)].to_ascii_lowercase()
}

/// The visible text of an HTML document.
///
/// # Errors
/// [`DocumentError::Corrupt`] if the bytes are not text; [`DocumentError::TooLarge`]
/// past the character limit.
pub(super) fn to_text(bytes: &[u8], limits: &Limits) -> Result<String, DocumentError> {
    let source = decode_any(bytes).ok_or(DocumentError::Corrupt("html"))?;
    let mut r = Renderer {
        out: Sink::new(limits),
        pre: 0,
        in_head: false,
        row_has_cell: false,
        pending_space: false,
    };
    r.run(&source)?;
    Ok(r.out.text)
}

struct Renderer {
    out: Sink,
    /// Depth of open `<pre>` elements: whitespace is kept inside them.
    pre: u32,
    in_head: bool,
    row_has_cell: bool,
    /// Collapsed whitespace not yet written: it becomes one space before the next
    /// visible character, and vanishes at a line start.
    pending_space: bool,
}

impl Renderer {
    fn run(&mut self, s: &str) -> Result<(), DocumentError> {
        let mut i = 0;
        while let Some(offset) = s[i..].find(['<', '&']) {
            self.text(&s[i..i + offset])?;
            i += offset;
            i = if s[i..].starts_with('&') {
                self.entity(s, i)?
            } else {
                self.markup(s, i)?
            };
        }
        self.text(&s[i..])
    }

    /// Handles the markup at `s[i] == '<'` and returns where to continue.
    fn markup(&mut self, s: &str, i: usize) -> Result<usize, DocumentError> {
        let rest = &s[i..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            return Ok(comment.find("-->").map_or(s.len(), |j| i + 4 + j + 3));
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            return Ok(rest.find('>').map_or(s.len(), |j| i + j + 1));
        }
        let closing = rest.starts_with("</");
        let name_start = if closing { 2 } else { 1 };
        let name_len = rest[name_start..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 || !rest.as_bytes()[name_start].is_ascii_alphabetic() {
            // "a < b" in text: a browser shows the '<'.
            self.text("<")?;
            return Ok(i + 1);
        }
        let name = rest[name_start..name_start + name_len].to_ascii_lowercase();
        let end = i + tag_end(&rest[name_start + name_len..])
            .map_or(rest.len(), |j| name_start + name_len + j + 1);
        if !closing && HIDDEN.contains(&name.as_str()) {
            return Ok(skip_element(s, end, &name));
        }
        if closing {
            self.close(&name)?;
        } else {
            self.open(&name)?;
        }
        Ok(end)
    }

    fn open(&mut self, name: &str) -> Result<(), DocumentError> {
        match name {
            "head" => self.in_head = true,
            "body" => self.in_head = false,
            "br" => {
                self.pending_space = false;
                self.out.push('\n')?;
            }
            "td" | "th" => {
                self.pending_space = false;
                if self.row_has_cell {
                    self.out.push('\t')?;
                }
                self.row_has_cell = true;
            }
            _ if BLOCKS.contains(&name) => {
                if name == "tr" {
                    self.row_has_cell = false;
                }
                if name == "pre" {
                    self.pre += 1;
                }
                self.block_break()?;
            }
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, name: &str) -> Result<(), DocumentError> {
        match name {
            "head" => self.in_head = false,
            _ if BLOCKS.contains(&name) => {
                if name == "pre" {
                    self.pre = self.pre.saturating_sub(1);
                }
                self.block_break()?;
            }
            _ => {}
        }
        Ok(())
    }

    fn block_break(&mut self) -> Result<(), DocumentError> {
        self.pending_space = false;
        self.out.line_break()
    }

    /// Decodes the reference at `s[i] == '&'` and returns where to continue.
    fn entity(&mut self, s: &str, i: usize) -> Result<usize, DocumentError> {
        // Longest named reference used here is 7 letters; numeric ones are short too.
        let rest = &s[i + 1..];
        let len = rest
            .bytes()
            .take(12)
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'#')
            .count();
        let body = &rest[..len];
        let semi = rest[len..].starts_with(';');
        let decoded = match body.strip_prefix('#') {
            Some(num) => numeric_reference(num),
            None if semi => named_reference(body),
            None => None,
        };
        match decoded {
            Some(c) => {
                self.char(c)?;
                Ok(i + 1 + len + usize::from(semi))
            }
            None => {
                self.text("&")?;
                Ok(i + 1)
            }
        }
    }

    /// Writes character data, collapsing whitespace outside `<pre>`.
    fn text(&mut self, t: &str) -> Result<(), DocumentError> {
        t.chars().try_for_each(|c| self.char(c))
    }

    fn char(&mut self, c: char) -> Result<(), DocumentError> {
        if self.in_head {
            return Ok(());
        }
        if self.pre > 0 {
            return self.out.push(c);
        }
        if matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}') {
            self.pending_space = true;
            return Ok(());
        }
        if self.pending_space && !self.out.text.is_empty() && !self.at_line_or_cell_start() {
            self.out.push(' ')?;
        }
        self.pending_space = false;
        self.out.push(c)
    }

    fn at_line_or_cell_start(&self) -> bool {
        self.out.ends_with('\n') || self.out.ends_with('\t')
    }
}

/// The index of the `>` that ends a tag, skipping quoted attribute values (which may
/// hold `>`).
fn tag_end(attrs: &str) -> Option<usize> {
    let mut quote = None;
    for (j, b) in attrs.bytes().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return Some(j),
            _ => {}
        }
    }
    None
}

/// Where the content of a hidden element (from `from`) ends: after its end tag, or
/// at the end of input if it is never closed (nothing after it would be shown).
/// The search never looks back, so many hidden elements still cost linear time.
fn skip_element(s: &str, from: usize, name: &str) -> usize {
    let mut at = from;
    while let Some(j) = s[at..].find("</") {
        let name_at = at + j + 2;
        let candidate = s.as_bytes().get(name_at..name_at + name.len());
        let after = name_at + name.len();
        let whole_name = !s
            .as_bytes()
            .get(after)
            .is_some_and(u8::is_ascii_alphanumeric);
        if whole_name && candidate.is_some_and(|c| c.eq_ignore_ascii_case(name.as_bytes())) {
            return s[after..].find('>').map_or(s.len(), |k| after + k + 1);
        }
        at = name_at;
    }
    s.len()
}

/// `&#NNN;` and `&#xHH;`. As browsers do, 128–159 mean their Windows-1252
/// characters (`&#146;` is a right quote), and invalid code points become U+FFFD.
fn numeric_reference(num: &str) -> Option<char> {
    let value = match num.strip_prefix(['x', 'X']) {
        Some(hex) if !hex.is_empty() && hex.len() <= 8 => u32::from_str_radix(hex, 16).ok()?,
        Some(_) => return None,
        None if !num.is_empty() && num.len() <= 8 => num.parse().ok()?,
        None => return None,
    };
    if (0x80..=0x9F).contains(&value) {
        let byte = [u8::try_from(value).ok()?];
        return encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(&byte)
            .0
            .chars()
            .next();
    }
    Some(
        char::from_u32(value)
            .filter(|c| *c != '\0')
            .unwrap_or('\u{fffd}'),
    )
}

/// The named references clinic exports use. An unknown name stays as written,
/// which loses nothing a reader could not recover.
fn named_reference(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "pound" => '£',
        "euro" => '€',
        "copy" => '©',
        "reg" => '®',
        "deg" => '°',
        "plusmn" => '±',
        "micro" => 'µ',
        "middot" => '·',
        "bull" => '•',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "frac12" => '½',
        "frac14" => '¼',
        "frac34" => '¾',
        "times" => '×',
        "eacute" => 'é',
        "egrave" => 'è',
        "aacute" => 'á',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "auml" => 'ä',
        "ccedil" => 'ç',
        "ntilde" => 'ñ',
        "szlig" => 'ß',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{DocumentKind, to_text as read_document};
    use super::*;

    fn read(html: &str) -> String {
        read_document(html.as_bytes(), DocumentKind::Html, &Limits::default())
            .unwrap()
            .text
    }

    #[test]
    fn script_style_and_head_are_dropped_and_blocks_end_lines() {
        let html = "<!DOCTYPE html><html><head><title>Letter</title>\
            <style>p { color: red }</style></head><body>\
            <script>if (a < b) { alert('x'); }</script>\
            <p>Dear   Dr\n Khan,</p><div>Re: Ms A <b>Patient</b></div>\
            Line one<br>Line two<br/><br>After gap</body></html>";
        assert_eq!(
            read(html),
            "Dear Dr Khan,\nRe: Ms A Patient\nLine one\nLine two\n\nAfter gap"
        );
    }

    #[test]
    fn entities_are_decoded() {
        let html = "<p>Fee &pound;30 &amp; &lt;b&gt; &quot;ok&quot; &#39;x&#39; a&nbsp;b \
            &#8217; &#x2014; &#146; &unknown; AT&T</p>";
        assert_eq!(
            read(html),
            "Fee £30 & <b> \"ok\" 'x' a\u{a0}b ’ — ’ &unknown; AT&T"
        );
    }

    #[test]
    fn tables_give_tab_separated_cells_and_a_line_per_row() {
        let html = "<p>Medication:</p><table><tr><th>Drug</th><th>Dose</th></tr>\
            <tr><td>Sertraline</td><td> 50 mg </td></tr>\
            <tr><td>Propranolol</td><td>10 mg</td></tr></table><p>End</p>";
        assert_eq!(
            read(html),
            "Medication:\nDrug\tDose\nSertraline\t50 mg\nPropranolol\t10 mg\nEnd"
        );
    }

    #[test]
    fn pre_keeps_whitespace_and_comments_vanish() {
        let html = "<body><!-- draft: <p>not shown</p> --><pre>a  b\n  c</pre>x > y</body>";
        assert_eq!(read(html), "a  b\n  c\nx > y");
    }

    #[test]
    fn an_unclosed_script_hides_the_rest_and_stray_angles_are_text() {
        assert_eq!(read("<p>1 < 2</p><script>var x = '<p>'"), "1 < 2");
    }

    #[test]
    fn quoted_attributes_may_hold_angle_brackets() {
        assert_eq!(read("<p title=\"a > b\">kept</p>"), "kept");
    }
}
