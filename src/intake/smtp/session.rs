//! The SMTP conversation (RFC 5321) on one stream, before or after STARTTLS.
//!
//! Commands are parsed by smtp-proto; the rules are ours: mail only after STARTTLS
//! (530), only from allow-listed senders and only to the configured referral
//! addresses (550, no relaying), sizes checked at MAIL FROM (SIZE=, RFC 1870) and
//! while reading DATA (552), and 250 at the end of DATA only once the message is
//! committed to the spool. Replies are fixed text plus our own hostname, size limit and
//! spool id: nothing the client sent is ever echoed (no header or reply injection), and
//! nothing identifying (addresses, subjects) is logged.

use std::borrow::Cow;

use smtp_proto::{Error as ParseError, MailFrom, RcptTo, Request};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::conn::{Conn, Data, Line};
use crate::config::is_address;
use crate::domain::OrgId;
use crate::telemetry::events::SmtpRefused;

/// Errors (syntax, refusals) a client may make before it is disconnected.
const MAX_ERRORS: u32 = 20;

/// Recipients per message. Only the referral addresses are valid, so more is abuse.
const MAX_RECIPIENTS: usize = 16;

/// How a conversation on one stream ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum End {
    /// The client asked for TLS and was told to go ahead: hand the stream over.
    StartTls,
    /// Finished (QUIT, disconnect, timeout, shutdown, too many errors): close.
    Close,
}

/// A message being assembled: MAIL FROM accepted, recipients so far.
struct Envelope {
    sender: String,
    org: OrgId,
    recipients: usize,
}

/// One conversation's state.
pub(super) struct Session {
    tls: bool,
    greeted: bool,
    envelope: Option<Envelope>,
    errors: u32,
}

/// What a command asks of the connection.
enum Next {
    Continue,
    Data,
    StartTls,
    Quit,
}

impl Session {
    pub(super) fn new(tls: bool) -> Self {
        Self {
            tls,
            greeted: false,
            envelope: None,
            errors: 0,
        }
    }

    /// Runs the conversation until it ends or asks for TLS.
    pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        shared: &Shared,
        stop: &CancellationToken,
    ) -> End {
        let idle = shared.limits.command_timeout;
        loop {
            let next = match conn.line(idle, stop).await {
                Line::Command(line) => self.command(conn, shared, &line),
                Line::TooLong => {
                    self.error(conn, "500 5.5.2 Line too long\r\n");
                    Next::Continue
                }
                Line::Closed => return End::Close,
                Line::TimedOut => return timed_out(conn, shared).await,
                Line::Stopped => return shutting_down(conn, shared).await,
            };
            match next {
                Next::Continue => {}
                Next::Quit => {
                    conn.reply("221 2.0.0 Bye\r\n");
                    conn.close(shared.limits.command_timeout).await;
                    return End::Close;
                }
                Next::StartTls => {
                    conn.reply("220 2.0.0 Ready to start TLS\r\n");
                    if conn.flush().await.is_err() {
                        return End::Close;
                    }
                    return End::StartTls;
                }
                Next::Data => {
                    if let Some(end) = self.data(conn, shared, stop).await {
                        return end;
                    }
                }
            }
            if self.errors >= MAX_ERRORS {
                return too_many_errors(conn, shared).await;
            }
        }
    }

    fn error<S: AsyncRead + AsyncWrite + Unpin>(&mut self, conn: &mut Conn<S>, reply: &str) {
        self.errors += 1;
        conn.reply(reply);
    }

    /// A refusal worth counting (policy, not syntax): replied, counted as an error,
    /// reported with a fixed reason code.
    fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        shared: &Shared,
        reason: &'static str,
        reply: &str,
    ) {
        SmtpRefused {
            reason,
            org: self.envelope.as_ref().map(|e| &e.org),
        }
        .emit(&shared.metrics);
        self.error(conn, reply);
    }

    fn command<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        shared: &Shared,
        line: &[u8],
    ) -> Next {
        let request = match Request::parse(&mut line.iter()) {
            Ok(r) => r,
            Err(e) => {
                self.error(conn, parse_error_reply(&e));
                return Next::Continue;
            }
        };
        match request {
            Request::Ehlo { .. } => {
                self.greeted = true;
                self.envelope = None;
                conn.reply(&self.ehlo(shared));
            }
            Request::Helo { .. } => {
                self.greeted = true;
                self.envelope = None;
                conn.reply(&format!("250 {}\r\n", shared.hostname));
            }
            Request::StartTls if self.tls => self.error(conn, "503 5.5.1 TLS already active\r\n"),
            Request::StartTls => return Next::StartTls,
            Request::Mail { from } => self.mail(conn, shared, &from),
            Request::Rcpt { to } => self.rcpt(conn, shared, &to),
            Request::Data => return self.data_command(conn, shared),
            Request::Rset => {
                self.envelope = None;
                conn.reply("250 2.0.0 OK\r\n");
            }
            Request::Noop { .. } => conn.reply("250 2.0.0 OK\r\n"),
            Request::Quit => return Next::Quit,
            Request::Vrfy { .. } => conn.reply("252 2.5.0 Cannot verify addresses\r\n"),
            Request::Help { .. } => conn.reply("214 2.0.0 See RFC 5321\r\n"),
            // Not advertised (AUTH, BDAT/CHUNKING, EXPN, ETRN, ...): refused.
            _ => self.error(conn, "502 5.5.1 Command not implemented\r\n"),
        }
        Next::Continue
    }

    /// The EHLO reply. STARTTLS is offered only before TLS (RFC 3207 4.2).
    fn ehlo(&self, shared: &Shared) -> String {
        let mut lines = vec![
            shared.hostname.clone(),
            format!("SIZE {}", shared.limits.max_message),
            "8BITMIME".to_owned(),
            "PIPELINING".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
        ];
        if !self.tls {
            lines.push("STARTTLS".to_owned());
        }
        let last = lines.len() - 1;
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
            .collect()
    }

    /// Checks shared by MAIL, RCPT and DATA: TLS first, then EHLO/HELO.
    fn ready_for_mail<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        shared: &Shared,
    ) -> bool {
        if !self.tls {
            let reply = "530 5.7.0 Must issue a STARTTLS command first\r\n";
            self.refuse(conn, shared, "starttls-required", reply);
            return false;
        }
        if !self.greeted {
            self.error(conn, "503 5.5.1 Send EHLO first\r\n");
            return false;
        }
        true
    }

    fn mail<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        shared: &Shared,
        from: &MailFrom<Cow<'_, str>>,
    ) {
        if !self.ready_for_mail(conn, shared) {
            return;
        }
        if self.envelope.is_some() {
            return self.error(conn, "503 5.5.1 Nested MAIL command\r\n");
        }
        if from.size > shared.limits.max_message {
            let reply = "552 5.3.4 Message size exceeds fixed limit\r\n";
            return self.refuse(conn, shared, "too-big", reply);
        }
        let address = from.address.as_ref();
        if !is_address(address) {
            // Also refuses the null sender (<>): bounces are not referrals.
            let reply = "550 5.7.1 Sender not allowed\r\n";
            return self.refuse(conn, shared, "sender-not-allowed", reply);
        }
        let Some(org) = shared.settings.sender_organisation(address) else {
            let reply = "550 5.7.1 Sender not allowed\r\n";
            return self.refuse(conn, shared, "sender-not-allowed", reply);
        };
        self.envelope = Some(Envelope {
            sender: address.to_owned(),
            org: org.id.clone(),
            recipients: 0,
        });
        conn.reply("250 2.1.0 Sender OK\r\n");
    }

    fn rcpt<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        shared: &Shared,
        to: &RcptTo<Cow<'_, str>>,
    ) {
        if !self.ready_for_mail(conn, shared) {
            return;
        }
        let Some(recipients) = self.envelope.as_ref().map(|e| e.recipients) else {
            return self.error(conn, "503 5.5.1 Need MAIL before RCPT\r\n");
        };
        let ours = shared
            .referral_addresses
            .iter()
            .any(|a| a.eq_ignore_ascii_case(to.address.as_ref()));
        if !ours {
            let reply = "550 5.7.1 Relaying denied\r\n";
            return self.refuse(conn, shared, "relaying-denied", reply);
        }
        if recipients >= MAX_RECIPIENTS {
            return self.error(conn, "452 4.5.3 Too many recipients\r\n");
        }
        if let Some(envelope) = self.envelope.as_mut() {
            envelope.recipients += 1;
        }
        conn.reply("250 2.1.5 Recipient OK\r\n");
    }

    fn data_command<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        shared: &Shared,
    ) -> Next {
        if !self.ready_for_mail(conn, shared) {
            return Next::Continue;
        }
        match &self.envelope {
            None => self.error(conn, "503 5.5.1 Need MAIL before DATA\r\n"),
            Some(e) if e.recipients == 0 => {
                self.error(conn, "554 5.5.1 No valid recipients\r\n");
            }
            Some(_) => {
                conn.reply("354 Start mail input; end with <CRLF>.<CRLF>\r\n");
                return Next::Data;
            }
        }
        Next::Continue
    }

    /// Reads the message and spools it; `Some` when the connection must end.
    async fn data<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        shared: &Shared,
        stop: &CancellationToken,
    ) -> Option<End> {
        let limits = &shared.limits;
        let deadline = Instant::now() + limits.data_timeout;
        let data = conn
            .data(
                limits.max_message,
                &shared.budget,
                limits.command_timeout,
                deadline,
                stop,
            )
            .await;
        // The transaction ends whatever happened (RFC 5321 4.1.4).
        let envelope = self.envelope.take()?;
        let (message, held) = match data {
            Data::Message(m, held) => (m, held),
            Data::NoRoom => {
                SmtpRefused {
                    reason: "busy",
                    org: Some(&envelope.org),
                }
                .emit(&shared.metrics);
                conn.reply("452 4.3.1 Insufficient system storage, try again later\r\n");
                return None;
            }
            Data::TooBig => {
                SmtpRefused {
                    reason: "too-big",
                    org: Some(&envelope.org),
                }
                .emit(&shared.metrics);
                self.error(conn, "552 5.3.4 Message size exceeds fixed limit\r\n");
                return None;
            }
            Data::Closed => return Some(End::Close),
            Data::TimedOut => return Some(timed_out(conn, shared).await),
            Data::Stopped => return Some(shutting_down(conn, shared).await),
        };
        let committed = shared
            .spool
            .commit(&envelope.org, &envelope.sender, message)
            .await;
        // The message's memory goes back to the budget once it is sealed and stored.
        drop(held);
        match committed {
            Ok(id) => conn.reply(&format!("250 2.0.0 Queued as {id}\r\n")),
            Err(e) => {
                tracing::error!(error = %e, channel = "email", org = %envelope.org, "smtp message could not be spooled");
                conn.reply("451 4.3.0 Temporary failure, try again later\r\n");
            }
        }
        None
    }
}

fn parse_error_reply(e: &ParseError) -> &'static str {
    match e {
        ParseError::UnknownCommand => "500 5.5.1 Command unrecognised\r\n",
        ParseError::InvalidSenderAddress => "501 5.1.7 Bad sender address syntax\r\n",
        ParseError::InvalidRecipientAddress => "501 5.1.3 Bad recipient address syntax\r\n",
        ParseError::InvalidParameter { .. } | ParseError::UnsupportedParameter { .. } => {
            "555 5.5.4 Parameter not recognised or not implemented\r\n"
        }
        ParseError::ResponseTooLong => "500 5.5.2 Line too long\r\n",
        _ => "501 5.5.2 Syntax error\r\n",
    }
}

async fn timed_out<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>, shared: &Shared) -> End {
    SmtpRefused {
        reason: "timeout",
        org: None,
    }
    .emit(&shared.metrics);
    conn.reply("421 4.4.2 Timeout, closing connection\r\n");
    conn.close(shared.limits.command_timeout).await;
    End::Close
}

async fn shutting_down<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    shared: &Shared,
) -> End {
    conn.reply("421 4.3.2 Service shutting down, try again later\r\n");
    conn.close(shared.limits.command_timeout).await;
    End::Close
}

async fn too_many_errors<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    shared: &Shared,
) -> End {
    SmtpRefused {
        reason: "too-many-errors",
        org: None,
    }
    .emit(&shared.metrics);
    conn.reply("421 4.7.0 Too many errors, closing connection\r\n");
    conn.close(shared.limits.command_timeout).await;
    End::Close
}
