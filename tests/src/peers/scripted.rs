//! Our own tiny SMTP server, only for faults that real servers can't produce on cue.
//!
//! Each accepted connection plays the same [`Script`]: send a line, expect a command, stall,
//! close. Every line the client sends and every connect/close is reported as a
//! [`ServerEvent`], so a test can wait for "the client has sent MAIL" instead of sleeping.
//! A stalled connection keeps reading (and reporting) until the client closes it or the server
//! is dropped, so a test can also observe that the daemon hung up. For the fault matrix a
//! script can also freeze (stop reading, so the client's writes back up), delay, flood the
//! client with bytes, read a whole message, or reset the connection (TCP RST).

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a blocked read checks whether the server is shutting down.
const POLL: Duration = Duration::from_millis(20);

/// One step of a script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Write these bytes as they are.
    Send(Vec<u8>),
    /// Read one line; its first word must be this verb (case-insensitive), else the
    /// connection is closed and [`ServerEvent::Unexpected`] reported.
    Expect(String),
    /// Read one line, whatever it is.
    ExpectAny,
    /// Never answer again: keep reading and reporting until the client closes.
    Stall,
    /// Answer every further line with `250 ok` (`354` to DATA, then `250` after the dot).
    AcceptAll,
    /// Close the connection.
    Close,
    /// Read lines up to and including the lone `.` that ends a message.
    ExpectMessage,
    /// Neither read nor write again, so the client's writes fill the socket buffers; hold
    /// the connection open until the server is dropped.
    Freeze,
    /// Wait this long before the next step (a slow server).
    Delay(Duration),
    /// Write `line` over and over, `total` bytes in all or until the client hangs up.
    Flood { line: Vec<u8>, total: usize },
    /// Reset the connection: SO_LINGER 0, then close, so the client gets a TCP RST.
    Reset,
    /// Like `AcceptAll`, but every command other than DATA, the final dot and QUIT is answered
    /// with these bytes (a whole reply, line endings included).
    AnswerAllWith(Vec<u8>),
}

/// What a connection does, step by step.
#[derive(Debug, Clone, Default)]
pub struct Script {
    steps: Vec<Step>,
}

impl Script {
    /// An empty script (the connection closes at once).
    pub fn new() -> Script {
        Script::default()
    }

    /// Sends `line` followed by CRLF.
    pub fn reply(mut self, line: &str) -> Script {
        self.steps
            .push(Step::Send(format!("{line}\r\n").into_bytes()));
        self
    }

    /// Sends `bytes` exactly.
    pub fn raw(mut self, bytes: &[u8]) -> Script {
        self.steps.push(Step::Send(bytes.to_vec()));
        self
    }

    /// Reads a line whose verb is `verb`.
    pub fn expect(mut self, verb: &str) -> Script {
        self.steps.push(Step::Expect(verb.to_ascii_uppercase()));
        self
    }

    /// Reads any one line.
    pub fn expect_any(mut self) -> Script {
        self.steps.push(Step::ExpectAny);
        self
    }

    /// Stops answering.
    pub fn stall(mut self) -> Script {
        self.steps.push(Step::Stall);
        self
    }

    /// Answers everything positively from here on.
    pub fn accept_all(mut self) -> Script {
        self.steps.push(Step::AcceptAll);
        self
    }

    /// Closes the connection.
    pub fn close(mut self) -> Script {
        self.steps.push(Step::Close);
        self
    }

    /// Answers every further command with `reply` (whole reply bytes), DATA with 354, the final
    /// dot with 250 and QUIT with 221.
    pub fn answer_all_with(mut self, reply: &[u8]) -> Script {
        self.steps.push(Step::AnswerAllWith(reply.to_vec()));
        self
    }

    /// Reads a whole message, up to its final lone `.`.
    pub fn expect_message(mut self) -> Script {
        self.steps.push(Step::ExpectMessage);
        self
    }

    /// Stops reading and writing (the client's writes back up), holding the connection open.
    pub fn freeze(mut self) -> Script {
        self.steps.push(Step::Freeze);
        self
    }

    /// Waits `delay` before the next step.
    pub fn delay(mut self, delay: Duration) -> Script {
        self.steps.push(Step::Delay(delay));
        self
    }

    /// Writes `line` repeatedly, `total` bytes in all (or until the client hangs up).
    pub fn flood(mut self, line: &[u8], total: usize) -> Script {
        self.steps.push(Step::Flood {
            line: line.to_vec(),
            total,
        });
        self
    }

    /// Resets the connection (TCP RST).
    pub fn reset(mut self) -> Script {
        self.steps.push(Step::Reset);
        self
    }

    /// Greeted, then MAIL and RCPT accepted: ready for DATA.
    pub fn in_transaction() -> Script {
        Script::greeted()
            .expect("MAIL")
            .reply("250 sender ok")
            .expect("RCPT")
            .reply("250 recipient ok")
    }

    /// In a transaction, DATA answered with 354: the message may come.
    pub fn in_data() -> Script {
        Script::in_transaction()
            .expect("DATA")
            .reply("354 go ahead")
    }

    /// The greeting and an EHLO answered, ready for MAIL.
    pub fn greeted() -> Script {
        Script::new()
            .reply("220 scripted.test ESMTP")
            .expect("EHLO")
            .reply("250 scripted.test")
    }

    /// Accepts the TCP connection but never sends a greeting.
    pub fn never_greet() -> Script {
        Script::new().stall()
    }

    /// Greets, then never answers anything (EHLO included).
    pub fn greet_then_stall() -> Script {
        Script::new().reply("220 scripted.test ESMTP").stall()
    }

    /// Greets and answers EHLO, then never answers MAIL.
    pub fn stall_after_mail() -> Script {
        Script::greeted().expect("MAIL").stall()
    }

    /// Greets and answers EHLO, then stalls on the first NOOP.
    pub fn stall_on_noop() -> Script {
        Script::greeted().expect("NOOP").stall()
    }

    /// Greets, then closes the connection.
    pub fn close_after_greeting() -> Script {
        Script::new().reply("220 scripted.test ESMTP").close()
    }
}

/// Something that happened on one of the server's connections (numbered from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A client connected.
    Connected { conn: usize },
    /// The client sent this line (without its line ending).
    Received { conn: usize, line: String },
    /// An `Expect` step got a different command.
    Unexpected {
        conn: usize,
        expected: String,
        line: String,
    },
    /// The client closed or reset the connection.
    ClientClosed { conn: usize },
    /// The script ran to its end (or to `Close`) and the server closed the connection.
    ServerClosed { conn: usize },
}

/// A scripted server on a loopback port; stops (closing every connection) on drop.
pub struct ScriptedServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    events: Mutex<Receiver<ServerEvent>>,
    /// Every event received, and whether a wait has returned it.
    seen: Mutex<Vec<(ServerEvent, bool)>>,
}

impl ScriptedServer {
    /// Starts a server whose every connection plays `script`.
    pub fn start(script: Script) -> ScriptedServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let accept_stop = stop.clone();
        std::thread::Builder::new()
            .name("scripted accept".into())
            .spawn(move || accept_loop(listener, script, accept_stop, tx))
            .expect("spawn accept thread");
        ScriptedServer {
            addr,
            stop,
            events: Mutex::new(rx),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, the host string for `smtp_helo`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Waits for the earliest event that `pred` accepts and that no earlier wait returned
    /// (events a wait skipped stay available to later waits); panics after `timeout` listing
    /// the events seen.
    pub fn wait_event(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&ServerEvent) -> bool,
    ) -> ServerEvent {
        let deadline = Instant::now() + timeout;
        let rx = self.events.lock().unwrap();
        loop {
            {
                let mut seen = self.seen.lock().unwrap();
                while let Ok(ev) = rx.try_recv() {
                    seen.push((ev, false));
                }
                if let Some((ev, taken)) = seen.iter_mut().find(|(ev, taken)| !*taken && pred(ev)) {
                    *taken = true;
                    return ev.clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(ev) => self.seen.lock().unwrap().push((ev, false)),
                Err(_) => panic!(
                    "scripted server: no {what} within {timeout:?}; events so far: {:?}",
                    self.events_locked(&rx)
                ),
            }
        }
    }

    /// Waits until a client has sent a line whose verb is `verb`; returns the line.
    pub fn wait_received(&self, verb: &str, timeout: Duration) -> String {
        let verb = verb.to_ascii_uppercase();
        match self.wait_event(
            &format!("{verb} command"),
            timeout,
            |ev| matches!(ev, ServerEvent::Received { line, .. } if verb_of(line) == verb),
        ) {
            ServerEvent::Received { line, .. } => line,
            _ => unreachable!(),
        }
    }

    /// Waits until a client has connected; returns its connection number.
    pub fn wait_connected(&self, timeout: Duration) -> usize {
        match self.wait_event("connection", timeout, |ev| {
            matches!(ev, ServerEvent::Connected { .. })
        }) {
            ServerEvent::Connected { conn } => conn,
            _ => unreachable!(),
        }
    }

    /// Waits until the client side of connection `conn` has closed it.
    pub fn wait_client_closed(&self, conn: usize, timeout: Duration) {
        self.wait_event(
            &format!("client close of connection {conn}"),
            timeout,
            |ev| *ev == ServerEvent::ClientClosed { conn },
        );
    }

    /// Every event so far, in order (whether or not a wait returned it).
    pub fn events(&self) -> Vec<ServerEvent> {
        let rx = self.events.lock().unwrap();
        self.events_locked(&rx)
    }

    fn events_locked(&self, rx: &Receiver<ServerEvent>) -> Vec<ServerEvent> {
        let mut seen = self.seen.lock().unwrap();
        while let Ok(ev) = rx.try_recv() {
            seen.push((ev, false));
        }
        seen.iter().map(|(ev, _)| ev.clone()).collect()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// SO_LINGER with a zero timeout: closing the socket then sends a RST instead of a FIN.
fn set_linger_zero(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a properly sized option value.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        std::io::Error::last_os_error()
    );
}

/// The upper-cased first word of a command line.
fn verb_of(line: &str) -> String {
    line.split([' ', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

fn accept_loop(
    listener: TcpListener,
    script: Script,
    stop: Arc<AtomicBool>,
    tx: Sender<ServerEvent>,
) {
    let counter = AtomicUsize::new(0);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let conn = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let (script, stop, tx) = (script.clone(), stop.clone(), tx.clone());
        std::thread::Builder::new()
            .name(format!("scripted conn {conn}"))
            .spawn(move || {
                Conn {
                    stream,
                    conn,
                    stop,
                    tx,
                    buf: Vec::new(),
                }
                .play(&script)
            })
            .expect("spawn connection thread");
    }
}

/// One connection playing its script.
struct Conn {
    stream: TcpStream,
    conn: usize,
    stop: Arc<AtomicBool>,
    tx: Sender<ServerEvent>,
    buf: Vec<u8>,
}

enum Read1 {
    Line(String),
    Closed,
    Stopped,
}

impl Conn {
    fn play(mut self, script: &Script) {
        let _ = self.stream.set_read_timeout(Some(POLL));
        self.emit(ServerEvent::Connected { conn: self.conn });
        for step in &script.steps {
            match step {
                Step::Send(bytes) => {
                    if self.stream.write_all(bytes).is_err() {
                        return self.emit(ServerEvent::ClientClosed { conn: self.conn });
                    }
                }
                Step::Expect(verb) => match self.read_line() {
                    Read1::Line(line) if verb_of(&line) == *verb => {}
                    Read1::Line(line) => {
                        let ev = ServerEvent::Unexpected {
                            conn: self.conn,
                            expected: verb.clone(),
                            line,
                        };
                        self.emit(ev);
                        return self.emit(ServerEvent::ServerClosed { conn: self.conn });
                    }
                    Read1::Closed | Read1::Stopped => return,
                },
                Step::ExpectAny => {
                    if !matches!(self.read_line(), Read1::Line(_)) {
                        return;
                    }
                }
                Step::Stall => loop {
                    if !matches!(self.read_line(), Read1::Line(_)) {
                        return;
                    }
                },
                Step::AcceptAll => return self.accept_all(b"250 ok\r\n"),
                Step::AnswerAllWith(reply) => return self.accept_all(reply),
                Step::Close => break,
                Step::ExpectMessage => loop {
                    match self.read_line() {
                        Read1::Line(line) if line == "." => break,
                        Read1::Line(_) => {}
                        Read1::Closed | Read1::Stopped => return,
                    }
                },
                Step::Freeze => {
                    while !self.stop.load(Ordering::SeqCst) {
                        std::thread::sleep(POLL);
                    }
                    return;
                }
                Step::Delay(d) => std::thread::sleep(*d),
                Step::Flood { line, total } => {
                    let mut sent = 0;
                    while sent < *total {
                        if self.stream.write_all(line).is_err() {
                            return self.emit(ServerEvent::ClientClosed { conn: self.conn });
                        }
                        sent += line.len();
                    }
                }
                Step::Reset => {
                    set_linger_zero(&self.stream);
                    self.emit(ServerEvent::ServerClosed { conn: self.conn });
                    return;
                }
            }
        }
        self.emit(ServerEvent::ServerClosed { conn: self.conn });
    }

    fn accept_all(mut self, other: &[u8]) {
        let mut in_data = false;
        loop {
            let line = match self.read_line() {
                Read1::Line(line) => line,
                _ => return,
            };
            let answer: &[u8] = if in_data {
                if line != "." {
                    continue;
                }
                in_data = false;
                b"250 accepted\r\n"
            } else if verb_of(&line) == "DATA" {
                in_data = true;
                b"354 go ahead\r\n"
            } else if verb_of(&line) == "QUIT" {
                let _ = self.stream.write_all(b"221 bye\r\n");
                return self.emit(ServerEvent::ServerClosed { conn: self.conn });
            } else {
                other
            };
            if self.stream.write_all(answer).is_err() {
                return self.emit(ServerEvent::ClientClosed { conn: self.conn });
            }
        }
    }

    /// Reads one line (reported as an event), or notices a close or the server stopping.
    fn read_line(&mut self) -> Read1 {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&raw)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                self.emit(ServerEvent::Received {
                    conn: self.conn,
                    line: line.clone(),
                });
                return Read1::Line(line);
            }
            if self.stop.load(Ordering::SeqCst) {
                return Read1::Stopped;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.emit(ServerEvent::ClientClosed { conn: self.conn });
                    return Read1::Closed;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => {
                    self.emit(ServerEvent::ClientClosed { conn: self.conn });
                    return Read1::Closed;
                }
            }
        }
    }

    fn emit(&self, ev: ServerEvent) {
        let _ = self.tx.send(ev);
    }
}
