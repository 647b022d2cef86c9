//! Text-level reading of messages: whether bytes are an email at all, and where a
//! body forwards an earlier message inline.

/// Header fields that only mail transport and mail clients write. A letter may start
/// with memo lines such as `From:`, `To:`, `Date:` or `Subject:`, but never with these.
const TRANSPORT_HEADERS: &[&str] = &[
    "mime-version",
    "received",
    "message-id",
    "return-path",
    "content-type",
    "content-transfer-encoding",
    "dkim-signature",
    "delivered-to",
    "x-mailer",
    "user-agent",
    "authentication-results",
    "arc-seal",
    "x-originating-ip",
    "thread-index",
];

/// Most header lines looked at before deciding.
const MAX_HEADER_LINES: usize = 500;

/// True if `bytes` start with an RFC 5322 header block: every line up to the first
/// blank line (or the end) is a `Name: value` field or a folded continuation, at least
/// one field is one only mail software writes (`Received`, `MIME-Version`,
/// `Message-ID`, `Content-Type` ...), and one of `From`, `Date`, `Subject`, `To`,
/// `Sender` is there. An mbox `From ` separator line before it is allowed.
///
/// A letter that opens with memo lines (`From: Dr ...`, `Re: ...`) is not an email:
/// it has no transport field, and its first ordinary sentence is not a field.
pub fn looks_like_email(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut lines = bytes
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .peekable();
    if lines.peek().is_some_and(|l| l.starts_with(b"From ")) {
        lines.next();
    }
    let (mut transport, mut addressed, mut fields) = (false, false, 0usize);
    for (n, line) in lines.enumerate() {
        if line.is_empty() || n >= MAX_HEADER_LINES {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if fields == 0 {
                return false;
            }
            continue;
        }
        let Some(name) = field_name(line) else {
            return false;
        };
        fields += 1;
        let name = name.to_ascii_lowercase();
        transport |= TRANSPORT_HEADERS.contains(&name.as_str());
        addressed |= matches!(name.as_str(), "from" | "date" | "subject" | "to" | "sender");
    }
    transport && addressed
}

/// True if `bytes` open with a header field (after an optional mbox `From ` line):
/// the least a message given to [`super::read`] as an email must have. Looser than
/// [`looks_like_email`], which decides whether unlabelled bytes are an email at all.
pub(super) fn starts_with_header(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut lines = bytes.split(|b| *b == b'\n');
    let first = match lines.next() {
        Some(l) if l.starts_with(b"From ") => lines.next(),
        other => other,
    };
    first
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .is_some_and(|l| field_name(l).is_some())
}

/// The name of a header field line: printable ASCII other than space and colon,
/// directly followed by a colon (RFC 5322 §2.2).
fn field_name(line: &[u8]) -> Option<&str> {
    let colon = line.iter().position(|b| *b == b':')?;
    let name = &line[..colon];
    let ok = !name.is_empty() && name.iter().all(|b| (33..=126).contains(b) && *b != b':');
    ok.then(|| std::str::from_utf8(name).ok()).flatten()
}

/// A body split at each inline forward: the text before the first forward line, then
/// each forwarded message without its quoted header block (`From:`, `Sent:`, `To:`,
/// `Subject:` ...), outermost first. A body without forwards is one segment. Segments
/// left empty are dropped, but at least one is always returned, and at most the
/// innermost [`MAX_SEGMENTS`].
pub(super) fn segments(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    // After a forward line: blank lines, then the quoted header block up to the first
    // blank line. The forwarded message's own lines (even a "Date:") come after it.
    let mut header = Header::Off;
    let lines: Vec<&str> = body.lines().collect();
    for (i, &line) in lines.iter().enumerate() {
        if is_forward_marker(line) || opens_quoted_message(line, &lines[i + 1..]) {
            push_segment(&mut out, std::mem::take(&mut current));
            header = Header::Expected;
            continue;
        }
        let bare = line.trim_start_matches(['>', ' ']).trim();
        header = match header {
            Header::Expected if bare.is_empty() => continue,
            Header::Expected | Header::Fields if is_quoted_header(bare) => {
                header = Header::Fields;
                continue;
            }
            Header::Fields if bare.is_empty() => {
                header = Header::Off;
                continue;
            }
            Header::Fields if line.starts_with([' ', '\t']) => continue,
            _ => Header::Off,
        };
        current.push_str(line);
        current.push('\n');
    }
    push_segment(&mut out, current);
    if out.is_empty() {
        out.push(body.to_owned());
    }
    // Each segment is read for how much it looks like a letter: a chain of thousands
    // of forwards must not cost thousands of reads. The innermost are kept.
    let excess = out.len().saturating_sub(MAX_SEGMENTS);
    out.drain(..excess);
    out
}

/// Most forwarded messages taken from one body.
const MAX_SEGMENTS: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Header {
    Off,
    Expected,
    Fields,
}

fn push_segment(out: &mut Vec<String>, text: String) {
    if !text.trim().is_empty() {
        out.push(unquote(text));
    }
}

/// Text where every non-blank line is quoted with `>` loses one level of quoting.
fn unquote(text: String) -> String {
    let quoted = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .all(|l| l.starts_with('>'));
    if !quoted {
        return text;
    }
    text.lines()
        .map(|l| {
            l.strip_prefix('>')
                .map_or(l, |l| l.strip_prefix(' ').unwrap_or(l))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines mail clients put above a forwarded or replied-to message: Gmail
/// (`---------- Forwarded message ---------`), Outlook (`-----Original Message-----`,
/// `________________________________` then `From:`), Apple Mail (`Begin forwarded
/// message:`), Thunderbird (`-------- Forwarded Message --------`).
fn is_forward_marker(line: &str) -> bool {
    let l = line
        .trim()
        .trim_start_matches('>')
        .trim()
        .to_ascii_lowercase();
    let dashed = l.starts_with("--") && l.ends_with("--") || l.starts_with("--") && l.len() < 60;
    (dashed && (l.contains("forwarded message") || l.contains("original message")))
        || l == "begin forwarded message:"
}

/// Lines that open a quoted message only when what follows says so: Outlook's rule of
/// underscores before a `From:` line, and a reply's "On <date>, <name> wrote:" before
/// `>`-quoted lines. Alone, either could be part of a letter.
fn opens_quoted_message(line: &str, rest: &[&str]) -> bool {
    let l = line.trim();
    let next = rest.iter().map(|l| l.trim()).find(|l| !l.is_empty());
    let rule = l.len() >= 10 && l.chars().all(|c| c == '_');
    if rule {
        return next.is_some_and(|n| n.to_ascii_lowercase().starts_with("from:"));
    }
    let lower = l.to_ascii_lowercase();
    let attribution = l.len() < 200 && lower.starts_with("on ") && lower.ends_with("wrote:");
    attribution && next.is_some_and(|n| n.starts_with('>'))
}

fn is_quoted_header(line: &str) -> bool {
    let Some((name, _)) = line.split_once(':') else {
        return false;
    };
    matches!(
        name.trim().to_ascii_lowercase().as_str(),
        "from" | "sent" | "date" | "to" | "cc" | "subject" | "reply-to" | "importance"
    )
}
