//! The C library as distributions ship it (issue 14, item 3): `libsmtp32.so` carries the SONAME
//! `libsmtp32.so.1`; every prototype of `smtp32.h` matches the function the library defines
//! (a C file, generated from the `extern "C"` signatures in `client/src/ffi/`, assigns each
//! function to a pointer of the Rust side's type and is compiled against the header with
//! `-Werror`, so any difference in a parameter or return type fails); the library exports exactly
//! the header's functions; `SMTP32_VERSION`, `smtp32_version()` and
//! `pkg-config --modversion smtp32` (with `packaging/smtp32.pc`) are the crate's version.

use smtp32_tests::c_program::{compile, run, Link, SONAME};
use smtp32_tests::paths::{built, crate_dir};
use smtp32_tests::Watchdog;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

/// One `extern "C" fn` of the library, as its Rust source declares it.
#[derive(Debug)]
struct Export {
    name: String,
    params: Vec<String>,
    ret: Option<String>,
}

/// Every `extern "C" fn` in `client/src/ffi/*.rs`.
fn rust_exports() -> Vec<Export> {
    let dir = crate_dir().join("../client/src/ffi");
    let mut exports = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read client/src/ffi") {
        let text =
            std::fs::read_to_string(entry.expect("dir entry").path()).expect("read a source file");
        for piece in text.split("extern \"C\" fn ").skip(1) {
            let signature = piece
                .split('{')
                .next()
                .expect("a signature before the body");
            let signature: String = signature.split_whitespace().collect::<Vec<_>>().join(" ");
            let (name, rest) = signature.split_once('(').expect("a parameter list");
            let (params, ret) = rest
                .rsplit_once(')')
                .expect("the end of the parameter list");
            let params = params
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once(':').expect("name: type").1.trim().to_string())
                .collect();
            let ret = ret.trim().strip_prefix("->").map(|r| r.trim().to_string());
            exports.push(Export {
                name: name.trim().to_string(),
                params,
                ret,
            });
        }
    }
    exports.sort_by(|a, b| a.name.cmp(&b.name));
    exports
}

/// The C spelling of a Rust parameter or return type of the C ABI.
fn c_type(rust: &str) -> &'static str {
    match rust {
        "c_int" => "int",
        "u16" => "uint16_t",
        "usize" => "uintptr_t",
        "SMTP_HANDLE" => "SMTP_HANDLE",
        "*mut SMTP_HANDLE" => "SMTP_HANDLE *",
        "*const c_char" => "const char *",
        "*mut c_char" => "char *",
        "*mut c_int" => "int *",
        "*const *const c_char" => "const char *const *",
        "*const fw_param" => "const fw_param *",
        "SmtpDebugProc" => "smtp_debug_proc",
        "SmtpStatusProc" => "smtp_status_proc",
        "SmtpDataProc" => "smtp_data_proc",
        "SmtpLineProc" => "smtp_line_proc",
        other => panic!(
            "no C type for the Rust type {other:?}: add it to c_type in {}",
            file!()
        ),
    }
}

/// The functions `smtp32.h` declares (prototypes start at column 0).
fn header_functions() -> BTreeSet<String> {
    let header = std::fs::read_to_string(crate_dir().join("../client/include/smtp32.h"))
        .expect("read smtp32.h");
    header
        .lines()
        .filter(|l| l.starts_with("int ") || l.starts_with("const char *"))
        .filter_map(|l| l.split('(').next())
        .filter_map(|l| l.rsplit([' ', '*']).next())
        .filter(|n| n.starts_with("smtp"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_shared_library_carries_the_soname_libsmtp32_so_1() {
    let _wd = Watchdog::test("the_shared_library_carries_the_soname_libsmtp32_so_1");
    let out = Command::new("readelf")
        .arg("-d")
        .arg(built("libsmtp32.so"))
        .output()
        .expect("run readelf (binutils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dynamic = String::from_utf8_lossy(&out.stdout);
    let soname = dynamic
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .unwrap_or_else(|| panic!("no SONAME:\n{dynamic}"));
    assert!(soname.contains(&format!("[{SONAME}]")), "{soname}");
}

#[test]
fn every_header_prototype_has_the_type_of_the_library_function() {
    let _wd = Watchdog::test("every_header_prototype_has_the_type_of_the_library_function");
    let exports = rust_exports();
    assert!(
        exports.len() >= 28,
        "too few extern \"C\" functions found: {exports:?}"
    );
    let mut c = String::from("#include \"smtp32.h\"\n\n");
    c.push_str("/* One pointer per library function, typed as the Rust side defines it. */\n");
    for e in &exports {
        let params: Vec<&str> = e.params.iter().map(|p| c_type(p)).collect();
        let params = if params.is_empty() {
            "void".to_string()
        } else {
            params.join(", ")
        };
        let ret = e.ret.as_deref().map_or("void", c_type);
        c.push_str(&format!(
            "{ret} (*const check_{name})({params}) = {name};\n",
            name = e.name
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("prototypes.c");
    std::fs::write(&src, &c).unwrap();
    let out = Command::new("cc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-c",
            "-o",
        ])
        .arg(dir.path().join("prototypes.o"))
        .arg("-I")
        .arg(crate_dir().join("../client/include"))
        .arg(&src)
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "a prototype of smtp32.h differs from the library's function:\n{}\n--- program ---\n{c}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_library_exports_exactly_the_headers_functions() {
    let _wd = Watchdog::test("the_library_exports_exactly_the_headers_functions");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(built("libsmtp32.so"))
        .output()
        .expect("run nm (binutils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [_, "T", name] if name.starts_with("smtp_") || name.starts_with("smtp32_") => {
                Some(name.to_string())
            }
            _ => None,
        })
        .collect();
    let header = header_functions();
    assert_eq!(
        exported, header,
        "exported smtp functions (left) and smtp32.h's prototypes (right) differ"
    );
    let rust: BTreeSet<String> = rust_exports().into_iter().map(|e| e.name).collect();
    assert_eq!(
        rust, header,
        "client/src/ffi's extern \"C\" functions (left) and smtp32.h's (right) differ"
    );
}

#[test]
fn the_version_macros_smtp32_version_and_pkg_config_are_the_crate_version() {
    let _wd =
        Watchdog::test("the_version_macros_smtp32_version_and_pkg_config_are_the_crate_version");
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(
        dir.path(),
        "version.c",
        &["-std=c11", "-Wall", "-Wextra", "-Werror"],
        Link::Shared,
    );
    let out = run(
        &exe,
        &dir.path().join("no-daemon.sock"),
        &[],
        Duration::from_secs(20),
    );
    out.assert_clean("version.c");
    assert!(
        out.stdout
            .contains(&format!("version {}\n", env!("CARGO_PKG_VERSION"))),
        "{}",
        out.stdout
    );

    let pc = Command::new("pkg-config")
        .args(["--modversion", "smtp32"])
        .env("PKG_CONFIG_PATH", crate_dir().join("../packaging"))
        .output()
        .expect("run pkg-config (tests/run-all.sh installs it)");
    assert!(
        pc.status.success(),
        "{}",
        String::from_utf8_lossy(&pc.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&pc.stdout).trim(),
        env!("CARGO_PKG_VERSION"),
        "packaging/smtp32.pc's Version"
    );
}
