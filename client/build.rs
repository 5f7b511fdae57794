//! Build script of the `smtp32` crate: gives the C library (`libsmtp32.so`) its SONAME,
//! `libsmtp32.so.1`, as distributions ship shared libraries. The number is the C ABI's major
//! version, not the crate's: it changes only when an exported function's signature changes or
//! one is removed (the crate's version is in `SMTP32_VERSION` and `smtp32_version()`).
//! Programs linked with `-lsmtp32` then load `libsmtp32.so.1`; the package installs the library
//! as `libsmtp32.so.1.0.0` with the `.so.1` and `.so` links.

/// The C ABI's major version, the number in the SONAME.
const ABI_MAJOR: u32 = 1;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // ELF shared libraries only; elsewhere the linker names libraries its own way.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsmtp32.so.{ABI_MAJOR}");
    }
}
