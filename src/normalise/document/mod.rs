//! Document → text: the first step of reading a dictated clinic letter.
//!
//! Inputs: the bytes a channel received and the [`DocumentKind`] they hold (from
//! [`sniff`], which looks at content and never at a file name). Output: the letter's
//! plain text, with LF line ends and the byte range of each page.
//!
//! This stage must never panic, whatever the bytes, and never use more memory or time
//! than [`Limits`] allow: letters come from outside (email, uploads), so every parser
//! here treats its input as hostile. It never logs, and its errors never carry any
//! part of the input, because the input is patient data. It does no I/O.
//!
//! A document that cannot be read is an error with a reason (scanned, encrypted,
//! corrupt, too large), so the caller can hold the referral for review with that
//! reason instead of dropping it.

mod docx;
mod html;
mod pdf;
mod pdf_guard;
mod rtf;
mod text;

use std::ops::Range;

/// The document formats refgate reads letters from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// Plain text: UTF-8, UTF-16 with a BOM, or Windows-1252.
    Text,
    /// Office Open XML word processing (Word 2007 and later).
    Docx,
    /// PDF with a text layer.
    Pdf,
    /// Rich Text Format.
    Rtf,
    /// HTML, as exported by some clinic systems and mail clients.
    Html,
}

impl DocumentKind {
    /// The canonical media type.
    pub fn media_type(self) -> &'static str {
        match self {
            DocumentKind::Text => "text/plain",
            DocumentKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            DocumentKind::Pdf => "application/pdf",
            DocumentKind::Rtf => "application/rtf",
            DocumentKind::Html => "text/html",
        }
    }

    /// The kind for a declared media type (parameters such as `; charset=` ignored,
    /// case-insensitive). Callers should still prefer [`sniff`]: senders mislabel.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match essence(media_type).as_str() {
            "text/plain" => Some(DocumentKind::Text),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                Some(DocumentKind::Docx)
            }
            "application/pdf" | "application/x-pdf" => Some(DocumentKind::Pdf),
            "application/rtf" | "text/rtf" | "application/x-rtf" => Some(DocumentKind::Rtf),
            "text/html" | "application/xhtml+xml" => Some(DocumentKind::Html),
            _ => None,
        }
    }

    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Text => "text",
            DocumentKind::Docx => "docx",
            DocumentKind::Pdf => "pdf",
            DocumentKind::Rtf => "rtf",
            DocumentKind::Html => "html",
        }
    }
}

/// A media type without its parameters, lower case: `Text/Plain; charset=UTF-8` →
/// `text/plain`.
pub fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Bounds on what one document may cost. Every parser checks them as it goes, so a
/// hostile document is refused before it uses more than these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes.
    pub max_input_bytes: usize,
    /// Longest text returned, in characters.
    pub max_text_chars: usize,
    /// Most bytes inflated from compressed parts in total: the DOCX main part, or all
    /// PDF streams (and, separately, the PDF content extraction walks, with each
    /// draw of a repeated form counted).
    pub max_unzipped_bytes: u64,
    /// Most pages in a PDF.
    pub max_pdf_pages: usize,
}

impl Default for Limits {
    /// 20 MiB in, 2 million characters out, 50 MiB inflated, 200 PDF pages: a long
    /// clinic letter is a few pages and well under 1 MiB, so these leave a wide margin
    /// and still keep one document's cost small on a 2-core, 24 GiB machine.
    fn default() -> Self {
        Limits {
            max_input_bytes: 20 * 1024 * 1024,
            max_text_chars: 2_000_000,
            max_unzipped_bytes: 50 * 1024 * 1024,
            max_pdf_pages: 200,
        }
    }
}

/// The text of a document.
#[derive(Clone, PartialEq, Eq)]
pub struct Text {
    /// The format it was read from.
    pub kind: DocumentKind,
    /// The text: LF line ends; no control characters but tab, LF and form feed.
    pub text: String,
    /// Byte ranges of `text`, one per page. PDF gives one per page and plain text one
    /// per form-feed-separated page (the form feed itself lies between two ranges);
    /// the other formats have no fixed pages and give one range for the whole text.
    pub pages: Vec<Range<usize>>,
}

// The text is a patient letter, so Debug shows only its shape.
impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Text")
            .field("kind", &self.kind)
            .field("chars", &self.text.chars().count())
            .field("pages", &self.pages.len())
            .finish()
    }
}

/// Why a document gave no text. Messages name the format at most, never content.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// The bytes are none of the formats refgate reads.
    #[error("document format not recognised")]
    Unrecognised,
    /// The input, its inflated parts, its pages or its text exceed [`Limits`].
    #[error("document exceeds a size limit")]
    TooLarge,
    /// The bytes are damaged or truncated; the payload names the format.
    #[error("{0} document is corrupt or truncated")]
    Corrupt(&'static str),
    /// A PDF without a text layer, such as a scan: it needs a person to read it.
    #[error("PDF has no text layer (scanned or image-only)")]
    NoTextLayer,
    /// The document needs a password.
    #[error("document is encrypted")]
    Encrypted,
    /// A valid document using a feature refgate does not read; the payload names it.
    #[error("unsupported document feature: {0}")]
    Unsupported(&'static str),
}

impl DocumentError {
    /// A stable code for metrics and the review queue's reason.
    pub fn code(&self) -> &'static str {
        match self {
            DocumentError::Unrecognised => "unrecognised",
            DocumentError::TooLarge => "too_large",
            DocumentError::Corrupt(_) => "corrupt",
            DocumentError::NoTextLayer => "no_text_layer",
            DocumentError::Encrypted => "encrypted",
            DocumentError::Unsupported(_) => "unsupported",
        }
    }
}

/// The format of `bytes`, judged by content alone, or `None` if it is none of them.
///
/// In order: `%PDF-` in the first 1 KiB (readers accept a header that late); a ZIP
/// naming `word/document.xml`; `{\rtf`; an HTML tag at the start (after an optional
/// BOM, whitespace, XML declaration or comments); else text, if the bytes decode as
/// UTF-8, UTF-16 with a BOM, or Windows-1252 without control characters other than
/// tab, CR, LF and form feed.
pub fn sniff(bytes: &[u8]) -> Option<DocumentKind> {
    let head = &bytes[..bytes.len().min(1024)];
    if find(head, b"%PDF-").is_some() {
        return Some(DocumentKind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        // The name is stored uncompressed in the local and central headers, so a byte
        // search finds it without parsing the archive; to_text does the real checks.
        return find(bytes, b"word/document.xml").map(|_| DocumentKind::Docx);
    }
    let start = skip_bom_and_space(bytes);
    if start.starts_with(b"{\\rtf") {
        return Some(DocumentKind::Rtf);
    }
    if html::looks_like_html(start) {
        return Some(DocumentKind::Html);
    }
    if !bytes.is_empty() && text::looks_like_text(bytes) {
        return Some(DocumentKind::Text);
    }
    None
}

/// The text of a document of the given kind. Never panics, whatever the bytes, and
/// stays within `limits`. Converted formats lose blank lines at the start and
/// whitespace at the end of each page; plain text is kept as sent.
///
/// # Errors
/// [`DocumentError::TooLarge`] past any of `limits`; [`DocumentError::Corrupt`] for
/// damaged bytes (including bytes that are not of `kind`); [`DocumentError::Encrypted`],
/// [`DocumentError::NoTextLayer`] and [`DocumentError::Unsupported`] as named.
pub fn to_text(bytes: &[u8], kind: DocumentKind, limits: &Limits) -> Result<Text, DocumentError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(DocumentError::TooLarge);
    }
    let pages = match kind {
        DocumentKind::Text => split_form_feeds(text::decode(bytes)?),
        DocumentKind::Docx => vec![docx::to_text(bytes, limits)?],
        DocumentKind::Pdf => pdf::to_text(bytes, limits)?,
        DocumentKind::Rtf => vec![rtf::to_text(bytes, limits)?],
        DocumentKind::Html => vec![html::to_text(bytes, limits)?],
    };
    assemble(kind, pages, limits)
}

/// Joins page texts with form feeds after cleaning each, and records their ranges.
fn assemble(
    kind: DocumentKind,
    pages: Vec<String>,
    limits: &Limits,
) -> Result<Text, DocumentError> {
    let mut text = String::new();
    let mut ranges = Vec::with_capacity(pages.len());
    let mut chars = 0usize;
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            text.push('\u{c}');
        }
        let start = text.len();
        // Converters leave blank lines at the edges (pdf-extract starts each page with
        // some); plain text is kept exactly as sent.
        let page = match kind {
            DocumentKind::Text => page.as_str(),
            _ => page.trim_start_matches(['\r', '\n']).trim_end(),
        };
        clean_into(page, &mut text);
        chars += text[start..].chars().count() + usize::from(i > 0);
        if chars > limits.max_text_chars {
            return Err(DocumentError::TooLarge);
        }
        ranges.push(start..text.len());
    }
    if ranges.is_empty() {
        ranges.push(0..0);
    }
    Ok(Text {
        kind,
        text,
        pages: ranges,
    })
}

/// Appends `page` with CRLF and CR made LF and every control character but tab, LF
/// and form feed dropped: downstream matching and JSON storage then see one form.
fn clean_into(page: &str, out: &mut String) {
    let mut chars = page.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\t' | '\n' | '\u{c}' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

/// Plain text marks page breaks with form feeds (line printers, and the clinic
/// systems that still print to them); each page becomes its own range.
fn split_form_feeds(text: String) -> Vec<String> {
    text.split('\u{c}').map(str::to_owned).collect()
}

/// The first index of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `bytes` after a UTF-8 BOM and leading ASCII whitespace.
pub(crate) fn skip_bom_and_space(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let n = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &bytes[n..]
}

/// A text buffer that refuses to grow past the character limit, so a parser stops
/// as soon as a document's text is too long instead of after building all of it.
pub(crate) struct Sink {
    pub(crate) text: String,
    chars: usize,
    max: usize,
}

impl Sink {
    pub(crate) fn new(limits: &Limits) -> Self {
        Sink {
            text: String::new(),
            chars: 0,
            max: limits.max_text_chars,
        }
    }

    pub(crate) fn push(&mut self, c: char) -> Result<(), DocumentError> {
        self.chars += 1;
        if self.chars > self.max {
            return Err(DocumentError::TooLarge);
        }
        self.text.push(c);
        Ok(())
    }

    pub(crate) fn push_str(&mut self, s: &str) -> Result<(), DocumentError> {
        s.chars().try_for_each(|c| self.push(c))
    }

    /// Pushes a newline unless the text is empty or already ends with one, so that
    /// nested blocks give one line break, not a run of blank lines.
    pub(crate) fn line_break(&mut self) -> Result<(), DocumentError> {
        if self.text.is_empty() || self.text.ends_with('\n') {
            return Ok(());
        }
        self.push('\n')
    }

    pub(crate) fn ends_with(&self, c: char) -> bool {
        self.text.ends_with(c)
    }

    pub(crate) fn pop_if(&mut self, c: char) {
        if self.text.ends_with(c) {
            self.text.pop();
            self.chars -= 1;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
