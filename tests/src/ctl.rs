//! Running `smtp32ctl` (and other programs) as a test would from a shell: with a deadline, as
//! this user or as `nobody` (through `setpriv`), and reading its exit code, text and JSON.

use crate::paths::built;
use crate::process::ChildGuard;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The user that plays "another user" in the tests: `nobody` with group `nogroup` (Debian).
pub const OTHER_USER: &str = "nobody";
/// `nobody`'s group on Debian.
pub const OTHER_GROUP: &str = "nogroup";
/// `nobody`'s uid.
pub const OTHER_UID: u32 = 65534;

/// What a finished program left behind.
#[derive(Debug, Clone)]
pub struct Output {
    /// Its exit code (-1 when a signal ended it).
    pub code: i32,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Output {
    /// Panics (showing both streams) unless the exit code is `code`; returns stdout.
    #[track_caller]
    pub fn expect_code(&self, code: i32, what: &str) -> &str {
        assert_eq!(
            self.code, code,
            "{what}: exit code {} (want {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        &self.stdout
    }

    /// stdout parsed as JSON; panics with the text when it is not.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// The built `smtp32ctl`.
pub fn ctl_binary() -> PathBuf {
    built("smtp32ctl")
}

/// `smtp32ctl --socket SOCKET ARGS...` as this user.
pub fn ctl(socket: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(ctl_binary());
    cmd.arg("--socket").arg(socket).args(args);
    run(cmd, Duration::from_secs(20))
}

/// `smtp32ctl --socket SOCKET ARGS...` as [`OTHER_USER`].
pub fn ctl_as_other(socket: &Path, args: &[&str]) -> Output {
    let mut cmd = as_other_user(&ctl_binary());
    cmd.arg("--socket").arg(socket).args(args);
    run(cmd, Duration::from_secs(20))
}

/// A command that runs `program` as [`OTHER_USER`]:[`OTHER_GROUP`] with no supplementary
/// groups (the test process must be root).
pub fn as_other_user(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={OTHER_USER}"))
        .arg(format!("--regid={OTHER_GROUP}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(program);
    cmd
}

/// Runs `cmd` to completion within `timeout` (killed and a panic after it), capturing its output.
pub fn run(cmd: Command, timeout: Duration) -> Output {
    run_with_input(cmd, None, timeout)
}

/// [`run`] with `input` written to the program's stdin (then closed) from another thread;
/// `None`: stdin is `/dev/null`. A program that exits without reading it all is fine.
pub fn run_with_input(mut cmd: Command, input: Option<Vec<u8>>, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&what, &mut cmd);
    if let (Some(input), Some(mut pipe)) = (input, child.take_stdin()) {
        std::thread::spawn(move || {
            use std::io::Write;
            // A broken pipe only means the program stopped reading: its exit code tells.
            let _ = pipe.write_all(&input);
        });
    }
    let mut out = child.take_stdout().expect("stdout piped");
    let mut err = child.take_stderr().expect("stderr piped");
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }),
    );
    let status = child.wait_exit(timeout).unwrap_or_else(|| {
        child.kill();
        panic!("{what} did not finish within {timeout:?}")
    });
    Output {
        code: status.code().unwrap_or(-1),
        stdout: readers.0.join().unwrap_or_default(),
        stderr: readers.1.join().unwrap_or_default(),
    }
}
