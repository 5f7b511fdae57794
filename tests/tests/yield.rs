//! `smtp_opts` through the real daemon: yielding (a custom yield function runs on the calling
//! thread at least every 50 ms while a call waits; OPT_YIELD_OFF stops it; yielding is on by
//! default), OPT_DEBUG switching the traffic callback mid-session, OPT_SET_PARAM/OPT_GET_PARAM
//! and the new lParam in later callbacks, an unknown option and out-of-range timeouts.
//!
//! The slow operation is a real one: `smtp-sink -W NOOP:1` waits a second before it answers
//! NOOP (`-w 1` before it answers DATA). The yield bound is a behaviour check with a loose
//! margin, not a benchmark: the library waits at most 50 ms between calls, but on a loaded
//! machine each wake-up can come late, so the test asks for at least one call per 100 ms.
//!
//! The options are C-ABI calls (`smtp32::ffi`, one shared daemon per test binary); one test
//! drives the same hook through the Rust API.

use smtp32::ffi::{
    smtp_data, smtp_helo, smtp_mail, smtp_noop, smtp_opts, smtp_quit, smtp_rcpt, smtp_rset,
    smtp_vrfy, OPT_DEBUG, OPT_GET_PARAM, OPT_SET_PARAM, OPT_TIMEOUT, OPT_YIELD_OFF, OPT_YIELD_ON,
    SMTP_HANDLE,
};
use smtp32::ReturnCode;
use smtp32_tests::ffi::{c, ffi_daemon};
use smtp32_tests::session::LOCAL;
use smtp32_tests::{SmtpSink, TestDaemon, Watchdog};
use std::os::raw::{c_char, c_int};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

const SUCCESS: c_int = 0;
const YIELD_EVERY: Duration = Duration::from_millis(50);
/// How long `smtp-sink -W NOOP:1` makes a NOOP wait.
const SLOW: Duration = Duration::from_secs(1);

type DebugProc = extern "C" fn(SMTP_HANDLE, *const c_char, c_int, usize) -> c_int;

fn ffi_helo(host: &str, dbg: Option<DebugProc>, lparam: usize) -> SMTP_HANDLE {
    ffi_daemon();
    let mut h: SMTP_HANDLE = 0;
    // SAFETY: valid C strings and a handle slot.
    let rc = unsafe { smtp_helo(c(host).as_ptr(), c(LOCAL).as_ptr(), &mut h, dbg, lparam) };
    assert_eq!(rc, SUCCESS, "smtp_helo to {host}");
    h
}

fn opts(h: SMTP_HANDLE, option: u16, value: usize) -> c_int {
    // SAFETY: every value passed in this file is what the option expects (a proc, a pointer to
    // a usize, or a number).
    unsafe { smtp_opts(h, option, value) }
}

/// Runs `f`, returning its result and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let v = f();
    (v, start.elapsed())
}

/// Asserts the yield contract for calls recorded as `(thread, time)` during a wait of `elapsed`
/// on the thread `caller`.
#[track_caller]
fn assert_yielded(calls: &[(ThreadId, Instant)], caller: ThreadId, elapsed: Duration, what: &str) {
    assert!(
        elapsed >= SLOW - Duration::from_millis(100),
        "{what}: the operation was not slow ({elapsed:?})"
    );
    assert!(
        calls.iter().all(|(t, _)| *t == caller),
        "{what}: a yield call ran on another thread"
    );
    // Twice the promised interval: scheduling delays on a busy machine stretch each wait.
    let bound = (elapsed.as_millis() / (2 * YIELD_EVERY.as_millis())) as usize;
    assert!(
        calls.len() >= bound,
        "{what}: {} yield calls in {elapsed:?}; at least {bound} expected (one per 100 ms)",
        calls.len(),
    );
}

// ---- OPT_YIELD_ON / OPT_YIELD_OFF ------------------------------------------------------------

static YIELD_ON_CALLS: Mutex<Vec<(ThreadId, Instant)>> = Mutex::new(Vec::new());

extern "C" fn yield_on(/* void */) -> c_int {
    YIELD_ON_CALLS
        .lock()
        .unwrap()
        .push((std::thread::current().id(), Instant::now()));
    0
}

#[test]
fn opt_yield_on_runs_the_custom_function_on_the_calling_thread_every_50_ms() {
    let _wd =
        Watchdog::test("opt_yield_on_runs_the_custom_function_on_the_calling_thread_every_50_ms");
    let sink = SmtpSink::with_flags(&["-W", "NOOP:1"]);
    let h = ffi_helo(&sink.host(), None, 0);
    assert_eq!(
        opts(h, OPT_YIELD_ON, yield_on as *const () as usize),
        SUCCESS
    );
    assert!(
        YIELD_ON_CALLS.lock().unwrap().is_empty(),
        "setting the option does not call it"
    );

    let (rc, elapsed) = timed(|| smtp_noop(h));
    assert_eq!(rc, SUCCESS);
    let calls = YIELD_ON_CALLS.lock().unwrap().clone();
    assert_yielded(&calls, std::thread::current().id(), elapsed, "slow NOOP");

    // A second slow call keeps yielding with the same function.
    let before = calls.len();
    let (rc, elapsed) = timed(|| smtp_noop(h));
    assert_eq!(rc, SUCCESS);
    let calls = YIELD_ON_CALLS.lock().unwrap()[before..].to_vec();
    assert_yielded(
        &calls,
        std::thread::current().id(),
        elapsed,
        "second slow NOOP",
    );
    assert_eq!(smtp_quit(h), SUCCESS);
}

static YIELD_OFF_CALLS: Mutex<usize> = Mutex::new(0);

extern "C" fn yield_counted() -> c_int {
    *YIELD_OFF_CALLS.lock().unwrap() += 1;
    0
}

#[test]
fn opt_yield_off_stops_the_calls_and_yielding_is_on_by_default() {
    let _wd = Watchdog::test("opt_yield_off_stops_the_calls_and_yielding_is_on_by_default");
    let sink = SmtpSink::with_flags(&["-W", "NOOP:1"]);
    let count = || *YIELD_OFF_CALLS.lock().unwrap();

    // Default: yielding on (the library's own function); a slow call completes normally.
    let h = ffi_helo(&sink.host(), None, 0);
    let (rc, elapsed) = timed(|| smtp_noop(h));
    assert_eq!(rc, SUCCESS, "a slow NOOP with the default yielding");
    assert!(elapsed >= SLOW - Duration::from_millis(100), "{elapsed:?}");

    assert_eq!(
        opts(h, OPT_YIELD_ON, yield_counted as *const () as usize),
        SUCCESS
    );
    assert_eq!(smtp_noop(h), SUCCESS);
    let on = count();
    assert!(
        on >= 10,
        "the custom function ran during the slow NOOP ({on} calls)"
    );

    assert_eq!(opts(h, OPT_YIELD_OFF, 0), SUCCESS);
    let (rc, elapsed) = timed(|| smtp_noop(h));
    assert_eq!(rc, SUCCESS, "a slow NOOP without yielding");
    assert!(elapsed >= SLOW - Duration::from_millis(100), "{elapsed:?}");
    assert_eq!(count(), on, "no yield call after OPT_YIELD_OFF");

    // Back on with 0: the default function, not the custom one.
    assert_eq!(opts(h, OPT_YIELD_ON, 0), SUCCESS);
    assert_eq!(smtp_noop(h), SUCCESS);
    assert_eq!(
        count(),
        on,
        "OPT_YIELD_ON with 0 uses the default yield, not the earlier custom one"
    );
    assert_eq!(smtp_quit(h), SUCCESS);
}

#[test]
fn the_rust_yield_hook_runs_on_the_calling_thread_while_data_waits() {
    let _wd = Watchdog::test("the_rust_yield_hook_runs_on_the_calling_thread_while_data_waits");
    // -w 1: the sink waits a second before it answers DATA with 354.
    let sink = SmtpSink::with_flags(&["-w", "1"]);
    let d = TestDaemon::start();
    let conn = d.client().helo(&sink.host(), LOCAL, None).expect("helo");
    let calls: Arc<Mutex<Vec<(ThreadId, Instant)>>> = Arc::default();
    let c2 = calls.clone();
    conn.set_yield(Some(Arc::new(move || {
        c2.lock()
            .unwrap()
            .push((std::thread::current().id(), Instant::now()))
    })));
    conn.mail("a@a.test").expect("mail");
    conn.rcpt("b@b.test").expect("rcpt");
    calls.lock().unwrap().clear();
    let (r, elapsed) = timed(|| conn.data_buf(b"Subject: slow\r\n\r\nbody\r\n"));
    r.expect("data_buf (DATA waits for the slow 354)");
    assert_yielded(
        &calls.lock().unwrap(),
        std::thread::current().id(),
        elapsed,
        "slow DATA",
    );
    assert_eq!(conn.data_end().expect("data_end").code, 250);

    conn.set_yield(None);
    conn.mail("a@a.test").expect("mail");
    conn.rcpt("b@b.test").expect("rcpt");
    calls.lock().unwrap().clear();
    conn.data_buf(b"x\r\n")
        .expect("slow data_buf without yielding");
    assert!(
        calls.lock().unwrap().is_empty(),
        "no hook calls once yielding is off"
    );
    conn.data_end().expect("data_end");
    conn.quit().expect("quit");
}

// ---- OPT_DEBUG -------------------------------------------------------------------------------

static DEBUG_A: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static DEBUG_B: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn append(to: &Mutex<Vec<u8>>, buf: *const c_char, len: c_int) {
    // SAFETY: the library passes len readable bytes.
    to.lock()
        .unwrap()
        .extend_from_slice(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len as usize) });
}

extern "C" fn debug_a(_: SMTP_HANDLE, buf: *const c_char, len: c_int, _: usize) -> c_int {
    append(&DEBUG_A, buf, len);
    0
}

extern "C" fn debug_b(_: SMTP_HANDLE, buf: *const c_char, len: c_int, _: usize) -> c_int {
    append(&DEBUG_B, buf, len);
    0
}

#[test]
fn opt_debug_switches_the_traffic_callback_on_off_and_to_another_mid_session() {
    let _wd =
        Watchdog::test("opt_debug_switches_the_traffic_callback_on_off_and_to_another_mid_session");
    let sink = SmtpSink::start();
    let a = || String::from_utf8_lossy(&DEBUG_A.lock().unwrap()).into_owned();
    let b = || String::from_utf8_lossy(&DEBUG_B.lock().unwrap()).into_owned();
    let h = ffi_helo(&sink.host(), None, 0);
    assert_eq!(smtp_noop(h), SUCCESS);
    assert_eq!(
        (a(), b()),
        (String::new(), String::new()),
        "no callback yet"
    );

    // On: the copies of exactly the traffic after the switch (they arrive before the call returns).
    assert_eq!(opts(h, OPT_DEBUG, debug_a as *const () as usize), SUCCESS);
    assert_eq!(smtp_noop(h), SUCCESS);
    assert_eq!(a(), "NOOP\r\n250 2.0.0 Ok\r\n");
    assert_eq!(b(), "");

    // To another function: only that one gets the next copies.
    assert_eq!(opts(h, OPT_DEBUG, debug_b as *const () as usize), SUCCESS);
    assert_eq!(smtp_rset(h), SUCCESS);
    assert_eq!(
        a(),
        "NOOP\r\n250 2.0.0 Ok\r\n",
        "the old function gets nothing more"
    );
    assert_eq!(b(), "RSET\r\n250 2.1.0 Ok\r\n");

    // Off.
    assert_eq!(opts(h, OPT_DEBUG, 0), SUCCESS);
    assert_eq!(smtp_noop(h), SUCCESS);
    assert_eq!(a(), "NOOP\r\n250 2.0.0 Ok\r\n");
    assert_eq!(b(), "RSET\r\n250 2.1.0 Ok\r\n");

    // And on again.
    assert_eq!(opts(h, OPT_DEBUG, debug_a as *const () as usize), SUCCESS);
    // SAFETY: a valid C string.
    assert_eq!(unsafe { smtp_vrfy(h, c("x@y.test").as_ptr()) }, SUCCESS);
    assert_eq!(
        a(),
        "NOOP\r\n250 2.0.0 Ok\r\nVRFY x@y.test\r\n250 2.0.0 Ok\r\n"
    );
    assert_eq!(smtp_quit(h), SUCCESS);
    assert_eq!(b(), "RSET\r\n250 2.1.0 Ok\r\n");
}

// ---- invalid options and values -------------------------------------------------------------

#[test]
fn an_unknown_option_and_timeouts_outside_1_to_999_are_refused() {
    let _wd = Watchdog::test("an_unknown_option_and_timeouts_outside_1_to_999_are_refused");
    let sink = SmtpSink::start();
    let h = ffi_helo(&sink.host(), None, 0);
    let invalid_option = ReturnCode::InvalidOption as c_int;
    for option in [0u16, 7, 99, 999, u16::MAX] {
        assert_eq!(opts(h, option, 0), invalid_option, "option {option}");
    }
    let invalid_argument = ReturnCode::InvalidArgument as c_int;
    for seconds in [0usize, 1000, 65_536, usize::MAX] {
        assert_eq!(
            opts(h, OPT_TIMEOUT, seconds),
            invalid_argument,
            "timeout {seconds}"
        );
    }
    for seconds in [1usize, 999, 20] {
        assert_eq!(opts(h, OPT_TIMEOUT, seconds), SUCCESS, "timeout {seconds}");
    }
    assert_eq!(
        opts(h, OPT_GET_PARAM, 0),
        invalid_argument,
        "OPT_GET_PARAM with a NULL pointer"
    );
    assert_eq!(smtp_noop(h), SUCCESS, "the refused options changed nothing");
    assert_eq!(smtp_quit(h), SUCCESS);
    let invalid_handle = ReturnCode::InvalidHandle as c_int;
    assert_eq!(opts(h, OPT_TIMEOUT, 20), invalid_handle, "after quit");
    assert_eq!(opts(0, OPT_SET_PARAM, 1), invalid_handle, "handle 0");
}

// ---- OPT_SET_PARAM / OPT_GET_PARAM ----------------------------------------------------------

/// (handle, lParam) of every debug and data callback call.
static PARAMS: Mutex<Vec<(SMTP_HANDLE, &'static str, usize)>> = Mutex::new(Vec::new());

extern "C" fn debug_param(h: SMTP_HANDLE, _: *const c_char, _: c_int, lparam: usize) -> c_int {
    PARAMS.lock().unwrap().push((h, "debug", lparam));
    0
}

extern "C" fn data_param(h: SMTP_HANDLE, buf: *mut c_char, len: c_int, lparam: usize) -> c_int {
    let mut params = PARAMS.lock().unwrap();
    let first = !params.iter().any(|(x, kind, _)| *x == h && *kind == "data");
    params.push((h, "data", lparam));
    let body = b"Subject: lparam\r\n\r\nbody\r\n";
    if first && body.len() <= len as usize {
        // SAFETY: the library gives room for len bytes.
        unsafe { std::ptr::copy_nonoverlapping(body.as_ptr(), buf.cast::<u8>(), body.len()) };
        body.len() as c_int
    } else {
        0
    }
}

fn get_param(h: SMTP_HANDLE) -> usize {
    let mut value: usize = 0;
    assert_eq!(
        opts(h, OPT_GET_PARAM, &mut value as *mut usize as usize),
        SUCCESS
    );
    value
}

#[test]
fn opt_set_param_round_trips_and_later_callbacks_get_the_new_lparam() {
    let _wd = Watchdog::test("opt_set_param_round_trips_and_later_callbacks_get_the_new_lparam");
    let sink = SmtpSink::start();
    let params = |h: SMTP_HANDLE| -> Vec<(&'static str, usize)> {
        PARAMS
            .lock()
            .unwrap()
            .iter()
            .filter(|(x, ..)| *x == h)
            .map(|(_, k, p)| (*k, *p))
            .collect()
    };
    let h = ffi_helo(&sink.host(), Some(debug_param), 1000);
    assert_eq!(
        get_param(h),
        1000,
        "OPT_GET_PARAM gives the smtp_helo lParam"
    );
    let seen = params(h);
    assert!(
        !seen.is_empty() && seen.iter().all(|(_, p)| *p == 1000),
        "greeting and EHLO copies: {seen:?}"
    );

    let big = usize::MAX - 7;
    for value in [2000, 0, big, 2000] {
        assert_eq!(opts(h, OPT_SET_PARAM, value), SUCCESS);
        assert_eq!(
            get_param(h),
            value,
            "OPT_SET_PARAM {value} then OPT_GET_PARAM"
        );
    }

    let before = params(h).len();
    assert_eq!(smtp_noop(h), SUCCESS);
    // SAFETY: valid C strings.
    unsafe {
        assert_eq!(smtp_mail(h, c("a@a.test").as_ptr()), SUCCESS);
        assert_eq!(smtp_rcpt(h, c("b@b.test").as_ptr()), SUCCESS);
    }
    assert_eq!(smtp_data(h, Some(data_param)), SUCCESS);
    let later = params(h)[before..].to_vec();
    assert!(
        later.iter().any(|(k, _)| *k == "debug") && later.iter().any(|(k, _)| *k == "data"),
        "{later:?}"
    );
    assert!(
        later.iter().all(|(_, p)| *p == 2000),
        "every later callback gets the new lParam: {later:?}"
    );
    assert_eq!(smtp_quit(h), SUCCESS);
    assert_eq!(
        sink.message_count(),
        1,
        "the message pulled through smtp_data arrived"
    );
}
