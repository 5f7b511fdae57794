//! C programs against the C ABI: compiled with `cc` from `tests/c/` against
//! `client/include/smtp32.h`, linked with the built `libsmtp32.so` (loaded through its SONAME,
//! `libsmtp32.so.1`, from an rpath) or `libsmtp32.a`, and run with `SMTP32_SOCKET` pointing at a
//! test daemon.
//!
//! The programs print one line per check, `ok - NAME` or `not ok - NAME: detail`, and exit with
//! the number of failed checks; [`CRun`] reads that back. A run is bounded: a program still
//! running at its deadline is killed and the test fails with what it printed so far.

use crate::paths::{built, crate_dir};
use crate::process::ChildGuard;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How to link a program with the client library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// `-lsmtp32` against `libsmtp32.so`, found at run time through an rpath.
    Shared,
    /// `libsmtp32.a` and the system libraries Rust's std needs.
    Static,
}

/// Compiles `tests/c/<source>` into `dir` with `flags` (e.g. `["-std=c99", "-Wall"]`), the
/// header's folder on the include path, linked as `link`; returns the executable. Panics with
/// the compiler's output when it fails.
pub fn compile(dir: &Path, source: &str, flags: &[&str], link: Link) -> PathBuf {
    let include = crate_dir().join("../client/include");
    assert!(
        include.join("smtp32.h").exists(),
        "client/include/smtp32.h is missing"
    );
    let src = crate_dir().join("c").join(source);
    let exe = dir.join(Path::new(source).file_stem().expect("source has a name"));
    let mut cc = Command::new("cc");
    cc.args(flags)
        .arg("-I")
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Shared => link_shared(&mut cc, dir),
        Link::Static => {
            cc.arg(built("libsmtp32.a")).args([
                "-lgcc_s",
                "-lutil",
                "-lrt",
                "-lpthread",
                "-lm",
                "-ldl",
                "-lc",
            ]);
        }
    }
    let out = cc
        .output()
        .expect("run cc (Debian package gcc; tests/run-all.sh installs it)");
    assert!(
        out.status.success(),
        "compiling {source} failed ({:?}):\n{}{}",
        cc,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// The library's SONAME: what a program linked with `-lsmtp32` loads at run time.
pub const SONAME: &str = "libsmtp32.so.1";

/// Adds `-lsmtp32` against the built `libsmtp32.so` to `cc`, and an rpath to a folder in `dir`
/// where [`SONAME`] links to it (cargo builds only `libsmtp32.so`; the package installs the
/// `.so.1` link).
pub fn link_shared(cc: &mut Command, dir: &Path) {
    let so = built("libsmtp32.so");
    let libdir = so.parent().expect("profile dir");
    let runtime = dir.join("runtime-lib");
    std::fs::create_dir_all(&runtime).expect("create the runtime library folder");
    let link = runtime.join(SONAME);
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(&so, &link).expect("link the SONAME to the built library");
    }
    cc.arg("-L")
        .arg(libdir)
        .arg("-lsmtp32")
        .arg(format!("-Wl,-rpath,{}", runtime.display()));
}

/// What a finished C program printed and how it exited.
#[derive(Debug)]
pub struct CRun {
    /// The exit code (the number of failed checks, for the check-printing programs).
    pub code: i32,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl CRun {
    /// The `not ok` lines.
    pub fn failed(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("not ok"))
            .collect()
    }

    /// The names of the checks that passed (`ok - NAME` lines, without the prefix).
    pub fn passed(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("ok - "))
            .collect()
    }

    /// Panics unless the program exited 0 with no failed check.
    #[track_caller]
    pub fn assert_clean(&self, what: &str) {
        let failed = self.failed();
        assert!(
            self.code == 0 && failed.is_empty(),
            "{what}: exit {}; failed checks:\n{}\n\nfull output:\n{}\nstderr:\n{}",
            self.code,
            failed.join("\n"),
            self.stdout,
            self.stderr
        );
    }
}

/// Runs `exe args...` with `SMTP32_SOCKET=socket`; kills it and panics (with its output) if it
/// is still running after `timeout` or dies of a signal. Its stderr goes to `<exe>.stderr`.
pub fn run(exe: &Path, socket: &Path, args: &[&str], timeout: Duration) -> CRun {
    let stderr_path = exe.with_extension("stderr");
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env("SMTP32_SOCKET", socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).expect("create the stderr file"));
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut child = ChildGuard::spawn(&name, &mut cmd);
    let stdout = drain(child.take_stdout().expect("stdout is piped"));
    let status = child.wait_exit(timeout);
    if status.is_none() {
        child.kill();
    }
    let stdout = stdout.join().expect("stdout reader");
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let Some(status) = status else {
        panic!("{name} still ran after {timeout:?} and was killed; stdout:\n{stdout}\nstderr:\n{stderr}");
    };
    let code = status
        .code()
        .unwrap_or_else(|| panic!("{name} died: {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    CRun {
        code,
        stdout,
        stderr,
    }
}

/// Reads a pipe to its end on a thread (so a full pipe never blocks the program).
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
