#!/usr/bin/env bash
# Builds the three Debian packages and prints their paths, one a line:
#   smtp32_<version>_<arch>.deb         smtp32d, smtp32ctl, smtp32-sendmail, the systemd units,
#                                       default config, logrotate, man pages, shell completions
#   libsmtp32-1_<version>_<arch>.deb    libsmtp32.so.1 in /usr/lib/<multiarch tuple>/
#   libsmtp32-dev_<version>_<arch>.deb  the .so link, libsmtp32.a, the headers, smtp32.pc
# Release builds first, then the man pages and completions (packaging/docgen), then cargo-deb
# (metadata in daemon/Cargo.toml and client/Cargo.toml).
#
#   packaging/build-deb.sh              (needs cargo-deb: cargo install cargo-deb --locked)
#   CARGO_TARGET_DIR=/tmp/t packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || { echo "cargo-deb is missing: cargo install cargo-deb --locked" >&2; exit 1; }
cargo build --release -p smtp32d -p smtp32 -p smtp32-tools -p smtp32-docgen
target=${CARGO_TARGET_DIR:-target}
# The shipped config must be what the daemon prints (a unit test checks it too).
if ! cmp -s <("$target/release/smtp32d" --print-default-config) packaging/smtp32d.toml; then
    echo "packaging/smtp32d.toml differs from smtp32d --print-default-config; regenerate it with:" >&2
    echo "  $target/release/smtp32d --print-default-config > packaging/smtp32d.toml" >&2
    exit 1
fi
docs=$target/release/docs
rm -rf "$docs"
"$target/release/smtp32-docgen" "$docs"
gzip -9n "$docs"/man/*
out=$target/debian/
cargo deb -p smtp32d --no-build --output "$out" | tail -n 1
cargo deb -p smtp32 --no-build --multiarch=same --output "$out" | tail -n 1
cargo deb -p smtp32 --no-build --multiarch=same --variant=dev --output "$out" | tail -n 1
