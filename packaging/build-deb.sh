#!/usr/bin/env bash
# Builds the Debian package smtp32_<version>_<arch>.deb: release binaries of
# smtp32d, smtp32ctl, smtp32-sendmail and libsmtp32.{so,a}, then cargo-deb (metadata in
# daemon/Cargo.toml) with the units, tmpfiles entry, default config, header
# and pkg-config file of this folder. Prints the path of the .deb last.
#
#   packaging/build-deb.sh              (needs cargo-deb: cargo install cargo-deb --locked)
#   CARGO_TARGET_DIR=/tmp/t packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || { echo "cargo-deb is missing: cargo install cargo-deb --locked" >&2; exit 1; }
# The shipped config must be what the daemon prints (a unit test checks it too).
cargo build --release -p smtp32d -p smtp32 -p smtp32-tools
target=${CARGO_TARGET_DIR:-target}
if ! cmp -s <("$target/release/smtp32d" --print-default-config) packaging/smtp32d.toml; then
    echo "packaging/smtp32d.toml differs from smtp32d --print-default-config; regenerate it with:" >&2
    echo "  $target/release/smtp32d --print-default-config > packaging/smtp32d.toml" >&2
    exit 1
fi
cargo deb -p smtp32d --no-build --output "$target/debian/" | tail -n 1
