//! DOCX: the text of `word/document.xml`, streamed out of the ZIP.
//!
//! A DOCX is a ZIP; only the main part holds the letter body (headers, footers and
//! comments are separate parts and are not read). Inflation is bounded twice: the
//! declared size must be within `max_unzipped_bytes`, and reading goes through a
//! counter that stops at that limit, because a ZIP header can lie about the size.
//! The XML is parsed as a stream, so memory is the text plus one event (itself
//! within the inflation limit).
//!
//! Mapping (ECMA-376 part 1, §17): `w:t` gives its text, `w:tab` a tab, `w:br` and
//! `w:cr` a newline, each `w:p` ends a line; table cells are separated by tabs and
//! rows end lines. Tab stop definitions (`w:tab` inside `w:pPr`), the fallback copy
//! of alternate content (`mc:Fallback`, a duplicate of text boxes for old readers)
//! and moved-from text (`w:moveFrom`, shown again at `w:moveTo`) are skipped, so no
//! text appears twice.

use std::io::{BufReader, Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::{DocumentError, Limits, Sink};

/// Most entries accepted in the archive. A letter has about a dozen; the ZIP reader
/// keeps every central directory entry in memory, so this bounds it.
const MAX_ENTRIES: usize = 10_000;

const MAIN_PART: &str = "word/document.xml";

/// The text of a DOCX document.
///
/// # Errors
/// [`DocumentError::TooLarge`] for too many entries, a main part over the inflation
/// limit (declared or actual) or too much text; [`DocumentError::Encrypted`] for a
/// password-protected entry; [`DocumentError::Unsupported`] for a compression method
/// other than deflate or stored; [`DocumentError::Corrupt`] otherwise.
pub(super) fn to_text(bytes: &[u8], limits: &Limits) -> Result<String, DocumentError> {
    // Every central directory entry starts with this signature, so counting it bounds
    // the entries the ZIP reader would load, before it loads any.
    let headers = bytes
        .windows(4)
        .filter(|w| *w == b"PK\x01\x02")
        .take(MAX_ENTRIES + 1)
        .count();
    if headers > MAX_ENTRIES {
        return Err(DocumentError::TooLarge);
    }
    let mut archive =
        ZipArchive::new(Cursor::new(bytes)).map_err(|_| DocumentError::Corrupt("docx"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(DocumentError::TooLarge);
    }
    let index = archive
        .index_for_name(MAIN_PART)
        .ok_or(DocumentError::Corrupt("docx"))?;
    match read_main_part(&mut archive, index, limits) {
        // The ZIP reader stops an entry at its declared size with an error, which
        // reads as corruption; an entry that really inflates past the limit is a bomb.
        Err(DocumentError::Corrupt(_))
            if inflates_past(&mut archive, index, limits.max_unzipped_bytes) =>
        {
            Err(DocumentError::TooLarge)
        }
        other => other,
    }
}

fn read_main_part(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    index: usize,
    limits: &Limits,
) -> Result<String, DocumentError> {
    let entry = archive.by_index(index).map_err(|e| match e {
        ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) | ZipError::InvalidPassword => {
            DocumentError::Encrypted
        }
        ZipError::CompressionMethodNotSupported(_) => {
            DocumentError::Unsupported("docx compression method")
        }
        _ => DocumentError::Corrupt("docx"),
    })?;
    if entry.encrypted() {
        return Err(DocumentError::Encrypted);
    }
    if entry.size() > limits.max_unzipped_bytes {
        return Err(DocumentError::TooLarge);
    }
    let budget = Budget {
        inner: entry,
        left: limits.max_unzipped_bytes,
        exceeded: false,
    };
    let mut reader = Reader::from_reader(BufReader::new(budget));
    let mut walker = Walker::new(limits);
    let result = walker.walk(&mut reader);
    if reader.get_ref().get_ref().exceeded {
        return Err(DocumentError::TooLarge);
    }
    result?;
    Ok(walker.out.text)
}

/// True if the entry's raw deflate data inflates past `cap`, counted without keeping
/// the output or trusting any header.
fn inflates_past(archive: &mut ZipArchive<Cursor<&[u8]>>, index: usize, cap: u64) -> bool {
    let Ok(raw) = archive.by_index_raw(index) else {
        return false;
    };
    if raw.compression() != CompressionMethod::Deflated {
        return false;
    }
    let mut inflater = flate2::read::DeflateDecoder::new(raw);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    while let Ok(n @ 1..) = inflater.read(&mut scratch) {
        total += n as u64;
        if total > cap {
            return true;
        }
    }
    false
}

/// A reader that fails once more than `left` bytes have come through it.
struct Budget<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Ask for at most one byte past the budget: enough to see it is exceeded.
        let want = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => {
                self.exceeded = true;
                Err(std::io::Error::other("inflation limit"))
            }
        }
    }
}

struct Walker {
    out: Sink,
    /// Inside `w:t`: its character data is text.
    in_text: bool,
    /// Depth inside a skipped subtree (`mc:Fallback`, `w:moveFrom`, `w:pPr`).
    skip: u32,
    /// Per open table: whether the current row has had a cell.
    rows: Vec<bool>,
    /// A paragraph ended inside a table cell: the next text in that cell gets a
    /// space, so a cell stays on one line and rows stay one per line.
    cell_gap: bool,
}

impl Walker {
    fn new(limits: &Limits) -> Self {
        Walker {
            out: Sink::new(limits),
            in_text: false,
            skip: 0,
            rows: Vec::new(),
            cell_gap: false,
        }
    }

    fn walk<R: std::io::BufRead>(&mut self, reader: &mut Reader<R>) -> Result<(), DocumentError> {
        let mut buf = Vec::new();
        loop {
            let event = reader
                .read_event_into(&mut buf)
                .map_err(|_| DocumentError::Corrupt("docx"))?;
            match event {
                Event::Start(e) => self.start(&e, false)?,
                Event::Empty(e) => self.start(&e, true)?,
                Event::End(e) => self.end(e.name().as_ref())?,
                Event::Text(t) if self.in_text && self.skip == 0 => {
                    self.text(&t.xml10_content())?;
                }
                Event::CData(t) if self.in_text && self.skip == 0 => {
                    self.text(&t.into_inner())?;
                }
                Event::GeneralRef(r) if self.in_text && self.skip == 0 => self.reference(&r)?,
                Event::Eof => return Ok(()),
                _ => {}
            }
            buf.clear();
        }
    }

    fn start(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), DocumentError> {
        let name = e.name();
        let name = name.as_ref();
        if self.skip > 0 || matches!(name, "mc:Fallback" | "w:moveFrom" | "w:pPr") {
            if !empty {
                self.skip += 1;
            }
            return Ok(());
        }
        match name {
            "w:t" => self.in_text = !empty,
            "w:tab" => self.text("\t")?,
            "w:br" | "w:cr" => self.line_end()?,
            "w:noBreakHyphen" => self.text("-")?,
            "w:p" if empty => self.line_end()?,
            "w:tbl" if !empty => {
                if self.rows.is_empty() {
                    self.out.line_break()?;
                } else {
                    self.cell_gap = true;
                }
                self.rows.push(false);
            }
            "w:tc" => {
                self.cell_gap = false;
                if let Some(row_has_cell) = self.rows.last_mut() {
                    if *row_has_cell {
                        self.out.push('\t')?;
                    }
                    *row_has_cell = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, name: &str) -> Result<(), DocumentError> {
        if self.skip > 0 {
            self.skip -= 1;
            return Ok(());
        }
        match name {
            "w:t" => self.in_text = false,
            "w:p" => self.line_end()?,
            "w:tr" => {
                if let Some(row_has_cell) = self.rows.last_mut() {
                    *row_has_cell = false;
                }
                // Rows of a table nested in a cell stay on the outer row's line.
                if self.rows.len() == 1 {
                    self.cell_gap = false;
                    self.out.push('\n')?;
                } else {
                    self.cell_gap = true;
                }
            }
            "w:tbl" => {
                self.rows.pop();
            }
            _ => {}
        }
        Ok(())
    }

    /// A paragraph end or line break: a newline in the body; in a table cell a
    /// space before the cell's next text, so each row stays on one line.
    fn line_end(&mut self) -> Result<(), DocumentError> {
        if self.rows.is_empty() {
            self.out.push('\n')
        } else {
            self.cell_gap = true;
            Ok(())
        }
    }

    fn text(&mut self, s: &str) -> Result<(), DocumentError> {
        if s.is_empty() {
            return Ok(());
        }
        let at_start =
            self.out.text.is_empty() || self.out.ends_with('\t') || self.out.ends_with('\n');
        if std::mem::replace(&mut self.cell_gap, false) && !at_start {
            self.out.push(' ')?;
        }
        self.out.push_str(s)
    }

    fn reference(&mut self, r: &BytesRef<'_>) -> Result<(), DocumentError> {
        let resolved = match r.resolve_char_ref() {
            Ok(Some(c)) => c.to_string(),
            Ok(None) => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                .ok_or(DocumentError::Corrupt("docx"))?
                .to_owned(),
            Err(_) => return Err(DocumentError::Corrupt("docx")),
        };
        self.text(&resolved)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::tests::{docx, docx_with_document};
    use super::super::{DocumentKind, to_text as read_document};
    use super::*;

    fn read(bytes: &[u8], limits: &Limits) -> Result<String, DocumentError> {
        read_document(bytes, DocumentKind::Docx, limits).map(|t| t.text)
    }

    fn para(text: &str) -> String {
        format!("<w:p><w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>")
    }

    fn cell(text: &str) -> String {
        format!(
            "<w:tc><w:tcPr><w:tcW w:w=\"2000\"/></w:tcPr>{}</w:tc>",
            para(text)
        )
    }

    #[test]
    fn paragraphs_runs_tabs_and_breaks_give_exact_text() {
        let body = format!(
            "{}<w:p><w:pPr><w:tabs><w:tab w:val=\"left\" w:pos=\"720\"/></w:tabs></w:pPr>\
             <w:r><w:t>Re:</w:t></w:r><w:r><w:tab/><w:t xml:space=\"preserve\">Ms A </w:t></w:r>\
             <w:r><w:rPr><w:b/></w:rPr><w:t>Patient</w:t><w:br/><w:t>DOB 01&#47;02&#x2F;1980 &amp; &lt;x&gt;</w:t></w:r></w:p>\
             <w:p/>{}",
            para("Dear Dr Khan,"),
            para("Yours sincerely")
        );
        assert_eq!(
            read(&docx(&body), &Limits::default()).unwrap(),
            "Dear Dr Khan,\nRe:\tMs A Patient\nDOB 01/02/1980 & <x>\n\nYours sincerely"
        );
    }

    #[test]
    fn tables_give_tab_separated_cells_and_a_line_per_row() {
        let body = format!(
            "{}<w:tbl><w:tblPr/><w:tr>{}{}</w:tr><w:tr>{}<w:tc>{}{}</w:tc></w:tr></w:tbl>{}",
            para("Medication:"),
            cell("Drug"),
            cell("Dose"),
            cell("Sertraline"),
            para("50 mg"),
            para("mane"),
            para("End")
        );
        assert_eq!(
            read(&docx(&body), &Limits::default()).unwrap(),
            "Medication:\nDrug\tDose\nSertraline\t50 mg mane\nEnd"
        );
    }

    #[test]
    fn deleted_moved_from_and_fallback_text_is_not_repeated() {
        let body = "<w:p><w:r><w:t xml:space=\"preserve\">Dose </w:t></w:r>\
             <w:del><w:r><w:delText>100</w:delText></w:r></w:del>\
             <w:ins><w:r><w:t>50</w:t></w:r></w:ins>\
             <w:moveFrom><w:r><w:t>moved</w:t></w:r></w:moveFrom>\
             <w:r><w:instrText>PAGE</w:instrText></w:r>\
             <mc:AlternateContent><mc:Choice Requires=\"wps\"><w:r><w:t xml:space=\"preserve\"> mg</w:t></w:r></mc:Choice>\
             <mc:Fallback><w:r><w:t> mg</w:t></w:r></mc:Fallback></mc:AlternateContent></w:p>";
        assert_eq!(read(&docx(body), &Limits::default()).unwrap(), "Dose 50 mg");
    }

    #[test]
    fn a_main_part_declared_over_the_limit_is_too_large() {
        let body = para(&"A".repeat(200_000));
        let limits = Limits {
            max_unzipped_bytes: 64 * 1024,
            ..Limits::default()
        };
        assert_eq!(
            read(&docx(&body), &limits).unwrap_err(),
            DocumentError::TooLarge
        );
    }

    /// A ZIP bomb: the headers claim 100 bytes, the entry inflates to 20 MiB.
    #[test]
    fn a_zip_bomb_with_lying_headers_is_too_large_quickly() {
        let document = format!(
            "<w:document><w:body>{}</w:body></w:document>",
            para(&"A".repeat(20 << 20))
        );
        let mut bytes = docx_with_document(&document);
        lie_about_size(&mut bytes, "word/document.xml", 100);
        let limits = Limits {
            max_unzipped_bytes: 1 << 20,
            ..Limits::default()
        };
        let started = Instant::now();
        assert_eq!(read(&bytes, &limits).unwrap_err(), DocumentError::TooLarge);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// Rewrites the uncompressed size of `name` in its local and central headers.
    fn lie_about_size(zip: &mut [u8], name: &str, size: u32) {
        let mut patched = 0;
        for at in 0..zip.len().saturating_sub(46) {
            let (sig, size_at, name_len_at, name_at) = match &zip[at..at + 4] {
                b"PK\x03\x04" => ("local", 22, 26, 30),
                b"PK\x01\x02" => ("central", 24, 28, 46),
                _ => continue,
            };
            let name_len =
                u16::from_le_bytes([zip[at + name_len_at], zip[at + name_len_at + 1]]) as usize;
            if zip.get(at + name_at..at + name_at + name_len) == Some(name.as_bytes()) {
                zip[at + size_at..at + size_at + 4].copy_from_slice(&size.to_le_bytes());
                patched += 1;
                let _ = sig;
            }
        }
        assert_eq!(patched, 2);
    }

    #[test]
    fn archives_with_absurd_entry_counts_are_refused() {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for i in 0..=MAX_ENTRIES {
            zip.start_file(format!("{i}"), options).unwrap();
        }
        zip.start_file(MAIN_PART, options).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert_eq!(
            read(&bytes, &Limits::default()).unwrap_err(),
            DocumentError::TooLarge
        );
    }

    #[test]
    fn a_zip_without_the_main_part_or_with_broken_xml_is_corrupt() {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("word/other.xml", zip::write::SimpleFileOptions::default())
            .unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert_eq!(
            read(&bytes, &Limits::default()).unwrap_err(),
            DocumentError::Corrupt("docx")
        );
        let broken = docx_with_document("<w:document><w:body><w:p><w:t>x</w:p></w:body>");
        assert_eq!(
            read(&broken, &Limits::default()).unwrap_err(),
            DocumentError::Corrupt("docx")
        );
        assert_eq!(
            read(b"PK\x03\x04garbage", &Limits::default()).unwrap_err(),
            DocumentError::Corrupt("docx")
        );
    }
}
