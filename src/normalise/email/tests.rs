use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;
use crate::normalise::document::tests::{docx, pdf};
use crate::normalise::{Format, normalise};

const LETTER: &str = "North East Essex Pain Management Service
Colchester

6 June 2025

Dear NHS Talking Therapies Essex,

I would be grateful if you could see Mrs Kathleen Mary O'SULLIVAN, date of birth
8 October 1957, NHS number 999 311 2976, of 12 Lexden Road, Colchester CO3 3NE.

Mrs O'Sullivan has chronic low back pain. PHQ-9 9 and GAD-7 14. She has no thoughts
of harming herself. She would benefit from CBT for anxiety.

Yours sincerely

Dr Simon Adebowale
Consultant Anaesthetist and Pain Physician
";

const COVER: &str = "Hello,\n\nPlease find attached a referral from Dr Adebowale.\n\nKind regards\nAnna Pike\nSecretary\n";

const HEAD: &str =
    "Received: from mail.example.nhs.uk by mx.example.nhs.uk; Mon, 9 Jun 2025 10:00:00 +0000
From: Anna Pike <anna.pike@example.nhs.uk>
To: referrals@example.nhs.uk
Subject: Referral
Date: Mon, 9 Jun 2025 10:00:00 +0000
Message-ID: <abc.123@example.nhs.uk>
MIME-Version: 1.0
";

fn plain(body: &str) -> Vec<u8> {
    format!("{HEAD}Content-Type: text/plain; charset=utf-8\n\n{body}").into_bytes()
}

/// A multipart message from (headers, body) parts.
fn multipart(subtype: &str, parts: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("{HEAD}Content-Type: multipart/{subtype}; boundary=\"b1\"\n\n");
    for (headers, body) in parts {
        out.push_str(&format!("--b1\n{headers}\n\n{body}\n"));
    }
    out.push_str("--b1--\n");
    out.into_bytes()
}

fn text_part(body: &str) -> (String, String) {
    (
        "Content-Type: text/plain; charset=utf-8".into(),
        body.into(),
    )
}

fn attached(media_type: &str, name: &str, bytes: &[u8]) -> (String, String) {
    let encoded = BASE64.encode(bytes);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    (
        format!(
            "Content-Type: {media_type}; name=\"{name}\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"{name}\""
        ),
        lines.join("\n"),
    )
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/emails/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn text_of(part: &Part) -> String {
    String::from_utf8(part.bytes.clone()).unwrap()
}

const DOCX_TYPE: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

fn letter_docx() -> Vec<u8> {
    let paragraphs: String = LETTER
        .lines()
        .map(|l| {
            format!(
                "<w:p><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>",
                l.replace('\'', "&apos;")
            )
        })
        .collect();
    docx(&paragraphs)
}

fn letter_pdf() -> Vec<u8> {
    let lines: Vec<&str> = LETTER.lines().collect();
    pdf(&[&lines])
}

#[test]
fn a_letter_in_the_plain_body_is_the_letter() {
    let email = read(&plain(LETTER)).unwrap();
    assert_eq!(email.letter.media_type, "text/plain; charset=utf-8");
    assert!(text_of(&email.letter).contains("999 311 2976"));
    assert!(email.supporting.is_empty());
    assert_eq!(email.message_id.as_deref(), Some("abc.123@example.nhs.uk"));
    assert_eq!(email.from.as_deref(), Some("anna.pike@example.nhs.uk"));
}

#[test]
fn a_cover_note_before_a_letter_in_the_body_is_cut() {
    let body = format!("Dear team,\n\nPlease accept the referral below.\n\nAnna Pike\n\n{LETTER}");
    let email = read(&plain(&body)).unwrap();
    let text = text_of(&email.letter);
    assert!(text.starts_with("North East Essex"), "{text}");
}

#[test]
fn a_cover_note_that_mentions_risk_is_kept_with_the_letter() {
    let body = format!(
        "Dear team,\n\nNB she told me on the phone she has had suicidal thoughts.\n\nAnna\n\n{LETTER}"
    );
    let email = read(&plain(&body)).unwrap();
    assert!(text_of(&email.letter).contains("suicidal thoughts"));
}

#[test]
fn the_shared_fixtures_carry_their_letters() {
    let fe01 = read(&fixture("FE01.eml")).unwrap();
    assert!(text_of(&fe01.letter).contains("999 070 2314"));
    let fe02 = read(&fixture("FE02.eml")).unwrap();
    assert!(text_of(&fe02.letter).contains("NHS 9998442222"));
    assert_eq!(fe02.letter.name.as_deref(), Some("Deakin_referral.txt"));
    assert!(fe02.supporting.is_empty(), "the cover note is not kept");
    let fe03 = read(&fixture("FE03.eml")).unwrap();
    assert_eq!(fe03.letter.kind(), Some(DocumentKind::Text));
    // Quoted-printable soft line breaks are joined.
    assert!(text_of(&fe03.letter).contains("She cares\nfor her father"));
}

#[test]
fn multipart_alternative_prefers_plain_text_and_html_only_gives_html() {
    let html = "<html><body><p>Dear colleague</p></body></html>";
    let alt = multipart(
        "alternative",
        &[
            text_part(LETTER),
            ("Content-Type: text/html; charset=utf-8".into(), html.into()),
        ],
    );
    let email = read(&alt).unwrap();
    assert_eq!(email.letter.kind(), Some(DocumentKind::Text));
    let html_letter = format!(
        "<html><body>{}</body></html>",
        LETTER
            .split("\n\n")
            .map(|p| format!("<p>{}</p>", p.replace('\n', "<br>")))
            .collect::<String>()
    );
    let only = format!("{HEAD}Content-Type: text/html; charset=utf-8\n\n{html_letter}");
    let email = read(only.as_bytes()).unwrap();
    assert_eq!(email.letter.media_type, "text/html; charset=utf-8");
    assert_eq!(email.letter.kind(), Some(DocumentKind::Html));
    let n = normalise(Format::Email, only.as_bytes(), today()).unwrap();
    assert_eq!(n.record.patient.nhs_number.as_deref(), Some("9993112976"));
}

#[test]
fn quoted_printable_and_windows_1252_bodies_are_decoded() {
    let mut raw = HEAD.as_bytes().to_vec();
    raw.extend_from_slice(
        b"Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: quoted-printable\n\n",
    );
    let body = LETTER
        .replace("O'SULLIVAN", "O=92SULLIVAN")
        .replace("of harming herself.", "of harming=\n herself. Fee =A3120.");
    raw.extend_from_slice(body.as_bytes());
    let email = read(&raw).unwrap();
    let text = text_of(&email.letter);
    assert!(text.contains("O\u{2019}SULLIVAN"), "{text}");
    assert!(text.contains("harming herself. Fee \u{a3}120."), "{text}");
}

#[test]
fn a_letter_attached_as_docx_pdf_or_rtf_is_the_letter_and_the_cover_note_is_not() {
    let rtf = format!("{{\\rtf1\\ansi {}}}", LETTER.replace('\n', "\\par\n"));
    for (media_type, name, bytes, kind) in [
        (DOCX_TYPE, "letter.docx", letter_docx(), DocumentKind::Docx),
        (
            "application/pdf",
            "letter.pdf",
            letter_pdf(),
            DocumentKind::Pdf,
        ),
        (
            "application/octet-stream",
            "letter.pdf",
            letter_pdf(),
            DocumentKind::Pdf,
        ),
        (
            "application/rtf",
            "letter.rtf",
            rtf.into_bytes(),
            DocumentKind::Rtf,
        ),
    ] {
        let raw = multipart(
            "mixed",
            &[text_part(COVER), attached(media_type, name, &bytes)],
        );
        let email = read(&raw).unwrap();
        assert_eq!(email.letter.kind(), Some(kind), "{name}");
        assert_eq!(email.letter.bytes, bytes, "{name}");
        assert!(email.supporting.is_empty());
        let n = normalise(Format::Email, &raw, today()).unwrap();
        assert_eq!(n.format, Format::Letter(kind));
        assert_eq!(n.record.patient.nhs_number.as_deref(), Some("9993112976"));
    }
}

#[test]
fn the_letter_among_attachments_is_the_one_that_reads_like_a_letter() {
    let results = "Blood results\n\nFBC normal. CRP 3. Vitamin D 54.\n";
    let raw = multipart(
        "mixed",
        &[
            text_part(COVER),
            attached("text/plain", "bloods.txt", results.as_bytes()),
            attached(DOCX_TYPE, "letter.docx", &letter_docx()),
            attached("image/png", "scan.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ],
    );
    let email = read(&raw).unwrap();
    assert_eq!(email.letter.name.as_deref(), Some("letter.docx"));
    let names: Vec<_> = email.supporting.iter().map(|p| p.name.as_deref()).collect();
    assert_eq!(names, vec![Some("bloods.txt"), Some("scan.png")]);
    assert_eq!(email.supporting[0].media_type, "text/plain; charset=utf-8");
    assert_eq!(email.supporting[1].media_type, "image/png");
}

#[test]
fn a_letter_in_the_body_keeps_attached_documents_as_supporting() {
    let results = "Blood results\n\nFBC normal.\n";
    let raw = multipart(
        "mixed",
        &[
            text_part(LETTER),
            attached("text/plain", "bloods.txt", results.as_bytes()),
        ],
    );
    let email = read(&raw).unwrap();
    assert!(text_of(&email.letter).contains("999 311 2976"));
    assert_eq!(email.supporting.len(), 1);
}

#[test]
fn an_attached_forwarded_message_gives_its_letter_not_the_forwarders_note() {
    let inner = String::from_utf8(multipart(
        "mixed",
        &[
            text_part(COVER),
            attached(DOCX_TYPE, "letter.docx", &letter_docx()),
        ],
    ))
    .unwrap();
    let raw = multipart(
        "mixed",
        &[
            text_part("FYI - forwarding this referral, it came to the wrong inbox.\n\nTom\n"),
            ("Content-Type: message/rfc822".into(), inner),
        ],
    );
    let email = read(&raw).unwrap();
    assert_eq!(email.letter.name.as_deref(), Some("letter.docx"));
    // And a forwarded message with the letter in its body.
    let raw = multipart(
        "mixed",
        &[
            text_part("FYI, see the referral below.\n\nTom\n"),
            (
                "Content-Type: message/rfc822".into(),
                String::from_utf8(plain(LETTER)).unwrap(),
            ),
        ],
    );
    let email = read(&raw).unwrap();
    assert!(text_of(&email.letter).contains("999 311 2976"));
    assert!(!text_of(&email.letter).contains("FYI"));
}

#[test]
fn an_inline_forwarded_chain_gives_the_innermost_letter() {
    let body = format!(
        "Please see below, forwarded again.\n\nTom\n\n\
         ---------- Forwarded message ---------\n\
         From: Anna Pike <anna.pike@example.nhs.uk>\n\
         Date: Mon, 9 Jun 2025 at 09:00\n\
         Subject: Fwd: Referral\n\
         To: <tom@example.nhs.uk>\n\n\
         Forwarding as discussed.\n\n\
         -----Original Message-----\n\
         From: Dr Simon Adebowale\n\
         Sent: 06 June 2025 16:00\n\
         To: Anna Pike\n\
         Subject: Referral\n\n\
         {LETTER}"
    );
    let email = read(&plain(&body)).unwrap();
    let text = text_of(&email.letter);
    assert!(text.starts_with("North East Essex"), "{text}");
    let n = normalise(Format::Email, &plain(&body), today()).unwrap();
    assert_eq!(
        n.record.referrer.name.as_deref(),
        Some("Dr Simon Adebowale")
    );
}

#[test]
fn a_forward_keeps_a_date_line_that_opens_the_forwarded_letter() {
    let body = "FYI\n\n---------- Forwarded message ---------\nFrom: A <a@example.org>\nSubject: x\n\nDate: 2025-01-28\n\nDear colleague\n";
    let segments = forward::segments(body);
    assert_eq!(
        segments.last().map(String::as_str),
        Some("Date: 2025-01-28\n\nDear colleague\n")
    );
}

#[test]
fn a_message_with_nothing_readable_has_no_letter() {
    let raw = multipart(
        "mixed",
        &[
            text_part("  \n"),
            attached("image/png", "photo.png", b"\x89PNG\r\n\x1a\n\0\0"),
        ],
    );
    assert_eq!(read(&raw).unwrap_err(), EmailError::NoLetter);
}

#[test]
fn a_thousand_part_message_is_refused_quickly() {
    let parts: Vec<(String, String)> = (0..1000).map(|i| text_part(&format!("part {i}"))).collect();
    let raw = multipart("mixed", &parts);
    let started = Instant::now();
    assert_eq!(read(&raw).unwrap_err(), EmailError::TooManyParts);
    // Parts without a Content-Type of their own are counted after parsing.
    let mut bare = format!("{HEAD}Content-Type: multipart/mixed; boundary=\"b1\"\n\n");
    for i in 0..1000 {
        bare.push_str(&format!("--b1\n\npart {i}\n"));
    }
    bare.push_str("--b1--\n");
    assert_eq!(read(bare.as_bytes()).unwrap_err(), EmailError::TooManyParts);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn deeply_nested_multiparts_and_forwards_are_refused_quickly() {
    let started = Instant::now();
    for levels in [40, 5000] {
        let mut raw = HEAD.to_owned();
        for i in 0..levels {
            raw.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"n{i}\"\n\n--n{i}\n"
            ));
        }
        raw.push_str("Content-Type: text/plain\n\nDear colleague\n");
        let err = read(raw.as_bytes()).unwrap_err();
        assert!(
            matches!(err, EmailError::TooDeep | EmailError::TooManyParts),
            "{levels}: {err:?}"
        );
        let mut forwards = HEAD.to_owned();
        for _ in 0..levels {
            forwards.push_str("Content-Type: message/rfc822\n\nFrom: a@example.org\n");
        }
        forwards.push_str("Content-Type: text/plain\n\nDear colleague\n");
        let err = read(forwards.as_bytes()).unwrap_err();
        assert!(
            matches!(err, EmailError::TooDeep | EmailError::TooManyParts),
            "{levels}: {err:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn oversize_messages_are_refused_before_parsing() {
    let raw = vec![b'a'; MAX_MESSAGE_BYTES + 1];
    assert_eq!(read(&raw).unwrap_err(), EmailError::TooLarge);
}

#[test]
fn a_letter_that_opens_with_memo_lines_is_not_an_email() {
    let memo = "From: Dr Simon Adebowale\nTo: Talking Therapies\nDate: 6 June 2025\nSubject: Referral\n\nDear colleague\n";
    assert!(!looks_like_email(memo.as_bytes()));
    // Given explicitly as an email (SMTP, message/rfc822), a bare header block is
    // enough: lettre or swaks may send no MIME-Version or Received.
    let minimal = format!("{memo}\n{LETTER}");
    assert!(text_of(&read(minimal.as_bytes()).unwrap().letter).contains("999 311 2976"));
    assert_eq!(read(LETTER.as_bytes()).unwrap_err(), EmailError::NotMime);
    assert!(matches!(
        Format::detect(memo.as_bytes()),
        Ok(Format::Letter(DocumentKind::Text))
    ));
    let letter_with_colons =
        "From: the clinic\nRe: Mrs Example\nNHS No: 999 070 2314\n\nDear colleague\n";
    assert!(!looks_like_email(letter_with_colons.as_bytes()));
    for name in ["FE01.eml", "FE02.eml", "FE03.eml"] {
        assert_eq!(
            Format::detect(&fixture(name)).unwrap(),
            Format::Email,
            "{name}"
        );
    }
    let mbox = format!(
        "From anna@example.nhs.uk Mon Jun  9 10:00:00 2025\n{}",
        String::from_utf8(plain(LETTER)).unwrap()
    );
    assert!(looks_like_email(mbox.as_bytes()));
    assert_eq!(
        Format::from_media_type("message/rfc822"),
        Some(Format::Email)
    );
}

#[test]
fn errors_carry_no_part_of_the_message() {
    let raw = multipart(
        "mixed",
        &[
            text_part(" "),
            attached("image/png", "Kathleen OSullivan.png", b"x"),
        ],
    );
    let err = read(&raw).unwrap_err();
    let problem = crate::normalise::email_problem(&err);
    for shown in [err.to_string(), problem.message.clone(), format!("{err:?}")] {
        assert!(
            !shown.contains("Sullivan") && !shown.contains("anna"),
            "{shown}"
        );
    }
    let email = read(&plain(LETTER)).unwrap();
    let debug = format!("{email:?}");
    assert!(
        !debug.contains("Sullivan") && !debug.contains("anna.pike"),
        "{debug}"
    );
}

#[test]
fn hostile_fragments_never_panic() {
    let samples: &[&[u8]] = &[
        b"",
        b"\r\n\r\n",
        b"MIME-Version: 1.0\nFrom: a\nContent-Type: multipart/mixed; boundary=\n\n--\n--\n",
        b"MIME-Version: 1.0\nFrom: a\nContent-Type: message/rfc822\n\n",
        b"MIME-Version: 1.0\nFrom: a\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n!!!!",
        b"MIME-Version: 1.0\nFrom: a\nContent-Type: multipart/digest; boundary=x\n\n--x\n\n--x\n\n--x--",
        b"MIME-Version: 1.0\nFrom: a\nContent-Transfer-Encoding: quoted-printable\n\n=\n=4\n=ZZ",
    ];
    for s in samples {
        let _ = read(s);
        let _ = normalise(Format::Email, s, today());
    }
}

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

#[test]
fn the_project_fixtures_pick_the_carried_letter_and_keep_the_rest() {
    let fe05 = read(&fixture("FE05.eml")).unwrap();
    assert_eq!(fe05.letter.kind(), Some(DocumentKind::Docx));
    let fe06 = read(&fixture("FE06.eml")).unwrap();
    assert_eq!(
        fe06.letter.kind(),
        Some(DocumentKind::Pdf),
        "octet-stream PDF"
    );
    let fe08 = read(&fixture("FE08.eml")).unwrap();
    assert_eq!(fe08.letter.kind(), Some(DocumentKind::Html));
    let fe09 = read(&fixture("FE09.eml")).unwrap();
    let text = text_of(&fe09.letter);
    assert!(text.starts_with("Meadowbank Surgery"), "{text}");
    let fe10 = read(&fixture("FE10.eml")).unwrap();
    assert_eq!(fe10.letter.name.as_deref(), Some("ONeill.docx"));
    assert!(fe10.supporting.is_empty());
    let fe11 = read(&fixture("FE11.eml")).unwrap();
    assert_eq!(fe11.letter.name.as_deref(), Some("Turner referral.pdf"));
    let names: Vec<_> = fe11.supporting.iter().map(|p| p.name.as_deref()).collect();
    assert_eq!(names, vec![Some("bloods.txt"), Some("clinic summary.pdf")]);
    let fe12 = read(&fixture("FE12.eml")).unwrap();
    let text = text_of(&fe12.letter);
    assert!(
        text.contains("O\u{2019}NEILL") && text.contains("\u{a3}7"),
        "{text}"
    );
}

#[test]
fn a_body_of_thousands_of_forwards_is_read_in_bounded_time() {
    let mut body = String::new();
    for i in 0..5000 {
        body.push_str(&format!(
            "note {i}\n\n---------- Forwarded message ---------\nFrom: a@example.org\n\n"
        ));
    }
    body.push_str(LETTER);
    let started = Instant::now();
    let email = read(&plain(&body)).unwrap();
    assert!(text_of(&email.letter).contains("999 311 2976"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn outlook_rules_and_quoted_replies_open_the_message_below_them() {
    let outlook = format!(
        "Please see the referral below.\n\nTom\n\n________________________________\nFrom: Dr Simon Adebowale\nSent: 06 June 2025 16:00\nTo: Tom\nSubject: Referral\n\n{LETTER}"
    );
    let text = text_of(&read(&plain(&outlook)).unwrap().letter);
    assert!(text.starts_with("North East Essex"), "{text}");
    let quoted: String = LETTER.lines().map(|l| format!("> {l}\n")).collect();
    let reply = format!(
        "Resending as requested.\n\nAnna\n\nOn Fri, 6 Jun 2025 at 16:00, Simon Adebowale <s.adebowale@example.nhs.uk> wrote:\n{quoted}"
    );
    let text = text_of(&read(&plain(&reply)).unwrap().letter);
    assert!(text.starts_with("North East Essex"), "{text}");
    // A rule of underscores inside a letter, with no quoted header after it, is text.
    let ruled = LETTER.replace("Yours sincerely", "__________________\n\nYours sincerely");
    assert_eq!(forward::segments(&ruled).len(), 1);
}

#[test]
fn a_scanned_letter_attached_is_the_letter_and_waits_for_a_person() {
    let scan = pdf(&[&[]]);
    let raw = multipart(
        "mixed",
        &[
            text_part(COVER),
            attached("application/pdf", "scan.pdf", &scan),
        ],
    );
    let email = read(&raw).unwrap();
    assert_eq!(email.letter.kind(), Some(DocumentKind::Pdf));
    let n = normalise(Format::Email, &raw, today()).unwrap();
    assert!(
        n.review_reasons.iter().any(|r| r.contains("no text layer")),
        "{:?}",
        n.review_reasons
    );
}

#[test]
fn inline_signature_images_are_not_kept_but_attached_images_are() {
    let related = format!(
        "--r1\nContent-Type: text/html; charset=utf-8\n\n<p>{}</p>\n--r1\nContent-Type: image/png\nContent-ID: <logo>\nContent-Disposition: inline\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--r1--",
        LETTER.replace('\n', "<br>")
    );
    let raw = multipart(
        "mixed",
        &[
            (
                "Content-Type: multipart/related; boundary=\"r1\"".to_owned(),
                related,
            ),
            attached("image/jpeg", "photo.jpg", b"\xff\xd8\xff\xe0 jpeg"),
        ],
    );
    let email = read(&raw).unwrap();
    assert_eq!(email.letter.kind(), Some(DocumentKind::Html));
    let kept: Vec<_> = email
        .supporting
        .iter()
        .map(|p| p.media_type.as_str())
        .collect();
    assert_eq!(kept, vec!["image/jpeg"]);
}

#[test]
fn a_body_that_reads_as_a_letter_is_kept_when_an_attachment_is_the_letter() {
    let raw = multipart(
        "mixed",
        &[
            text_part(LETTER),
            attached(DOCX_TYPE, "letter.docx", &letter_docx()),
        ],
    );
    let email = read(&raw).unwrap();
    assert_eq!(email.letter.name.as_deref(), Some("letter.docx"));
    assert_eq!(email.supporting.len(), 1);
    assert!(text_of(&email.supporting[0]).contains("999 311 2976"));
}
