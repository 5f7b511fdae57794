//! The C ABI called from Rust tests: `smtp32::ffi` keeps one process-global daemon client,
//! found through `SMTP32_SOCKET` when the first `smtp_helo` runs. So every C-ABI test in one
//! test binary shares one daemon: [`ffi_daemon`] starts it once, points `SMTP32_SOCKET` at it
//! and returns its socket. (Handles stay independent; tests may use them in parallel.)
//!
//! The daemon is started on a thread of its own that never ends: a helper process dies with
//! the thread that spawned it (`PR_SET_PDEATHSIG`), and a test's thread ends with the test.
//! It is therefore stopped only when the test process exits.
//!
//! Also here: [`CStrBuf`] and [`c`] for strings and reply buffers at the C boundary.

use crate::TestDaemon;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

/// The socket of this process's shared C-ABI daemon, starting it on first use.
pub fn ffi_daemon() -> &'static Path {
    static SOCKET: OnceLock<PathBuf> = OnceLock::new();
    SOCKET
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name("ffi daemon".into())
                .spawn(move || {
                    let daemon = TestDaemon::start();
                    let _ = tx.send(daemon.socket_path().to_path_buf());
                    loop {
                        std::thread::park();
                    }
                })
                .expect("spawn the ffi daemon thread");
            let socket = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the shared C-ABI daemon did not start");
            // Rust's std serialises environment access, and nothing in these tests calls getenv
            // from C, so setting it while other tests run is sound.
            std::env::set_var("SMTP32_SOCKET", &socket);
            socket
        })
        .as_path()
}

/// A NUL-terminated copy of `s` for a C argument (panics on an inner NUL).
pub fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL inside a test string")
}

/// A byte buffer a C function writes a NUL-terminated string into.
pub struct CStrBuf(Vec<u8>);

impl CStrBuf {
    /// A buffer of `len` bytes, filled with 0x55 so an unwritten NUL shows.
    pub fn new(len: usize) -> CStrBuf {
        CStrBuf(vec![0x55; len])
    }

    /// The pointer to pass.
    pub fn ptr(&mut self) -> *mut c_char {
        self.0.as_mut_ptr().cast()
    }

    /// The buffer's size, as the `int` the C functions take.
    pub fn len_c(&self) -> i32 {
        i32::try_from(self.0.len()).expect("small buffer")
    }

    /// The string up to the first NUL; panics when the buffer holds none.
    pub fn text(&self) -> String {
        CStr::from_bytes_until_nul(&self.0)
            .expect("the C function wrote a NUL inside the buffer")
            .to_string_lossy()
            .into_owned()
    }
}
