//! PDF: the text layer, page by page, through pdf-extract (which parses with lopdf).
//!
//! pdf-extract unwraps freely, so malformed input panics inside it; it also inflates,
//! recurses and expands without limits. Every deflate stream in the raw file is
//! measured against `max_unzipped_bytes` before lopdf loads it (loading inflates
//! object streams, unbounded), and [`super::pdf_guard`] bounds the rest. This module refuses documents that still need a password or have more than
//! `max_pdf_pages` pages, and replaces image XObjects with empty forms: they hold no
//! text, and pdf-extract would parse their data as page content (and panic).
//!
//! Extraction runs on its own thread with a large stack, inside `catch_unwind`: a
//! panic is a corrupt document, not a crashed gateway. Pages that average fewer than
//! [`MIN_CHARS_PER_PAGE`] visible characters are a scan, to be read by a person.

use std::panic::{AssertUnwindSafe, catch_unwind};

use flate2::{Decompress, FlushDecompress, Status};
use pdf_extract::{Dictionary, Document, Object, PlainTextOutput, Stream};

use super::pdf_guard::{self, Walk};
use super::{DocumentError, Limits};

/// Below this many non-whitespace characters per page on average, the text layer is
/// absent or only a stray header: the letter is a scan and needs a person.
const MIN_CHARS_PER_PAGE: usize = 20;

/// Stack for the extraction thread. lopdf's object parser recurses up to 100 levels,
/// and the guarded recursions (forms, font programs) up to 32, with large frames in
/// debug builds; 64 MiB is reserved address space, touched only as deep as it goes.
const STACK_BYTES: usize = 64 * 1024 * 1024;

pub(super) const CORRUPT: DocumentError = DocumentError::Corrupt("pdf");

/// The text of each page of a PDF.
///
/// # Errors
/// [`DocumentError::Encrypted`] if it needs a password; [`DocumentError::TooLarge`]
/// past the inflation, page or character limits; [`DocumentError::NoTextLayer`] for a
/// scan; [`DocumentError::Corrupt`] for anything malformed, including any panic inside
/// the PDF libraries.
pub(super) fn to_text(bytes: &[u8], limits: &Limits) -> Result<Vec<String>, DocumentError> {
    check_inflation(bytes, limits.max_unzipped_bytes)?;
    let guarded =
        || catch_unwind(AssertUnwindSafe(|| extract(bytes, limits))).unwrap_or(Err(CORRUPT));
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("pdf-text".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, guarded);
        match spawned {
            Ok(handle) => handle.join().unwrap_or(Err(CORRUPT)),
            // No thread to be had: extract here, still guarded against panics.
            Err(_) => guarded(),
        }
    })
}

fn extract(bytes: &[u8], limits: &Limits) -> Result<Vec<String>, DocumentError> {
    let mut doc = Document::load_mem(bytes).map_err(|e| load_error(&e, bytes))?;
    // lopdf opens documents whose user password is empty (owner-only restrictions,
    // common on clinic exports) while loading and then drops `/Encrypt`; it remains
    // when a password is needed. (`is_encrypted` misses a direct dictionary.)
    if doc.trailer.get(b"Encrypt").is_ok() {
        return Err(DocumentError::Encrypted);
    }
    let pages = doc.get_pages();
    if pages.len() > limits.max_pdf_pages {
        return Err(DocumentError::TooLarge);
    }
    if pages.is_empty() {
        return Err(CORRUPT);
    }
    for page in pages.values() {
        pdf_guard::check_parents(&doc, *page)?;
    }
    neutralise_images(&mut doc);
    pdf_guard::check_fonts(&doc)?;
    Walk::new(&doc, limits.max_unzipped_bytes).pages(pages.values().copied())?;

    let mut texts = Vec::with_capacity(pages.len());
    let (mut chars, mut visible) = (0usize, 0usize);
    for number in pages.keys() {
        let mut text = String::new();
        pdf_extract::output_doc_page(&doc, &mut PlainTextOutput::new(&mut text), *number)
            .map_err(|_| CORRUPT)?;
        chars += text.chars().count();
        if chars > limits.max_text_chars {
            return Err(DocumentError::TooLarge);
        }
        visible += text.chars().filter(|c| !c.is_whitespace()).count();
        texts.push(text);
    }
    if visible < MIN_CHARS_PER_PAGE * texts.len() {
        return Err(DocumentError::NoTextLayer);
    }
    Ok(texts)
}

/// Password and security-handler failures mean encryption; anything else from a file
/// that declares `/Encrypt` is taken as encryption lopdf cannot handle.
fn load_error(e: &pdf_extract::Error, bytes: &[u8]) -> DocumentError {
    match e {
        pdf_extract::Error::Decryption(_) | pdf_extract::Error::InvalidPassword => {
            DocumentError::Encrypted
        }
        _ if super::find(bytes, b"/Encrypt").is_some() => DocumentError::Encrypted,
        _ => CORRUPT,
    }
}

/// Inflates every candidate deflate stream in the raw file, discarding the output,
/// and fails once the total passes `budget`. Run before lopdf, which inflates object
/// streams while loading, with no limit. Scanning raw bytes for the `stream` keyword
/// finds every stream lopdf could inflate whatever the dictionaries say; images count
/// too, so a scan built of very large deflated images is refused as too large.
fn check_inflation(bytes: &[u8], budget: u64) -> Result<(), DocumentError> {
    let mut zlib = Decompress::new(true);
    let mut raw = Decompress::new(false);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    let mut pos = 0;
    while let Some(i) = super::find(&bytes[pos..], b"stream") {
        let keyword = pos + i;
        pos = keyword + b"stream".len();
        if bytes[..keyword].ends_with(b"end") {
            continue;
        }
        let data = match &bytes[pos..] {
            [b'\r', b'\n', ..] => &bytes[pos + 2..],
            [b'\n' | b'\r', ..] => &bytes[pos + 1..],
            _ => continue,
        };
        let left = budget - total;
        zlib.reset(true);
        let mut produced = inflated_size(&mut zlib, data, left, &mut scratch);
        // lopdf retries a failed zlib stream as raw deflate after its 2-byte header.
        if produced == 0 && data.len() > 2 {
            raw.reset(false);
            produced = inflated_size(&mut raw, &data[2..], left, &mut scratch);
        }
        total += produced;
        if total > budget {
            return Err(DocumentError::TooLarge);
        }
    }
    Ok(())
}

/// Bytes `d` inflates from `input`, counting no further than one past `cap`.
fn inflated_size(d: &mut Decompress, input: &[u8], cap: u64, scratch: &mut [u8]) -> u64 {
    let (start_in, start_out) = (d.total_in(), d.total_out());
    loop {
        let consumed = usize::try_from(d.total_in() - start_in).unwrap_or(input.len());
        let before = (d.total_in(), d.total_out());
        let status = d.decompress(
            &input[consumed.min(input.len())..],
            scratch,
            FlushDecompress::None,
        );
        let produced = d.total_out() - start_out;
        match status {
            Ok(Status::Ok | Status::BufError)
                if produced <= cap && before != (d.total_in(), d.total_out()) => {}
            _ => return produced.min(cap.saturating_add(1)),
        }
    }
}

/// Replaces every image XObject with an empty form. pdf-extract hands an image's
/// data to the content parser (which then panics), and an image holds no text.
fn neutralise_images(doc: &mut Document) {
    for object in doc.objects.values_mut() {
        if let Object::Stream(stream) = object
            && name_is(&stream.dict, b"Subtype", b"Image")
        {
            let mut dict = Dictionary::new();
            dict.set("Type", Object::Name(b"XObject".to_vec()));
            dict.set("Subtype", Object::Name(b"Form".to_vec()));
            let zero = || Object::Integer(0);
            dict.set("BBox", Object::Array(vec![zero(), zero(), zero(), zero()]));
            *stream = Stream::new(dict, Vec::new());
        }
    }
}

fn name_is(dict: &Dictionary, key: &[u8], value: &[u8]) -> bool {
    dict.get(key)
        .and_then(Object::as_name)
        .is_ok_and(|n| n == value)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::tests::{pdf, pdf_from_objects, pdf_sample, stream_object};
    use super::super::{DocumentKind, to_text as read_document};
    use super::*;

    fn read(bytes: &[u8], limits: &Limits) -> Result<super::super::Text, DocumentError> {
        read_document(bytes, DocumentKind::Pdf, limits)
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn text_is_extracted_page_by_page_with_ranges() {
        let t = read(&pdf_sample(), &Limits::default()).unwrap();
        assert_eq!(t.pages.len(), 2);
        let page = |i: usize| t.text[t.pages[i].clone()].to_owned();
        assert_eq!(
            page(0),
            "Dear Dr Khan,\nRe: Ms A Patient, NHS number 943 476 5919"
        );
        assert_eq!(page(1), "Thank you for seeing this patient with low mood.");
        assert_eq!(&t.text[t.pages[0].end..t.pages[1].start], "\u{c}");
    }

    #[test]
    fn truncated_or_garbled_pdfs_are_corrupt() {
        let sample = pdf_sample();
        for cut in [10, sample.len() / 3, sample.len() / 2] {
            let err = read(&sample[..cut], &Limits::default()).unwrap_err();
            assert_eq!(err, CORRUPT, "cut at {cut}");
        }
        assert_eq!(
            read(b"%PDF-1.4\n\x00\x01\x02garbage", &Limits::default()).unwrap_err(),
            CORRUPT
        );
    }

    #[test]
    fn a_page_without_text_is_no_text_layer() {
        assert_eq!(
            read(&pdf(&[&[]]), &Limits::default()).unwrap_err(),
            DocumentError::NoTextLayer
        );
        // A page number alone is not a text layer either.
        assert_eq!(
            read(&pdf(&[&["1"], &[]]), &Limits::default()).unwrap_err(),
            DocumentError::NoTextLayer
        );
    }

    /// A scan: each page draws one image and has no text. pdf-extract alone would
    /// parse the image data as page content and panic.
    #[test]
    fn an_image_only_pdf_is_no_text_layer() {
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
              /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>"
                .to_vec(),
            stream_object("", b"q 612 0 0 792 0 0 cm /Im1 Do Q"),
            stream_object(
                "/Type /XObject /Subtype /Image /Width 4 /Height 4 /ColorSpace /DeviceGray \
                 /BitsPerComponent 8 /Filter /FlateDecode",
                &deflate(&[0x80; 16]),
            ),
        ];
        let err = read(&pdf_from_objects(&objects), &Limits::default()).unwrap_err();
        assert_eq!(err, DocumentError::NoTextLayer);
    }

    #[test]
    fn a_deflate_bomb_is_too_large_before_loading() {
        let content = format!("BT /F1 12 Tf 72 720 Td (x) Tj ET\n%{}", "A".repeat(8 << 20));
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>".to_vec(),
            stream_object("/Filter /FlateDecode", &deflate(content.as_bytes())),
        ];
        let limits = Limits {
            max_unzipped_bytes: 1 << 20,
            ..Limits::default()
        };
        assert_eq!(
            read(&pdf_from_objects(&objects), &limits).unwrap_err(),
            DocumentError::TooLarge
        );
    }

    #[test]
    fn more_pages_than_the_limit_is_too_large() {
        let limits = Limits {
            max_pdf_pages: 1,
            ..Limits::default()
        };
        assert_eq!(
            read(&pdf_sample(), &limits).unwrap_err(),
            DocumentError::TooLarge
        );
    }

    /// A form that draws itself would recurse in pdf-extract until the stack overflows,
    /// which aborts the process: it must be refused before extraction.
    #[test]
    fn a_self_drawing_form_is_corrupt_not_a_crash() {
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
              /Resources << /XObject << /X 5 0 R >> >> /Contents 4 0 R >>"
                .to_vec(),
            stream_object("", b"/X Do"),
            stream_object(
                "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X 5 0 R >> >>",
                b"/X Do",
            ),
        ];
        assert_eq!(
            read(&pdf_from_objects(&objects), &Limits::default()).unwrap_err(),
            CORRUPT
        );
    }

    /// One form drawn a million times costs a million times its size to extract.
    #[test]
    fn a_form_drawn_too_often_is_too_large() {
        let form_content = "BT /F1 12 Tf (abcdefghijklmnopqrstuvwxyz) Tj ET ".repeat(20);
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
              /Resources << /XObject << /X 5 0 R >> >> /Contents 4 0 R >>"
                .to_vec(),
            stream_object("", "/X Do\n".repeat(50_000).as_bytes()),
            stream_object(
                "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << >>",
                form_content.as_bytes(),
            ),
        ];
        let limits = Limits {
            max_unzipped_bytes: 8 << 20,
            ..Limits::default()
        };
        assert_eq!(
            read(&pdf_from_objects(&objects), &limits).unwrap_err(),
            DocumentError::TooLarge
        );
    }

    #[test]
    fn a_pdf_needing_a_password_is_encrypted() {
        let mut bytes = pdf_sample();
        // An encryption dictionary whose empty user password does not authenticate.
        let trailer = super::super::find(&bytes, b"trailer").unwrap();
        let tail = bytes.split_off(trailer);
        let tail = String::from_utf8(tail).unwrap().replace(
            "/Root 1 0 R",
            "/Root 1 0 R /Encrypt << /Filter /Standard /V 2 /R 3 /Length 128 /P -4 \
             /O <0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20> \
             /U <2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40> >> \
             /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]",
        );
        bytes.extend_from_slice(tail.as_bytes());
        assert_eq!(
            read(&bytes, &Limits::default()).unwrap_err(),
            DocumentError::Encrypted
        );
    }
}
