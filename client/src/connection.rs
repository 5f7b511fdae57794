//! [`Connection`]: one SMTP connection (an SMTP-32 handle) and its blocking
//! operations.
//!
//! Every command returns the server's positive reply, or an [`Error`] whose
//! code is the SMTP-32 return code and which carries the server's 4xx/5xx
//! reply. One operation at a time per handle: a second one started while
//! another is in flight (from another thread) fails with `InProgress`;
//! [`Connection::xquit`] is the exception and cancels the one in flight.
//!
//! Child modules open a connection (`open.rs`), and add TLS, AUTH and the EHLO keywords (`tls_auth.rs`), the
//! one-call send (`sendmsg.rs`) and the batched send (`batch.rs`).

mod batch;
mod open;
pub use batch::Outgoing;
mod sendmsg;
mod tls_auth;
// What the async client (`asynchronous/`) shares with the blocking one.
#[cfg(all(feature = "tokio", unix))]
pub(crate) use batch::{check, stops_the_rest};
#[cfg(all(feature = "tokio", unix))]
pub(crate) use open::open_request;
#[cfg(all(feature = "tokio", unix))]
pub(crate) use sendmsg::{fits_one_request, not_sent, refusal};
#[cfg(all(feature = "tokio", unix))]
pub(crate) use tls_auth::find_extension;

use crate::callbacks::{BusyGuard, DebugCallback, HandleEntry, YieldHook};
use crate::client::Client;
use crate::data::{pump, DataStep, PumpEnd};
use crate::error::unexpected;
use crate::error::{check_line, Error, Result};
use crate::reader::on_reader_thread;
use crate::request_frame::RequestFrame;
use smtp32_protocol::{timeout_seconds, Command, Handle, Reply, Request, Response, ReturnCode};
use std::sync::Arc;

/// An open SMTP connection. Clones address the same handle.
#[derive(Clone)]
pub struct Connection {
    client: Client,
    handle: Handle,
    entry: Arc<HandleEntry>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("handle", &self.handle)
            .finish()
    }
}

impl Connection {
    pub(crate) fn new(client: Client, handle: Handle, entry: Arc<HandleEntry>) -> Self {
        Connection {
            client,
            handle,
            entry,
        }
    }

    /// The SMTP-32 handle (what C callers see).
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// True once the handle is gone on this side: after `quit`, `xquit`, or
    /// an aborted or reset operation.
    pub fn is_closed(&self) -> bool {
        self.entry.is_aborted() || self.entry.is_closed()
    }

    /// The daemon connection this handle lives on.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `MAIL FROM:<from>`: starts a message transaction. No ESMTP parameter
    /// is added (the message is not known yet): pass them after the address,
    /// `"<me@example.com> BODY=8BITMIME"`; [`Connection::sendmsg`] adds
    /// `SIZE=`, `BODY=8BITMIME` and `SMTPUTF8` itself.
    pub fn mail(&self, from: &str) -> Result<Reply> {
        check_line("from", from)?;
        self.command(Command::Mail {
            from: from.to_owned(),
        })
    }

    /// `SEND FROM:<from>` (RFC 821; most servers refuse it).
    pub fn send_from(&self, from: &str) -> Result<Reply> {
        check_line("from", from)?;
        self.command(Command::Send {
            from: from.to_owned(),
        })
    }

    /// `SOML FROM:<from>` (RFC 821; most servers refuse it).
    pub fn soml(&self, from: &str) -> Result<Reply> {
        check_line("from", from)?;
        self.command(Command::Soml {
            from: from.to_owned(),
        })
    }

    /// `SAML FROM:<from>` (RFC 821; most servers refuse it).
    pub fn saml(&self, from: &str) -> Result<Reply> {
        check_line("from", from)?;
        self.command(Command::Saml {
            from: from.to_owned(),
        })
    }

    /// `RCPT TO:<to>`: adds a recipient.
    pub fn rcpt(&self, to: &str) -> Result<Reply> {
        check_line("to", to)?;
        self.command(Command::Rcpt { to: to.to_owned() })
    }

    /// `NOOP`.
    pub fn noop(&self) -> Result<Reply> {
        self.command(Command::Noop)
    }

    /// `RSET`: abandons the current transaction.
    pub fn rset(&self) -> Result<Reply> {
        self.command(Command::Rset)
    }

    /// `VRFY name`.
    pub fn vrfy(&self, name: &str) -> Result<Reply> {
        check_line("name", name)?;
        self.command(Command::Vrfy {
            name: name.to_owned(),
        })
    }

    /// `EXPN name`; the reply has one line per member of the list.
    pub fn expn(&self, name: &str) -> Result<Reply> {
        check_line("name", name)?;
        self.command(Command::Expn {
            name: name.to_owned(),
        })
    }

    /// `HELP [topic]`; `None` or `""` asks for the general list.
    pub fn help(&self, topic: Option<&str>) -> Result<Reply> {
        let topic = topic.filter(|t| !t.is_empty());
        if let Some(t) = topic {
            check_line("topic", t)?;
        }
        self.command(Command::Help {
            topic: topic.map(str::to_owned),
        })
    }

    /// `TURN` (RFC 821; most servers refuse it).
    pub fn turn(&self) -> Result<Reply> {
        self.command(Command::Turn)
    }

    /// Sends one raw command line (without line ending) and returns the
    /// reply. It may not be `QUIT`: use [`Connection::quit`].
    pub fn direct(&self, line: &str) -> Result<Reply> {
        check_line("command", line)?;
        let verb = line.split_ascii_whitespace().next().unwrap_or("");
        if line.trim().is_empty() || verb.eq_ignore_ascii_case("QUIT") {
            return Err(Error::invalid_argument(
                "direct needs a command, and not QUIT (use quit)",
            ));
        }
        self.command(Command::Direct {
            line: line.to_owned(),
        })
    }

    /// Sends message bytes of the current transaction (the first call sends
    /// `DATA`). Line endings are normalised and dot-stuffing is done by the
    /// daemon. Finish with [`Connection::data_end`].
    pub fn data_buf(&self, bytes: &[u8]) -> Result<()> {
        let _busy = self.begin()?;
        for chunk in bytes.chunks(self.client.chunk_limit()) {
            self.send_chunk(chunk)?;
        }
        Ok(())
    }

    /// Ends the message and returns the server's verdict on it.
    pub fn data_end(&self) -> Result<Reply> {
        let _busy = self.begin()?;
        self.data_end_inner()
    }

    /// Sends a whole message pulled from `fill` (the `smtp_data` model):
    /// `fill` copies bytes into the buffer it is given (4 KiB to 64 KiB) and
    /// says how many; `DataStep::End` (or `Bytes(0)`) ends the message and
    /// the server's verdict is returned. `DataStep::Abort` resets the
    /// connection and returns an `Aborted` error; the handle is then gone.
    /// Claiming more bytes than the buffer holds does the same but returns
    /// `InvalidArgument`.
    pub fn data_from(&self, fill: impl FnMut(&mut [u8]) -> DataStep) -> Result<Reply> {
        let _busy = self.begin()?;
        let stop = || {
            self.entry
                .is_aborted()
                .then(|| Error::new(ReturnCode::Aborted, "aborted by xquit"))
        };
        match pump(
            self.client.chunk_limit(),
            fill,
            |c| self.send_chunk(c),
            stop,
        )? {
            PumpEnd::End => self.data_end_inner(),
            PumpEnd::Abort => {
                self.abort_quietly();
                Err(Error::new(
                    ReturnCode::Aborted,
                    "message aborted by the data callback",
                ))
            }
            PumpEnd::Overrun { claimed, room } => {
                self.abort_quietly();
                Err(Error::invalid_argument(format!(
                    "data callback claimed {claimed} bytes of a {room}-byte buffer; connection reset"
                )))
            }
        }
    }

    /// The last complete reply the server sent on this connection, if any.
    pub fn last_reply(&self) -> Result<Option<Reply>> {
        match self.request(Request::LastReply {
            handle: self.handle,
        })? {
            Response::LastReply(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// Sets the timeout for each later operation, in seconds (1..=999).
    pub fn set_timeout(&self, seconds: u32) -> Result<()> {
        let seconds = timeout_seconds(seconds).map_err(Error::invalid_argument)?;
        self.expect_done(Request::SetTimeout {
            handle: self.handle,
            seconds,
        })
    }

    /// Installs, replaces or (with `None`) removes the traffic callback. The
    /// daemon is asked only when copies must start or stop.
    pub fn set_debug(&self, callback: Option<DebugCallback>) -> Result<()> {
        match self.entry.replace_debug(callback) {
            None => Ok(()),
            Some(enabled) => self
                .expect_done(Request::SetDebug {
                    handle: self.handle,
                    enabled,
                })
                .inspect(|()| {
                    if enabled {
                        self.client.expect_events();
                    }
                })
                .inspect_err(|_| {
                    self.entry.debug_switch_failed(enabled);
                }),
        }
    }

    /// Sets the hook run while this handle's calls wait (`None`: no yielding).
    /// Yielding is on by default with [`default_yield`](crate::default_yield).
    pub fn set_yield(&self, hook: Option<YieldHook>) {
        self.entry.set_yield_hook(hook);
    }

    /// Sends `QUIT`, closes the connection and frees the handle; with the
    /// daemon's connection cache on, a clean session is kept warm for the
    /// next open with the same key instead (see the README).
    pub fn quit(self) -> Result<()> {
        let _busy = self.begin()?;
        let result = self.expect_done(Request::Quit {
            handle: self.handle,
        });
        if !matches!(&result, Err(e) if e.code() == ReturnCode::InProgress) {
            self.entry.mark_closed();
            self.client.routing().forget(self.handle);
        }
        result
    }

    /// Cancels whatever is in flight on this handle (an `xhelo` connect
    /// included), closes the connection at once and frees the handle. Safe
    /// from any thread while another call on the handle runs: that call then
    /// fails with `Aborted`. From a callback the request is sent without
    /// waiting for the daemon's answer.
    pub fn xquit(&self) -> Result<()> {
        self.entry.mark_aborted();
        let request = Request::XQuit {
            handle: self.handle,
        };
        if on_reader_thread() {
            // Writing may block behind a large data chunk; never do that on
            // the thread that reads, which must keep draining the daemon.
            let client = self.client.clone();
            std::thread::Builder::new()
                .name("smtp32-xquit".into())
                .spawn(move || {
                    let _ = client.send_only(request);
                })
                .map_err(|e| {
                    Error::new(
                        ReturnCode::Failure,
                        format!("cannot start xquit thread: {e}"),
                    )
                })?;
            return Ok(());
        }
        let result = match self.client.call(request, None, None) {
            Ok(Response::Done) => Ok(()),
            Ok(other) => Err(unexpected(other)),
            Err(e) => Err(e),
        };
        self.client.routing().forget(self.handle);
        result
    }

    fn command(&self, command: Command) -> Result<Reply> {
        let _busy = self.begin()?;
        match self.request(Request::Command {
            handle: self.handle,
            command,
        })? {
            Response::Reply(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    fn send_chunk(&self, chunk: &[u8]) -> Result<()> {
        self.expect_done(RequestFrame::DataChunk {
            handle: self.handle,
            bytes: chunk,
        })
    }

    fn data_end_inner(&self) -> Result<Reply> {
        match self.request(Request::DataEnd {
            handle: self.handle,
        })? {
            Response::Reply(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    fn expect_done<'a>(&self, request: impl Into<RequestFrame<'a>>) -> Result<()> {
        match self.request(request)? {
            Response::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Sends a request for this handle with its yield hook. An `Aborted`
    /// failure means the handle is gone; so does `InvalidHandle` after an
    /// `xquit` raced ahead of the request, which is reported as `Aborted`.
    fn request<'a>(&self, request: impl Into<RequestFrame<'a>>) -> Result<Response> {
        let result = self.client.call(request, self.entry.yield_hook(), None);
        match result {
            Err(e) if e.code() == ReturnCode::InvalidHandle && self.entry.is_aborted() => {
                self.client.routing().forget(self.handle);
                Err(Error::new(ReturnCode::Aborted, "aborted by xquit"))
            }
            Err(e) if e.is_aborted() => {
                self.client.routing().forget(self.handle);
                Err(e)
            }
            other => other,
        }
    }

    /// Claims the handle for one call. A handle that was closed or aborted
    /// before the call began is simply invalid (the manual: invalid once
    /// `smtp_xquit` returns); only a call already under way when an `xquit`
    /// arrives reports `Aborted`.
    fn begin(&self) -> Result<BusyGuard> {
        if self.is_closed() {
            return Err(Error::new(
                ReturnCode::InvalidHandle,
                "the handle was closed",
            ));
        }
        self.entry.begin().ok_or_else(|| {
            Error::new(
                ReturnCode::InProgress,
                "another operation is in progress on this handle",
            )
        })
    }

    /// Resets the connection after a callback abandoned the message.
    fn abort_quietly(&self) {
        let _ = self.xquit();
    }
}
