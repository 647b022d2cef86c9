//! Email → the referral letter it carries, and the documents sent with it.
//!
//! Input: a raw RFC 5322 message as the SMTP listener spooled it or a user saved it
//! (`.eml`). Output: an [`Email`] whose `letter` is the one document that is the
//! referral (a body or an attachment, in any letter format the letters pipeline reads)
//! and whose `supporting` documents are every other attachment, kept to be delivered
//! with the referral. MIME structure, transfer encodings (quoted-printable, base64)
//! and charsets are decoded by mail-parser (Stalwart); this module decides which part
//! is the letter:
//!
//! - forwarded chains are unwrapped, as attached `message/rfc822` parts and as inline
//!   "Forwarded message" / "Original Message" bodies: the letter is the innermost
//!   referral document, not the forwarder's note;
//! - `multipart/alternative` gives its plain text, else its HTML;
//! - when documents are attached, the one that reads most like a clinic letter is the
//!   letter (an NHS number, a patient, a date of birth, a signatory, "Dear ..."), and a
//!   cover note in the body ("please find attached") is not, unless the body reads as
//!   a letter clearly better than every attachment.
//!
//! Hostile input is bounded ([`MAX_MESSAGE_BYTES`], [`MAX_PARTS`], [`MAX_DEPTH`],
//! [`MAX_DECODED_BYTES`]): a thousand-part or deeply nested message is refused before
//! or right after parsing, cheaply. It never panics (the parser runs under
//! `catch_unwind`, as PDF extraction does), does no I/O, never logs, and its errors
//! carry no part of the message.

mod forward;
mod pick;
#[cfg(test)]
mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::document::{self, DocumentKind};

pub use forward::looks_like_email;

/// The media type of an email submitted whole.
pub const MEDIA_TYPE: &str = "message/rfc822";
/// Largest message read, in bytes (raw, as received).
pub const MAX_MESSAGE_BYTES: usize = 40 * 1024 * 1024;
/// Most MIME parts in a message, nested messages included. A referral email has a
/// handful; a thousand is an attack or a mailing-list digest, not a referral.
pub const MAX_PARTS: usize = 200;
/// Deepest nesting of multiparts and attached messages.
pub const MAX_DEPTH: usize = 12;
/// Most bytes decoded from all parts together.
pub const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;

/// A message read for its referral.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    /// The `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    /// The bare address of the `From` header.
    pub from: Option<String>,
    /// The document that is the referral letter.
    pub letter: Part,
    /// Other documents sent with it, in message order.
    pub supporting: Vec<Part>,
}

/// One document taken out of a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Part {
    /// The attachment's file name, if it had one (patient data: never log it).
    pub name: Option<String>,
    /// Its media type. Text taken from the message is UTF-8 (`; charset=utf-8`).
    pub media_type: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
}

// Messages and their parts are patient data: Debug shows only their shape.
impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("letter", &self.letter)
            .field("supporting", &self.supporting)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Part")
            .field("media_type", &self.media_type)
            .field("bytes", &self.bytes.len())
            .field("named", &self.name.is_some())
            .finish()
    }
}

/// Why a message gave no letter. Messages never carry any part of the input.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    /// The bytes are not an RFC 5322 message.
    #[error("not an email message (no message header)")]
    NotMime,
    /// Neither a body nor an attachment holds a document that could be the letter.
    #[error("email carries no letter (no text body and no document attached)")]
    NoLetter,
    /// Multiparts or attached messages nest deeper than [`MAX_DEPTH`].
    #[error("email nests parts or forwarded messages too deeply")]
    TooDeep,
    /// More than [`MAX_PARTS`] parts.
    #[error("email has too many MIME parts")]
    TooManyParts,
    /// Larger than [`MAX_MESSAGE_BYTES`], or decodes to more than [`MAX_DECODED_BYTES`].
    #[error("email exceeds a size limit")]
    TooLarge,
    /// The parser failed on damaged input.
    #[error("email is malformed and could not be read")]
    Malformed,
}

impl EmailError {
    /// A stable code for metrics, the audit log and replies.
    pub fn code(self) -> &'static str {
        match self {
            EmailError::NotMime => "not-mime",
            EmailError::NoLetter => "no-letter",
            EmailError::TooDeep => "too-deep",
            EmailError::TooManyParts => "too-many-parts",
            EmailError::TooLarge => "too-large",
            EmailError::Malformed => "malformed",
        }
    }
}

impl Part {
    /// The letter format of this part, judged by content, then declared type and name.
    pub fn kind(&self) -> Option<DocumentKind> {
        document_kind(&self.media_type, self.name.as_deref(), &self.bytes)
    }
}

/// Reads a message: its letter and supporting documents.
///
/// # Errors
/// [`EmailError::NotMime`] for bytes that are not a message; [`EmailError::TooLarge`],
/// [`EmailError::TooManyParts`] and [`EmailError::TooDeep`] past the bounds;
/// [`EmailError::NoLetter`] when nothing in it can be the letter;
/// [`EmailError::Malformed`] if the parser fails.
pub fn read(raw: &[u8]) -> Result<Email, EmailError> {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(EmailError::TooLarge);
    }
    // Given as an email (SMTP, `message/rfc822`): a header line first is enough.
    if !forward::starts_with_header(raw) {
        return Err(EmailError::NotMime);
    }
    // Every part that nests needs its own Content-Type line, so counting them bounds
    // parts and depth before the parser builds anything.
    if content_type_lines(raw) > MAX_PARTS {
        return Err(EmailError::TooManyParts);
    }
    // mail-parser promises not to panic; it is still third-party code on hostile
    // input (and has unchecked offset arithmetic), so a panic is a malformed message
    // here, never a crashed gateway. Only the parser runs under catch_unwind: a panic
    // in this module's own code must show up in the fuzzer, not be hidden.
    let message = match catch_unwind(AssertUnwindSafe(|| MessageParser::default().parse(raw))) {
        Ok(Some(message)) => message,
        Ok(None) => return Err(EmailError::NotMime),
        Err(_) => return Err(EmailError::Malformed),
    };
    let mut budget = Budget::default();
    check_shape(&message, 0, &mut budget)?;
    let mut found = Found::default();
    collect(&message, 0, &mut found);
    let (letter, supporting) = pick::pick(found)?;
    Ok(Email {
        message_id: message
            .message_id()
            .map(|id| id.trim_matches(['<', '>', ' ']).to_owned())
            .filter(|id| !id.is_empty()),
        from: message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_owned),
        letter,
        supporting,
    })
}

/// Lines that start with `Content-Type:` (any case).
fn content_type_lines(raw: &[u8]) -> usize {
    const NAME: &[u8] = b"content-type:";
    std::iter::once(0)
        .chain(memchr_newlines(raw))
        .filter(|&at| {
            raw.get(at..at + NAME.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(NAME))
        })
        .count()
}

fn memchr_newlines(raw: &[u8]) -> impl Iterator<Item = usize> + '_ {
    raw.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
}

#[derive(Default)]
struct Budget {
    parts: usize,
    decoded: usize,
}

/// Walks the whole tree (multipart children and attached messages) counting parts,
/// depth and decoded bytes. The part count also ends the walk on any malformed tree.
fn check_shape(message: &Message<'_>, depth: usize, budget: &mut Budget) -> Result<(), EmailError> {
    if message.parts.is_empty() {
        return Ok(());
    }
    walk_part(message, 0, depth, budget)
}

fn walk_part(
    message: &Message<'_>,
    id: u32,
    depth: usize,
    budget: &mut Budget,
) -> Result<(), EmailError> {
    if depth > MAX_DEPTH {
        return Err(EmailError::TooDeep);
    }
    budget.parts += 1;
    if budget.parts > MAX_PARTS {
        return Err(EmailError::TooManyParts);
    }
    let Some(part) = usize::try_from(id).ok().and_then(|i| message.parts.get(i)) else {
        return Ok(());
    };
    match &part.body {
        PartType::Multipart(children) => {
            for &child in children {
                // A part never contains itself or an earlier part; anything else is a
                // damaged tree and is not followed.
                if child > id {
                    walk_part(message, child, depth + 1, budget)?;
                }
            }
        }
        PartType::Message(nested) => check_shape(nested, depth + 1, budget)?,
        other => {
            budget.decoded += leaf_len(other);
            if budget.decoded > MAX_DECODED_BYTES {
                return Err(EmailError::TooLarge);
            }
        }
    }
    Ok(())
}

fn leaf_len(body: &PartType<'_>) -> usize {
    match body {
        PartType::Text(s) | PartType::Html(s) => s.len(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b.len(),
        PartType::Message(_) | PartType::Multipart(_) => 0,
    }
}

/// A document that could be the letter, or is kept as a supporting document.
pub(super) struct Candidate {
    pub(super) part: Part,
    /// How deeply forwarded it is: 0 in the message itself.
    pub(super) depth: usize,
    /// A letter format refgate reads (else it is only ever supporting).
    pub(super) kind: Option<DocumentKind>,
}

/// What the walk found: bodies (each forwarded segment on its own) and attachments,
/// in message order.
#[derive(Default)]
pub(super) struct Found {
    pub(super) bodies: Vec<Candidate>,
    pub(super) attachments: Vec<Candidate>,
}

/// Collects the bodies and attachments of a message and of every message in it.
fn collect(message: &Message<'_>, depth: usize, found: &mut Found) {
    if depth > MAX_DEPTH {
        return;
    }
    collect_body(message, depth, found);
    for &id in &message.attachments {
        let Some(part) = message.part(id) else {
            continue;
        };
        match &part.body {
            PartType::Message(nested) => collect(nested, depth + 1, found),
            PartType::Multipart(_) => {}
            // Images shown in the body (a signature, a letterhead: inline, or referenced
            // by Content-ID from HTML) are decoration, not documents.
            PartType::InlineBinary(bytes) | PartType::Binary(bytes)
                if decoration(part) && document_kind_of(part, bytes).is_none() => {}
            _ => {
                if let Some(candidate) = attachment(part, depth) {
                    found.attachments.push(candidate);
                }
            }
        }
    }
}

/// The body: the plain-text parts if there are any, else the HTML parts. A body
/// that forwards earlier messages inline is split at each forward, so the innermost
/// message can be the letter.
fn collect_body(message: &Message<'_>, depth: usize, found: &mut Found) {
    let texts = bodies(message, &message.text_body, false);
    if !texts.trim().is_empty() {
        for (i, segment) in forward::segments(&texts).into_iter().enumerate() {
            found.bodies.push(Candidate {
                part: Part {
                    name: None,
                    media_type: "text/plain; charset=utf-8".to_owned(),
                    bytes: segment.into_bytes(),
                },
                depth: depth + i,
                kind: Some(DocumentKind::Text),
            });
        }
        return;
    }
    let html = bodies(message, &message.html_body, true);
    if !html.trim().is_empty() {
        found.bodies.push(Candidate {
            part: Part {
                name: None,
                media_type: "text/html; charset=utf-8".to_owned(),
                bytes: html.into_bytes(),
            },
            depth,
            kind: Some(DocumentKind::Html),
        });
    }
}

/// The body parts of one kind joined (a client may split a body around an image).
fn bodies(message: &Message<'_>, ids: &[u32], html: bool) -> String {
    let mut out = String::new();
    for part in ids.iter().filter_map(|&id| message.part(id)) {
        let text = match (&part.body, html) {
            (PartType::Text(t), false) | (PartType::Html(t), true) => t,
            _ => continue,
        };
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(text);
    }
    // One line-end form, so paragraph breaks are found however the message was sent.
    out.replace("\r\n", "\n")
}

fn attachment(part: &MessagePart<'_>, depth: usize) -> Option<Candidate> {
    let name = part.attachment_name().map(str::to_owned);
    let declared = declared_type(part);
    let (media_type, bytes) = match &part.body {
        // mail-parser has decoded the charset: the text is UTF-8 now.
        PartType::Text(t) => (
            format!("{}; charset=utf-8", document::essence(&declared)),
            t.as_bytes().to_vec(),
        ),
        PartType::Html(t) => ("text/html; charset=utf-8".to_owned(), t.as_bytes().to_vec()),
        PartType::Binary(b) | PartType::InlineBinary(b) => (declared, b.to_vec()),
        PartType::Message(_) | PartType::Multipart(_) => return None,
    };
    if bytes.is_empty() {
        return None;
    }
    let kind = document_kind(&media_type, name.as_deref(), &bytes);
    Some(Candidate {
        part: Part {
            name,
            media_type,
            bytes,
        },
        depth,
        kind,
    })
}

/// A part shown inside the body rather than attached: inline, or named by a
/// Content-ID and not marked as an attachment.
fn decoration(part: &MessagePart<'_>) -> bool {
    let attached = part
        .content_disposition()
        .is_some_and(|d| d.is_attachment());
    matches!(part.body, PartType::InlineBinary(_)) || (part.content_id().is_some() && !attached)
}

fn declared_type(part: &MessagePart<'_>) -> String {
    part.content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_owned(),
        })
        .map(|t| t.to_ascii_lowercase())
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

fn document_kind_of(part: &MessagePart<'_>, bytes: &[u8]) -> Option<DocumentKind> {
    document_kind(&declared_type(part), part.attachment_name(), bytes)
}

/// The letter format of an attachment: the content decides for the binary formats
/// (senders mislabel); text and HTML need the declared type or the file name to say
/// "document", so that a calendar invite or a CSV is not read as a letter.
fn document_kind(media_type: &str, name: Option<&str>, bytes: &[u8]) -> Option<DocumentKind> {
    let sniffed = document::sniff(bytes);
    if let Some(kind @ (DocumentKind::Pdf | DocumentKind::Docx | DocumentKind::Rtf)) = sniffed {
        return Some(kind);
    }
    let declared = DocumentKind::from_media_type(media_type).or_else(|| by_extension(name?));
    match (declared, sniffed) {
        (Some(DocumentKind::Text | DocumentKind::Html), Some(kind)) => Some(kind),
        (Some(declared), _) => Some(declared),
        (None, _) => None,
    }
}

fn by_extension(name: &str) -> Option<DocumentKind> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "txt" => Some(DocumentKind::Text),
        "pdf" => Some(DocumentKind::Pdf),
        "docx" => Some(DocumentKind::Docx),
        "rtf" => Some(DocumentKind::Rtf),
        "htm" | "html" => Some(DocumentKind::Html),
        _ => None,
    }
}
