//! Bytes in and out of one SMTP connection: command lines and DATA, with bounded
//! buffers and deadlines.
//!
//! Replies are queued and written together just before the next read, so a pipelining
//! client (RFC 2920) gets one write per batch of commands. Nothing read is ever copied
//! into a reply.

use std::sync::Arc;
use std::time::Duration;

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest command line accepted, CRLF included. RFC 5321 4.5.3.1.4 allows 512; the
/// slack covers MAIL/RCPT parameters of extensions.
pub(super) const MAX_LINE: usize = 2048;

/// Bytes read from the socket at a time: also how far a message may run past the size
/// limit in memory before the rest is discarded.
const CHUNK: usize = 16 * 1024;

/// What reading a command line gave.
#[derive(Debug)]
pub(super) enum Line {
    /// A whole line, LF included.
    Command(Vec<u8>),
    /// A line longer than [`MAX_LINE`]; it was discarded up to its end.
    TooLong,
    /// The client closed the connection (or it failed).
    Closed,
    /// The client sent nothing for the command timeout.
    TimedOut,
    /// The gateway is shutting down.
    Stopped,
}

/// What reading a message after DATA gave.
#[derive(Debug)]
pub(super) enum Data {
    /// The message, dot-unstuffed, without the final `.` line, and the memory it holds
    /// (returned to the budget when dropped, i.e. after the spool commit).
    Message(Vec<u8>, Reserved),
    /// Longer than the limit: read to its end and discarded.
    TooBig,
    /// Messages being received on all connections together already hold the memory
    /// budget: read to its end and discarded (the sender should try again later).
    NoRoom,
    Closed,
    TimedOut,
    Stopped,
}

/// Memory for messages being received, shared by all connections, in KiB: each
/// connection is bounded by the size limit, and this bounds them all together, so a
/// flood of large messages cannot exhaust memory.
pub(super) type Budget = Arc<Semaphore>;

/// The budget a budget of `bytes` makes.
pub(super) fn budget(bytes: usize) -> Budget {
    Arc::new(Semaphore::new((bytes / 1024).min(Semaphore::MAX_PERMITS)))
}

/// Memory one message holds from the [`Budget`]; given back when dropped.
#[derive(Debug)]
pub(super) struct Reserved {
    budget: Budget,
    kib: u32,
}

impl Reserved {
    fn new(budget: &Budget) -> Self {
        Self {
            budget: budget.clone(),
            kib: 0,
        }
    }

    /// Holds enough for `bytes`; false when the budget has no more.
    fn cover(&mut self, bytes: usize) -> bool {
        let want = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let more = want.saturating_sub(self.kib);
        if more == 0 {
            return true;
        }
        match self.budget.try_acquire_many(more) {
            Ok(permit) => {
                // Given back by hand in Drop, so the count can grow step by step.
                permit.forget();
                self.kib += more;
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.budget.add_permits(self.kib as usize);
    }
}

/// Why a message is being discarded.
#[derive(Debug, Clone, Copy)]
enum Discarded {
    TooBig,
    NoRoom,
}

enum Read {
    Bytes,
    Closed,
    TimedOut,
    Stopped,
}

/// One connection's stream and buffers.
pub(super) struct Conn<S> {
    stream: S,
    input: Vec<u8>,
    output: Vec<u8>,
    /// The rest of an over-long line is being skipped.
    skipping: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub(super) fn new(stream: S) -> Self {
        Self {
            stream,
            input: Vec::with_capacity(1024),
            output: Vec::with_capacity(512),
            skipping: false,
        }
    }

    /// The stream without its buffers. After STARTTLS this is what makes pipelined
    /// plaintext commands harmless: anything the client sent behind STARTTLS before
    /// the handshake is dropped here, never executed inside TLS (CVE-2011-0411).
    pub(super) fn into_stream(self) -> S {
        self.stream
    }

    /// Queues a reply (one or more complete lines, CRLF-terminated).
    pub(super) fn reply(&mut self, text: &str) {
        self.output.extend_from_slice(text.as_bytes());
    }

    /// Writes queued replies.
    pub(super) async fn flush(&mut self) -> std::io::Result<()> {
        if !self.output.is_empty() {
            self.stream.write_all(&self.output).await?;
            self.output.clear();
        }
        self.stream.flush().await
    }

    /// Writes queued replies and closes the sending side; errors no longer matter.
    pub(super) async fn close(&mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, async {
            let _ = self.flush().await;
            let _ = self.stream.shutdown().await;
        })
        .await;
    }

    /// The next command line, waiting at most `idle` for all of it: one deadline per
    /// line, not per read, so a client trickling a byte at a time cannot hold a
    /// connection open indefinitely (slowloris).
    pub(super) async fn line(&mut self, idle: Duration, stop: &CancellationToken) -> Line {
        let until = Instant::now() + idle;
        loop {
            if let Some(pos) = self.input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.input.drain(..=pos).collect();
                if self.skipping {
                    self.skipping = false;
                    return Line::TooLong;
                }
                if line.len() > MAX_LINE {
                    return Line::TooLong;
                }
                return Line::Command(line);
            }
            if self.input.len() > MAX_LINE {
                // Keep nothing of an over-long line: memory stays bounded however long
                // the client keeps the line going.
                self.input.clear();
                self.skipping = true;
            }
            if self.flush().await.is_err() {
                return Line::Closed;
            }
            match self.read(until, stop).await {
                Read::Bytes => {}
                Read::Closed => return Line::Closed,
                Read::TimedOut => return Line::TimedOut,
                Read::Stopped => return Line::Stopped,
            }
        }
    }

    /// The message after `354`, dot-unstuffed by smtp-proto's receiver. At most
    /// `max` bytes are kept (plus one read), and only while `budget` has room; past
    /// that the rest is read and dropped, so the connection stays usable for the next
    /// message. Each read waits at most `idle`, the whole message at most until
    /// `deadline`.
    pub(super) async fn data(
        &mut self,
        max: usize,
        budget: &Budget,
        idle: Duration,
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Data {
        let mut receiver = DataReceiver::new();
        let mut message = Vec::new();
        let mut reserved = Reserved::new(budget);
        // The receiver finds the end (CRLF . CRLF) and stuffed dots by looking at the
        // bytes before a dot; priming it with the CRLF that ended the DATA command lets
        // an empty message or a stuffed dot on the first line be read correctly.
        receiver.ingest(&mut b"\r\n".iter(), &mut message);
        message.clear();
        let mut discard: Option<(DummyDataReceiver, Discarded)> = None;
        if self.flush().await.is_err() {
            return Data::Closed;
        }
        loop {
            let input = std::mem::take(&mut self.input);
            let mut bytes = input.iter();
            let done = match discard.as_mut() {
                Some((d, _)) => d.ingest(&mut bytes),
                None => receiver.ingest(&mut bytes, &mut message),
            };
            // Whatever follows the end of the message is the next command (pipelining).
            self.input = bytes.as_slice().to_vec();
            if discard.is_none() {
                let why = if message.len() > max {
                    Some(Discarded::TooBig)
                } else if !reserved.cover(message.capacity()) {
                    Some(Discarded::NoRoom)
                } else {
                    None
                };
                if let Some(why) = why {
                    discard = Some((DummyDataReceiver::new_data(&receiver), why));
                    message = Vec::new();
                    reserved = Reserved::new(budget);
                }
            }
            if done {
                return match discard {
                    Some((_, Discarded::TooBig)) => Data::TooBig,
                    Some((_, Discarded::NoRoom)) => Data::NoRoom,
                    None => Data::Message(message, reserved),
                };
            }
            let until = deadline.min(Instant::now() + idle);
            match self.read(until, stop).await {
                Read::Bytes => {}
                Read::Closed => return Data::Closed,
                Read::TimedOut => return Data::TimedOut,
                Read::Stopped => return Data::Stopped,
            }
        }
    }

    async fn read(&mut self, until: Instant, stop: &CancellationToken) -> Read {
        let mut chunk = [0u8; CHUNK];
        tokio::select! {
            () = stop.cancelled() => Read::Stopped,
            r = tokio::time::timeout_at(until, self.stream.read(&mut chunk)) => match r {
                Err(_) => Read::TimedOut,
                Ok(Ok(0) | Err(_)) => Read::Closed,
                Ok(Ok(n)) => {
                    self.input.extend_from_slice(&chunk[..n]);
                    Read::Bytes
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn data_in(wire: &[u8], max: usize, budget: &Budget) -> (Data, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        client.write_all(wire).await.unwrap();
        let mut conn = Conn::new(server);
        let idle = Duration::from_secs(1);
        let stop = CancellationToken::new();
        let d = conn
            .data(max, budget, idle, Instant::now() + idle, &stop)
            .await;
        (d, conn.input)
    }

    async fn data_of(wire: &[u8], max: usize) -> (Data, Vec<u8>) {
        data_in(wire, max, &budget(1 << 20)).await
    }

    #[tokio::test]
    async fn a_message_is_dot_unstuffed_and_what_follows_is_kept_for_the_next_command() {
        let (d, rest) = data_of(b"..first\r\nline\r\n.\r\nQUIT\r\n", 100).await;
        let Data::Message(m, _) = d else {
            panic!("{d:?}")
        };
        assert_eq!(m, b".first\r\nline\r\n");
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[tokio::test]
    async fn an_empty_message_ends_at_the_first_dot_line() {
        let (d, _) = data_of(b".\r\n", 100).await;
        assert!(matches!(d, Data::Message(m, _) if m.is_empty()));
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_read_to_its_end_and_dropped() {
        let mut wire = b"x".repeat(50_000);
        wire.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
        let (d, rest) = data_of(&wire, 1000).await;
        assert!(matches!(d, Data::TooBig), "{d:?}");
        assert_eq!(rest, b"NOOP\r\n");
    }

    #[tokio::test]
    async fn messages_together_stay_within_the_memory_budget() {
        let budget = budget(64 * 1024);
        let mut wire = b"y".repeat(40_000);
        wire.extend_from_slice(b"\r\n.\r\n");
        let (first, _) = data_in(&wire, 100_000, &budget).await;
        let Data::Message(_, held) = first else {
            panic!("{first:?}")
        };
        // The first message still holds its memory: a second one does not fit.
        let (second, rest) = data_in(&[&wire[..], b"QUIT\r\n"].concat(), 100_000, &budget).await;
        assert!(matches!(second, Data::NoRoom), "{second:?}");
        assert_eq!(rest, b"QUIT\r\n");
        drop(held);
        assert_eq!(budget.available_permits(), 64, "all memory given back");
        let (third, _) = data_in(&wire, 100_000, &budget).await;
        assert!(matches!(third, Data::Message(..)), "{third:?}");
    }

    #[tokio::test]
    async fn an_over_long_line_is_skipped_to_its_end() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut wire = b"NOOP ".to_vec();
        wire.extend(b"a".repeat(MAX_LINE * 3));
        wire.extend_from_slice(b"\r\nQUIT\r\n");
        client.write_all(&wire).await.unwrap();
        let mut conn = Conn::new(server);
        let stop = CancellationToken::new();
        let idle = Duration::from_secs(1);
        assert!(matches!(conn.line(idle, &stop).await, Line::TooLong));
        assert!(matches!(conn.line(idle, &stop).await, Line::Command(l) if l == b"QUIT\r\n"));
        assert!(conn.input.len() <= MAX_LINE + CHUNK);
    }

    #[tokio::test]
    async fn a_silent_client_times_out() {
        let (_client, server) = tokio::io::duplex(1024);
        let mut conn = Conn::new(server);
        let line = conn
            .line(Duration::from_millis(20), &CancellationToken::new())
            .await;
        assert!(matches!(line, Line::TimedOut));
    }
}
