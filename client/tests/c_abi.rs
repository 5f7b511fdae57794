//! The C ABI against a scripted fake daemon, called as a C program would
//! (one test: the library's global client is per process).

mod common;

use common::*;
use smtp32::ffi::*;
use smtp32::ReturnCode;
use smtp32_protocol::{Command, Event, Failure, OpenMode, Request, Response};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::sync::Mutex;
use std::time::Duration;

static TRAFFIC: Mutex<Vec<(u32, Vec<u8>, usize)>> = Mutex::new(Vec::new());
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static STATUS: Mutex<Vec<(u32, c_int, usize)>> = Mutex::new(Vec::new());
static FED: Mutex<usize> = Mutex::new(0);

extern "C" fn on_debug(h: u32, buf: *const c_char, len: c_int, lparam: usize) -> c_int {
    // SAFETY: the library passes `len` bytes at `buf`, alive for the callback.
    let bytes = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len as usize) }.to_vec();
    TRAFFIC.lock().unwrap().push((h, bytes, lparam));
    0
}

extern "C" fn on_line(_h: u32, line: *const c_char, len: c_int, _lparam: usize) -> c_int {
    // SAFETY: the library passes a NUL-terminated line, alive for the callback.
    let s = unsafe { CStr::from_ptr(line) }.to_str().unwrap().to_owned();
    assert_eq!(s.len(), len as usize);
    LINES.lock().unwrap().push(s);
    0
}

extern "C" fn abort_line(_h: u32, _line: *const c_char, _len: c_int, _lparam: usize) -> c_int {
    -1
}

extern "C" fn on_status(h: u32, result: c_int, lparam: usize) -> c_int {
    STATUS.lock().unwrap().push((h, result, lparam));
    0
}

extern "C" fn feed(_h: u32, buf: *mut c_char, len: c_int, _lparam: usize) -> c_int {
    let mut fed = FED.lock().unwrap();
    if *fed >= 3 {
        return 0;
    }
    *fed += 1;
    let msg = b"line\n";
    assert!(len as usize >= msg.len());
    // SAFETY: the library's buffer holds `len` bytes and the message is no longer (checked above).
    unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), msg.len()) };
    msg.len() as c_int
}

fn code(c: ReturnCode) -> c_int {
    c.as_i32()
}

#[test]
fn c_functions_behave_as_the_manual_says() {
    let data = std::sync::Arc::new(Mutex::new(Vec::new()));
    let data2 = data.clone();
    let d = start(move |p, id, req| {
        match req {
            Request::Open {
                mode: OpenMode::Async,
                ..
            } => {
                p.respond(id, Response::Opened { handle: h(20) });
                p.event(Event::Connected {
                    handle: h(20),
                    result: Ok(()),
                });
            }
            Request::Open { host, .. } if host == "refusing" => p.respond(
                id,
                Response::Failed(Failure::Refused(reply(554, "go away"))),
            ),
            Request::Open { .. } => {
                p.traffic(h(10), smtp32::Direction::FromServer, b"220 hi\r\n");
                p.respond(id, Response::Opened { handle: h(10) });
            }
            Request::Command {
                command: Command::Mail { .. },
                ..
            } => p.respond(
                id,
                Response::Failed(Failure::Refused(reply(550, "sender rejected"))),
            ),
            Request::Command {
                command: Command::Expn { .. },
                ..
            } => p.respond(
                id,
                Response::Reply(smtp32::Reply {
                    code: 250,
                    lines: ["a <a@x>", "b <b@x>"].into(),
                }),
            ),
            Request::Command {
                command: Command::Direct { .. },
                ..
            } => p.respond(id, Response::Reply(reply(250, "a rather long reply text"))),
            Request::Command { .. } => p.respond(id, Response::Reply(reply(250, "ok"))),
            Request::LastReply { .. } => p.respond(
                id,
                Response::LastReply(Some(smtp32::Reply {
                    code: 550,
                    lines: ["one", "two"].into(),
                })),
            ),
            Request::DataChunk { bytes, .. } => {
                data2.lock().unwrap().extend_from_slice(&bytes);
                p.respond(id, Response::Done);
            }
            Request::DataEnd { .. } => p.respond(id, Response::Reply(reply(250, "queued"))),
            _ => p.respond(id, Response::Done),
        }
        Next::Continue
    });
    std::env::set_var("SMTP32_SOCKET", &d.path);
    // SAFETY: test call of the C ABI with valid NUL-terminated strings, live buffers and handles (or NULL where the function accepts it).
    watchdog(20, move || unsafe {
        let mut hc: SMTP_HANDLE = 0;
        assert_eq!(
            smtp_helo(std::ptr::null(), c"me".as_ptr(), &mut hc, None, 0),
            code(ReturnCode::InvalidArgument)
        );
        assert_eq!(
            smtp_helo(
                c"mx".as_ptr(),
                c"me".as_ptr(),
                std::ptr::null_mut(),
                None,
                0
            ),
            code(ReturnCode::InvalidArgument)
        );

        // A refused greeting: the reply is available through smtp_rply(0, ...).
        assert_eq!(
            smtp_helo(c"refusing".as_ptr(), c"me".as_ptr(), &mut hc, None, 0),
            code(ReturnCode::Failure)
        );
        let mut buf = [0 as c_char; 64];
        let mut rc: c_int = 0;
        assert_eq!(smtp_rply(0, buf.as_mut_ptr(), 64, &mut rc), 0);
        assert_eq!(
            (CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), rc),
            ("554 go away", 554)
        );

        assert_eq!(
            smtp_helo(c"mx".as_ptr(), c"me".as_ptr(), &mut hc, Some(on_debug), 77),
            0
        );
        assert_eq!(hc, 10);
        assert_eq!(
            *TRAFFIC.lock().unwrap(),
            vec![(10, b"220 hi\r\n".to_vec(), 77)]
        );

        assert_eq!(smtp_mail(hc, c"a@b".as_ptr()), code(ReturnCode::Failure));
        assert_eq!(
            smtp_mail(hc, c"a\r\nb".as_ptr()),
            code(ReturnCode::InvalidArgument)
        );
        assert_eq!(smtp_rcpt(hc, c"c@d".as_ptr()), 0);
        assert_eq!(smtp_noop(hc), 0);

        // smtp_rply: full text joined with CRLF, truncated to the buffer.
        assert_eq!(smtp_rply(hc, buf.as_mut_ptr(), 64, &mut rc), 0);
        assert_eq!(
            (CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), rc),
            ("550-one\r\n550 two", 550)
        );
        assert_eq!(smtp_rply(hc, buf.as_mut_ptr(), 6, &mut rc), 0);
        assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), "550-o");
        assert_eq!(
            smtp_rply(hc, buf.as_mut_ptr(), 6, std::ptr::null_mut()),
            code(ReturnCode::InvalidArgument)
        );

        // smtp_direct with a buffer too small.
        let mut len: c_int = 8;
        assert_eq!(
            smtp_direct(hc, c"XTEST".as_ptr(), buf.as_mut_ptr(), &mut len),
            code(ReturnCode::InsufficientLength)
        );
        assert_eq!(len as usize, "250 a rather long reply text".len() + 1);
        assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), "250 a r");
        let mut len: c_int = 64;
        assert_eq!(
            smtp_direct(hc, c"QUIT".as_ptr(), buf.as_mut_ptr(), &mut len),
            code(ReturnCode::InvalidArgument)
        );

        assert_eq!(smtp_expn(hc, c"list".as_ptr(), Some(on_line)), 0);
        assert_eq!(*LINES.lock().unwrap(), vec!["a <a@x>", "b <b@x>"]);

        // Options.
        let mut param: usize = 0;
        assert_eq!(smtp_opts(hc, OPT_SET_PARAM, 99), 0);
        assert_eq!(
            smtp_opts(hc, OPT_GET_PARAM, &mut param as *mut usize as usize),
            0
        );
        assert_eq!(param, 99);
        assert_eq!(
            smtp_opts(hc, OPT_GET_PARAM, 0),
            code(ReturnCode::InvalidArgument)
        );
        assert_eq!(
            smtp_opts(hc, OPT_TIMEOUT, 0),
            code(ReturnCode::InvalidArgument)
        );
        assert_eq!(
            smtp_opts(hc, OPT_TIMEOUT, 1000),
            code(ReturnCode::InvalidArgument)
        );
        assert_eq!(smtp_opts(hc, OPT_TIMEOUT, 30), 0);
        assert_eq!(smtp_opts(hc, 99, 0), code(ReturnCode::InvalidOption));
        assert_eq!(smtp_opts(hc, OPT_YIELD_OFF, 0), 0);
        assert_eq!(smtp_opts(hc, OPT_YIELD_ON, 0), 0);
        assert_eq!(smtp_opts(hc, OPT_DEBUG, 0), 0);

        // Data, pulled and pushed.
        assert_eq!(smtp_data(hc, Some(feed)), 0);
        assert_eq!(&*data.lock().unwrap(), b"line\nline\nline\n");
        assert_eq!(smtp_data_buf(hc, c"more".as_ptr(), 4), 0);
        assert_eq!(smtp_data_buf(hc, std::ptr::null(), 0), 0);
        assert_eq!(
            smtp_data_buf(hc, std::ptr::null(), 3),
            code(ReturnCode::InvalidArgument)
        );

        // A line callback returning -1 resets the connection.
        assert_eq!(
            smtp_help(hc, std::ptr::null(), Some(abort_line)),
            code(ReturnCode::Aborted)
        );
        assert_eq!(smtp_noop(hc), code(ReturnCode::InvalidHandle));

        // xhelo: status on the reader thread with the lParam.
        let mut hx: SMTP_HANDLE = 0;
        assert_eq!(
            smtp_xhelo(
                c"mx".as_ptr(),
                c"me".as_ptr(),
                &mut hx,
                None,
                Some(on_status),
                5
            ),
            0
        );
        assert_eq!(hx, 20);
        for _ in 0..100 {
            if !STATUS.lock().unwrap().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(*STATUS.lock().unwrap(), vec![(20, 0, 5)]);
        assert_eq!(smtp_quit(hx), 0);
        assert_eq!(smtp_quit(hx), code(ReturnCode::InvalidHandle));
        assert_eq!(smtp_quit(0), code(ReturnCode::InvalidHandle));
    });
}
