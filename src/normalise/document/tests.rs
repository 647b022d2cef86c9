//! Sample builders shared by the format tests, and the tests that span formats:
//! sniffing by content, and the noise test that mutates valid samples of every
//! format and checks that no input makes a parser panic.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::*;

/// A DOCX holding `body` (the children of `w:body`), built as Word lays it out.
pub(crate) fn docx(body: &str) -> Vec<u8> {
    docx_with_document(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" \
         xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\">\
         <w:body>{body}</w:body></w:document>"
    ))
}

/// A DOCX whose `word/document.xml` is exactly `document`.
pub(super) fn docx_with_document(document: &str) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let parts = [
        (
            "[Content_Types].xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>",
        ),
        (
            "_rels/.rels",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>",
        ),
        ("word/document.xml", document),
    ];
    for (name, content) in parts {
        zip.start_file(name, options).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A PDF of the given objects (numbered from 1; object 1 must be the catalog), with a
/// correct cross-reference table computed from the real offsets.
pub(super) fn pdf_from_objects(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A stream object with an exact `/Length`.
pub(super) fn stream_object(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    body
}

/// A PDF with one page per entry, each showing its lines in Helvetica.
pub(crate) fn pdf(pages: &[&[&str]]) -> Vec<u8> {
    let n = pages.len();
    // Objects: 1 catalog, 2 page tree, 3 font, then a page and its content per page.
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    ];
    for (i, lines) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                5 + 2 * i
            )
            .into_bytes(),
        );
        let mut content = String::from("BT /F1 12 Tf 14 TL 72 720 Td\n");
        for line in *lines {
            content.push_str(&format!("({line}) Tj T*\n"));
        }
        content.push_str("ET");
        objects.push(stream_object("", content.as_bytes()));
    }
    pdf_from_objects(&objects)
}

pub(super) fn rtf_sample() -> Vec<u8> {
    br"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0\fswiss Arial;}}{\*\generator Word}\f0 Dear Dr Khan,\par Re: Ren\'e9e \u8217?x\tab y\par{\pict 0a0b}}".to_vec()
}

pub(super) fn html_sample() -> Vec<u8> {
    b"<!DOCTYPE html><html><head><style>p{}</style></head><body><p>Dear &amp; Dr</p>\
      <table><tr><td>a</td><td>b</td></tr></table><script>x<y</script>&#8217;&pound;<br></body></html>"
        .to_vec()
}

pub(super) fn docx_sample() -> Vec<u8> {
    docx(
        "<w:p><w:r><w:t>Dear Dr Khan,</w:t></w:r></w:p>\
         <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Drug</w:t></w:r></w:p></w:tc>\
         <w:tc><w:p><w:r><w:t>Dose</w:t></w:r></w:p></w:tc></w:tr></w:tbl>\
         <w:p><w:r><w:t xml:space=\"preserve\">Fee &amp; </w:t><w:tab/><w:t>x</w:t><w:br/></w:r></w:p>",
    )
}

pub(super) fn pdf_sample() -> Vec<u8> {
    pdf(&[
        &["Dear Dr Khan,", "Re: Ms A Patient, NHS number 943 476 5919"],
        &["Thank you for seeing this patient with low mood."],
    ])
}

#[test]
fn sniff_recognises_each_format_by_content() {
    assert_eq!(sniff(&pdf_sample()), Some(DocumentKind::Pdf));
    assert_eq!(sniff(&docx_sample()), Some(DocumentKind::Docx));
    assert_eq!(sniff(&rtf_sample()), Some(DocumentKind::Rtf));
    assert_eq!(sniff(&html_sample()), Some(DocumentKind::Html));
    assert_eq!(
        sniff(b"Dear Dr Khan,\r\nRe: Ms A\x92s referral \xA330\n"),
        Some(DocumentKind::Text)
    );
    assert_eq!(
        sniff("\u{feff}  {\\rtf1 x}".as_bytes()),
        Some(DocumentKind::Rtf)
    );
    assert_eq!(
        sniff(b"\n <?xml version=\"1.0\"?>\n<!-- x --><HTML><body>x"),
        Some(DocumentKind::Html)
    );
    assert_eq!(sniff(b"<P>Dear Dr</P>"), Some(DocumentKind::Html));
    assert_eq!(sniff(b"<h2>Clinic letter</h2>"), Some(DocumentKind::Html));
}

#[test]
fn sniff_ignores_names_and_finds_a_pdf_inside_a_text_like_file() {
    // A ".txt" that holds a PDF header is a PDF: the name was never looked at.
    assert_eq!(
        sniff(b"junk before\n%PDF-1.7\n..."),
        Some(DocumentKind::Pdf)
    );
    // A zip without the DOCX main part is not a DOCX (nor text).
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("notes.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"hello").unwrap();
    assert_eq!(sniff(&zip.finish().unwrap().into_inner()), None);
    // Plain text that merely mentions HTML is text.
    assert_eq!(sniff(b"Use <p> tags"), Some(DocumentKind::Text));
}

#[test]
fn sniff_rejects_binary_noise_and_empty_input() {
    assert_eq!(sniff(b""), None);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20 {
        let noise: Vec<u8> = (0..512).map(|_| rng.next() as u8).collect();
        assert_eq!(sniff(&noise), None);
    }
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), None);
    assert_eq!(sniff(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00"), None);
}

#[test]
fn media_types_round_trip_and_parameters_are_ignored() {
    for kind in [
        DocumentKind::Text,
        DocumentKind::Docx,
        DocumentKind::Pdf,
        DocumentKind::Rtf,
        DocumentKind::Html,
    ] {
        assert_eq!(DocumentKind::from_media_type(kind.media_type()), Some(kind));
    }
    assert_eq!(
        DocumentKind::from_media_type("Text/HTML; charset=windows-1252"),
        Some(DocumentKind::Html)
    );
    assert_eq!(
        DocumentKind::from_media_type("text/rtf"),
        Some(DocumentKind::Rtf)
    );
    assert_eq!(DocumentKind::from_media_type("image/png"), None);
}

#[test]
fn input_over_the_byte_limit_is_too_large_for_every_format() {
    let limits = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    for (bytes, kind) in [
        (pdf_sample(), DocumentKind::Pdf),
        (docx_sample(), DocumentKind::Docx),
        (rtf_sample(), DocumentKind::Rtf),
        (html_sample(), DocumentKind::Html),
        (b"0123456789A".to_vec(), DocumentKind::Text),
    ] {
        assert_eq!(
            to_text(&bytes, kind, &limits).unwrap_err(),
            DocumentError::TooLarge
        );
    }
}

#[test]
fn text_over_the_character_limit_is_too_large_for_every_format() {
    let limits = Limits {
        max_text_chars: 8,
        ..Limits::default()
    };
    for (bytes, kind) in [
        (pdf_sample(), DocumentKind::Pdf),
        (docx_sample(), DocumentKind::Docx),
        (rtf_sample(), DocumentKind::Rtf),
        (html_sample(), DocumentKind::Html),
    ] {
        assert_eq!(
            to_text(&bytes, kind, &limits).unwrap_err(),
            DocumentError::TooLarge,
            "{kind:?}"
        );
    }
}

#[test]
fn debug_of_text_shows_no_content() {
    let t = to_text(b"Ms A Patient", DocumentKind::Text, &Limits::default()).unwrap();
    let shown = format!("{t:?}");
    assert!(!shown.contains("Patient"), "{shown}");
    assert!(shown.contains("chars: 12"), "{shown}");
}

/// Marsaglia's xorshift64: deterministic noise without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Flips, inserts, deletes, overwrites with markup or truncates a few bytes.
fn mutate(rng: &mut XorShift, sample: &[u8]) -> Vec<u8> {
    let mut bytes = sample.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len());
        match rng.below(6) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes.insert(at, rng.next() as u8),
            2 => {
                bytes.remove(at);
            }
            3 => bytes.truncate(at.max(1)),
            4 => {
                let token: &[u8] = [
                    b"{".as_slice(),
                    b"}",
                    b"<",
                    b"\\",
                    b"&#",
                    b"<<",
                    b"]",
                    b"stream\n",
                ][rng.below(8)];
                bytes.splice(at..at, token.iter().copied());
            }
            _ => bytes[at] = rng.next() as u8,
        }
        if bytes.is_empty() {
            bytes.push(b'x');
        }
    }
    bytes
}

#[test]
fn mutated_documents_never_panic() {
    let samples = [
        (docx_sample(), DocumentKind::Docx),
        (pdf_sample(), DocumentKind::Pdf),
        (rtf_sample(), DocumentKind::Rtf),
        (html_sample(), DocumentKind::Html),
        (b"Dear Dr\r\n\x92\xA3".to_vec(), DocumentKind::Text),
    ];
    let limits = Limits::default();
    for seed in [1u64, 0xDEAD_BEEF, 0x0123_4567_89AB_CDEF] {
        let mut rng = XorShift(seed);
        for (sample, kind) in &samples {
            assert!(
                to_text(sample, *kind, &limits).is_ok(),
                "{kind:?} sample must read"
            );
            for round in 0..300 {
                let bytes = mutate(&mut rng, sample);
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    let _ = sniff(&bytes);
                    to_text(&bytes, *kind, &limits)
                }));
                assert!(
                    outcome.is_ok(),
                    "{kind:?} panicked: seed {seed:#x}, round {round}"
                );
                if let Ok(Ok(text)) = outcome {
                    assert!(
                        text.pages
                            .iter()
                            .all(|r| text.text.get(r.clone()).is_some())
                    );
                }
            }
        }
    }
}
