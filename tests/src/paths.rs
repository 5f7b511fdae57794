//! Where things are: the built binaries, the test venv's Python, the peer scripts.
//!
//! The test executables live in `target/<profile>/deps/`; the workspace binaries they drive
//! (`smtp32d`, `libsmtp32.so`) are one level up. The runner (`tests/run-all.sh`) builds all of
//! them before any test runs, so a missing one is a setup error with a clear message.

use std::path::{Path, PathBuf};

/// `target/<profile>/`, found from the running test executable.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test exe has a parent").to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir
}

/// The `target/` directory (the parent of the profile directory).
pub fn target_dir() -> PathBuf {
    profile_dir()
        .parent()
        .expect("profile dir has a parent")
        .to_path_buf()
}

/// The `tests/` crate directory (where `peers/` and `c/` live).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A built workspace artifact in the profile directory; panics with a hint when it is missing.
pub fn built(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.exists(),
        "{} does not exist: run cargo build --workspace first (tests/run-all.sh does)",
        path.display()
    );
    path
}

/// The `smtp32d` daemon binary.
pub fn daemon_binary() -> PathBuf {
    built("smtp32d")
}

/// The Python interpreter of the test venv that has aiosmtpd: `$SMTP32_TEST_PYTHON`, else
/// `target/test-venv/bin/python`. Panics (the test fails, it is not skipped) when it is missing.
pub fn venv_python() -> PathBuf {
    let path = std::env::var_os("SMTP32_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("test-venv/bin/python"));
    assert!(
        path.exists(),
        "the test venv's Python ({}) is missing: run tests/run-all.sh, which creates it with aiosmtpd",
        path.display()
    );
    path
}

/// A required external program at a fixed path; panics with an install hint when it is missing.
pub fn required_program<'a>(path: &'a str, package: &str) -> &'a Path {
    let p = Path::new(path);
    assert!(
        p.exists(),
        "{path} is missing (Debian package `{package}`): run tests/run-all.sh, which installs it"
    );
    p
}
