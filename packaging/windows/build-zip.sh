#!/usr/bin/env bash
# Builds the Windows zip on Debian 12: smtp32d.exe, smtp32ctl.exe, smtp32.dll and its drop-in
# twin D32-SMTP.DLL, their MinGW import libraries and the .def file (for MSVC's `lib /def:`),
# the C header, a commented configuration file and the README (see its "Windows" section).
#
#   packaging/windows/build-zip.sh    -> target/windows/smtp32-<version>-x86_64-windows.zip
set -euo pipefail
source "$(dirname "$0")/../../tests/windows/env.sh"
bash "$WIN_ROOT/tests/windows/build.sh" --release
OUT=$WIN_TARGET_DIR/$WIN_TARGET/release
bash "$WIN_ROOT/packaging/windows/dll.sh" "$OUT"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$WIN_ROOT/Cargo.toml" | head -1)
name=smtp32-$version-x86_64-windows
stage=$WIN_TARGET_DIR/$name
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib" "$stage/include"
cp "$OUT/smtp32d.exe" "$OUT/smtp32ctl.exe" "$OUT/smtp32.dll" "$OUT/D32-SMTP.DLL" "$stage/bin/"
# The release profile keeps line tables for Linux backtraces; the zip ships without them.
x86_64-w64-mingw32-strip "$stage"/bin/*
cp "$OUT/libsmtp32.dll.a" "$OUT/libd32-smtp.dll.a" "$OUT/d32-smtp.def" "$stage/lib/"
cp "$WIN_ROOT"/client/include/*.h "$stage/include/"
cp "$WIN_ROOT/daemon/src/default_config.toml" "$stage/smtp32d.toml"
cp "$WIN_ROOT/README.md" "$stage/README.md"
rm -f "$WIN_TARGET_DIR/$name.zip"
(cd "$WIN_TARGET_DIR" && python3 -m zipfile -c "$name.zip" "$name")
wlog "$WIN_TARGET_DIR/$name.zip"
