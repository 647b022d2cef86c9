//! A minimal HTTP/1.1 client over tokio-rustls for push delivery: the gateway's client
//! certificate presented, the provider's server certificate checked against `push.ca`,
//! connections kept alive per provider (a TLS handshake on both ends costs more than
//! building and sending a message).
//!
//! Why not awc: it needs an actix `LocalSet`, and the push worker runs on the plain
//! tokio runtime with the other workers. A kept connection the provider has closed
//! meanwhile is noticed when it yields no answer at all; the request then goes once
//! more on a new connection (same message id, so at worst a duplicate the provider drops).
//! Input: a target URL and a body. Output: the status code and (a bounded part of) the
//! answer. Never logs: the body carries patient data.

use std::sync::{Arc, Mutex};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::push::PushError;

/// The most of an answer that is read: enough for a FHIR response message or an
/// OperationOutcome, not a way for a provider to make the gateway buffer without end.
const MAX_ANSWER: usize = 1024 * 1024;
/// Idle connections kept per provider.
const MAX_IDLE: usize = 64;

type Stream = tokio_rustls::client::TlsStream<TcpStream>;

/// A provider's `$process-message` endpoint, parsed once at start-up.
#[derive(Debug, Clone)]
pub(super) struct Target {
    host: String,
    port: u16,
    /// What goes in the Host header.
    authority: String,
    path: String,
    server_name: ServerName<'static>,
    /// Connections whose last answer left them open. The lock is never held across
    /// an await: a connection is taken out, used, and put back.
    idle: Arc<Mutex<Vec<Stream>>>,
}

impl Target {
    /// Parses an `https://` URL (checked by config validation).
    ///
    /// # Errors
    /// [`PushError::Url`] for anything else.
    pub(super) fn parse(url: &str) -> Result<Self, PushError> {
        let uri: awc::http::Uri = url.parse().map_err(|_| PushError::Url)?;
        if uri.scheme_str() != Some("https") {
            return Err(PushError::Url);
        }
        let authority = uri.authority().ok_or(PushError::Url)?.as_str().to_owned();
        let host = uri
            .host()
            .ok_or(PushError::Url)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let server_name = ServerName::try_from(host.clone()).map_err(|_| PushError::Url)?;
        let path = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        Ok(Self {
            host,
            port: uri.port_u16().unwrap_or(443),
            authority,
            path,
            server_name,
            idle: Arc::new(Mutex::new(Vec::new())),
        })
    }
}

/// The provider's answer.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs `body` as `application/fhir+json` with `X-Request-ID: request_id`, on a kept
/// connection when one is idle.
///
/// # Errors
/// [`PushError::Connect`], [`PushError::Tls`], [`PushError::Io`] or
/// [`PushError::Protocol`]; the caller applies the timeout.
pub(super) async fn post(
    tls: &TlsConnector,
    target: &Target,
    request_id: &str,
    body: &[u8],
) -> Result<Answer, PushError> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: refgate/{version}\r\n\
         Content-Type: application/fhir+json; fhirVersion=4.0\r\nAccept: application/fhir+json\r\n\
         X-Request-ID: {request_id}\r\nContent-Length: {len}\r\n\r\n",
        path = target.path,
        host = target.authority,
        version = env!("CARGO_PKG_VERSION"),
        len = body.len(),
    );
    let mut request = Vec::with_capacity(head.len() + body.len());
    request.extend_from_slice(head.as_bytes());
    request.extend_from_slice(body);
    let kept = target.idle.lock().ok().and_then(|mut idle| idle.pop());
    if let Some(mut stream) = kept {
        match exchange(&mut stream, &request).await {
            Ok((answer, reusable)) => {
                keep(target, stream, reusable);
                return Ok(answer);
            }
            // Closed by the provider while idle: nothing came back, so try a new one.
            Err(Exchange::NoAnswer(_)) => {}
            Err(Exchange::Failed(e)) => return Err(e),
        }
    }
    let mut stream = connect(tls, target).await?;
    match exchange(&mut stream, &request).await {
        Ok((answer, reusable)) => {
            keep(target, stream, reusable);
            Ok(answer)
        }
        Err(Exchange::NoAnswer(e) | Exchange::Failed(e)) => Err(e),
    }
}

async fn connect(tls: &TlsConnector, target: &Target) -> Result<Stream, PushError> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(PushError::Connect)?;
    // Nagle would hold the body back behind the head for a round trip.
    let _ = tcp.set_nodelay(true);
    tls.connect(target.server_name.clone(), tcp)
        .await
        .map_err(PushError::Tls)
}

fn keep(target: &Target, stream: Stream, reusable: bool) {
    if !reusable {
        return;
    }
    if let Ok(mut idle) = target.idle.lock()
        && idle.len() < MAX_IDLE
    {
        idle.push(stream);
    }
}

/// How an exchange failed: before any byte of an answer (the request may be sent
/// again on a new connection) or after.
enum Exchange {
    NoAnswer(PushError),
    Failed(PushError),
}

/// Sends the request and reads the answer; `true` with it when the connection may
/// carry another request (framed answer, no `Connection: close`).
async fn exchange(stream: &mut Stream, request: &[u8]) -> Result<(Answer, bool), Exchange> {
    let sent = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    sent.await
        .map_err(|e| Exchange::NoAnswer(PushError::Io(e)))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(answer) = complete(&buf).map_err(Exchange::Failed)? {
            return Ok((answer, !closes(&buf)));
        }
        if buf.len() >= MAX_ANSWER {
            return parse(&buf).map(|a| (a, false)).map_err(Exchange::Failed);
        }
        match stream.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => return Err(Exchange::NoAnswer(PushError::Protocol)),
            Ok(0) => return parse(&buf).map(|a| (a, false)).map_err(Exchange::Failed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if buf.is_empty() => return Err(Exchange::NoAnswer(PushError::Io(e))),
            // Some servers reset or skip close_notify after a `Connection: close`
            // answer; what was read is the answer.
            Err(_) if find(&buf, b"\r\n\r\n").is_some() => {
                return parse(&buf).map(|a| (a, false)).map_err(Exchange::Failed);
            }
            Err(e) => return Err(Exchange::Failed(PushError::Io(e))),
        }
    }
}

/// Whether the connection closes after this answer: `Connection: close`, or HTTP/1.0.
fn closes(buf: &[u8]) -> bool {
    let end = find(buf, b"\r\n\r\n").unwrap_or(buf.len());
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return true;
    };
    head.starts_with("HTTP/1.0")
        || header(head, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

/// The answer, once `buf` holds all of it (by Content-Length or the last chunk).
fn complete(buf: &[u8]) -> Result<Option<Answer>, PushError> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| PushError::Protocol)?;
    let rest = &buf[end + 4..];
    if let Some(len) = header(head, "content-length") {
        let len: usize = len.parse().map_err(|_| PushError::Protocol)?;
        return if rest.len() >= len {
            parse(buf).map(Some)
        } else {
            Ok(None)
        };
    }
    if header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return if rest.ends_with(b"0\r\n\r\n") {
            parse(buf).map(Some)
        } else {
            Ok(None)
        };
    }
    // 204 and 304 have no body; anything else without a length runs to the close.
    let status = status_of(head)?;
    Ok(
        (status == 204 || status == 304 || (100..200).contains(&status)).then(|| Answer {
            status,
            body: Vec::new(),
        }),
    )
}

fn parse(buf: &[u8]) -> Result<Answer, PushError> {
    let end = find(buf, b"\r\n\r\n").ok_or(PushError::Protocol)?;
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| PushError::Protocol)?;
    let status = status_of(head)?;
    let rest = &buf[end + 4..];
    let body = if let Some(len) = header(head, "content-length") {
        let len: usize = len.parse().map_err(|_| PushError::Protocol)?;
        rest.get(..len).unwrap_or(rest).to_vec()
    } else if header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest).unwrap_or_default()
    } else {
        rest.to_vec()
    };
    Ok(Answer { status, body })
}

fn status_of(head: &str) -> Result<u16, PushError> {
    let line = head.lines().next().ok_or(PushError::Protocol)?;
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => {
            code.parse().map_err(|_| PushError::Protocol)
        }
        _ => Err(PushError::Protocol),
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The TLS connector: the gateway's client certificate, trusting only `push.ca`.
///
/// # Errors
/// [`PushError::TlsConfig`] naming the file at fault.
pub(super) fn connector(s: &crate::config::PushSettings) -> Result<TlsConnector, PushError> {
    let config = crate::tls::client_config(&s.ca, Some(&s.client_cert), Some(&s.client_key))
        .map_err(PushError::TlsConfig)?;
    Ok(TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_complete_by_length_or_last_chunk() {
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let a = complete(whole).unwrap().unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"ok"[..]));
        assert!(complete(&whole[..whole.len() - 1]).unwrap().is_none());
        let chunked = b"HTTP/1.1 500 X\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let a = complete(chunked).unwrap().unwrap();
        assert_eq!((a.status, a.body.as_slice()), (500, &b"abc"[..]));
        assert!(complete(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn targets_are_https_with_host_port_and_path() {
        let t = Target::parse("https://127.0.0.1:8443/fhir/$process-message").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8443));
        assert_eq!(t.path, "/fhir/$process-message");
        assert!(Target::parse("http://example.org/x").is_err());
    }
}
