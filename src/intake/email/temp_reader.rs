//! TEMP until `normalise::email` lands (MIME part, see PLAN-email.md): a minimal
//! reader with the contract's shape (`normalise::email::{read, Email, Part,
//! EmailError}`). At merge this file goes and the channel calls `normalise::email::read`.

/// One document of a message.
pub(super) struct Part {
    pub(super) media_type: String,
    pub(super) bytes: Vec<u8>,
}

/// What the channel needs of a message.
pub(super) struct Email {
    pub(super) message_id: Option<String>,
    pub(super) letter: Part,
}

/// Why a message cannot be read. Messages carry no input values.
#[derive(Debug, thiserror::Error)]
pub(super) enum EmailError {
    #[error("not a MIME message")]
    NotMime,
    #[error("no letter in the message")]
    NoLetter,
}

pub(super) fn reason_of(e: &EmailError) -> &'static str {
    match e {
        EmailError::NotMime => "not-mime",
        EmailError::NoLetter => "no-letter",
    }
}

/// The letter is the first attachment when there is one (a covering note in the body,
/// the letter attached), else the first text body, else the first HTML body.
pub(super) fn read_email(raw: &[u8]) -> Result<Email, EmailError> {
    use mail_parser::{MessageParser, MimeHeaders, PartType};

    let message = MessageParser::default()
        .parse(raw)
        .ok_or(EmailError::NotMime)?;
    // A message with no header at all is not mail (mail-parser reads anything).
    if message.headers().is_empty() {
        return Err(EmailError::NotMime);
    }
    let media_type = |part: &mail_parser::MessagePart<'_>, default: &str| {
        part.content_type()
            .map(|c| match &c.c_subtype {
                Some(sub) => format!("{}/{}", c.c_type, sub),
                None => c.c_type.to_string(),
            })
            .unwrap_or_else(|| default.to_owned())
            .to_ascii_lowercase()
    };
    let letter = if let Some(part) = message.attachments().find(|p| !p.is_message()) {
        Part {
            media_type: media_type(part, "application/octet-stream"),
            bytes: part.contents().to_vec(),
        }
    } else if let Some(text) = message
        .text_part(0)
        // Likewise an HTML-only message lists its HTML part as the text body.
        .and_then(|p| match &p.body {
            PartType::Text(text) => Some(text),
            _ => None,
        })
        .filter(|t| !t.trim().is_empty())
    {
        Part {
            media_type: "text/plain".to_owned(),
            bytes: text.as_bytes().to_vec(),
        }
    } else if let Some(html) = message
        .html_part(0)
        // mail-parser lists a text part as the HTML body too when there is no HTML
        // alternative (converted); only a real HTML part is a letter here.
        .and_then(|p| match &p.body {
            PartType::Html(html) => Some(html),
            _ => None,
        })
        .filter(|h| !h.trim().is_empty())
    {
        Part {
            media_type: "text/html".to_owned(),
            bytes: html.as_bytes().to_vec(),
        }
    } else {
        return Err(EmailError::NoLetter);
    };
    Ok(Email {
        message_id: message.message_id().map(str::to_owned),
        letter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_in_the_body_is_the_letter() {
        let raw = b"From: a@b.example\r\nMessage-ID: <x@y>\r\nSubject: s\r\n\r\nDear colleague\r\n";
        let email = read_email(raw).unwrap();
        assert_eq!(email.letter.media_type, "text/plain");
        assert!(email.letter.bytes.starts_with(b"Dear colleague"));
        assert_eq!(email.message_id.as_deref(), Some("x@y"));
    }

    #[test]
    fn an_attached_letter_wins_over_the_covering_note() {
        let raw = b"From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPlease find attached\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"l.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\nRGVhciBjb2xsZWFndWU=\r\n--b--\r\n";
        let email = read_email(raw).unwrap();
        assert_eq!(email.letter.bytes, b"Dear colleague");
    }

    #[test]
    fn an_email_with_a_blank_body_and_no_attachment_has_no_letter() {
        let raw = b"From: a@b.example\r\nSubject: s\r\n\r\n \r\n";
        assert!(matches!(read_email(raw), Err(EmailError::NoLetter)));
    }

    #[test]
    fn an_html_only_email_is_read_as_html() {
        let raw = b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n<p>Dear colleague</p>\r\n";
        let email = read_email(raw).unwrap();
        assert_eq!(email.letter.media_type, "text/html");
    }

    #[test]
    fn bytes_that_are_not_mail_are_refused() {
        assert!(read_email(b"").is_err());
        assert!(read_email(&[0xff; 64]).is_err());
    }
}
