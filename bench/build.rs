//! Tells the bench which send paths the client library offers, so it builds
//! before, during and after they are added:
//! - `has_sendmsg`: `Connection::sendmsg(&self, from: &str, rcpts: &[&str] (or
//!   `&[impl AsRef<str>]`), data: &[u8]) -> Result<SendReport>`;
//! - `has_send_many`: `Connection::send_many` (with `smtp32::Outgoing`).
//!
//! A method that exists with another signature leaves its row "n/a" and
//! prints a cargo warning instead of breaking the build.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_sendmsg)");
    println!("cargo::rustc-check-cfg=cfg(has_send_many)");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../client/src");
    println!("cargo::rerun-if-changed={}", src.display());
    let mut text = String::new();
    collect(&src, &mut text);
    if let Some(sig) = signature(&text, "sendmsg") {
        if sendmsg_fits(&sig) {
            println!("cargo::rustc-cfg=has_sendmsg");
        } else {
            println!("cargo::warning=Connection::sendmsg has an unexpected signature ({sig}); its bench row stays n/a");
        }
    }
    if let Some(sig) = signature(&text, "send_many") {
        let outgoing = ["pub struct Outgoing", "pub type Outgoing"];
        if outgoing.iter().any(|o| text.contains(o)) && sig.contains("Outgoing") {
            println!("cargo::rustc-cfg=has_send_many");
        } else {
            println!("cargo::warning=Connection::send_many has an unexpected signature ({sig}); its bench row stays n/a");
        }
    }
}

/// Appends every `.rs` file under `dir` to `out` (and asks to rerun when one changes).
fn collect(dir: &Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            println!("cargo::rerun-if-changed={}", p.display());
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            println!("cargo::rerun-if-changed={}", p.display());
            out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            out.push('\n');
        }
    }
}

/// The text of `pub fn NAME ... {` with whitespace collapsed.
fn signature(text: &str, name: &str) -> Option<String> {
    let start = [format!("pub fn {name}("), format!("pub fn {name}<")]
        .iter()
        .find_map(|p| text.find(p.as_str()))?;
    let end = start + text[start..].find('{')?;
    Some(
        text[start..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn sendmsg_fits(sig: &str) -> bool {
    let Some(open) = sig.find('(') else {
        return false;
    };
    let Some(close) = sig.rfind(')') else {
        return false;
    };
    let params: Vec<&str> = sig[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let types: Vec<&str> = params
        .iter()
        .map(|p| p.split_once(':').map_or(*p, |(_, t)| t.trim()))
        .collect();
    let rcpts_ok = |t: &str| t == "&[&str]" || (t.starts_with("&[") && t.contains("AsRef<str>"));
    types.len() == 4
        && types[0] == "&self"
        && types[1] == "&str"
        && rcpts_ok(types[2])
        && types[3] == "&[u8]"
        && sig[close..].contains("SendReport")
}
