#!/usr/bin/env bash
# Builds smtp32 for Windows (x86_64-pc-windows-gnu) on Debian 12 and prepares a private Wine
# prefix to run it in. Installs what is missing (as root, or through sudo):
#   rustc-web cargo-web rust-web-src   a Rust toolchain whose std source -Zbuild-std can build
#   gcc-mingw-w64-x86-64               linker, C compiler, dlltool for the import library
#   wine64                             runs the Windows programs and tests
#
#   tests/windows/build.sh            packages, Wine prefix, debug build of the workspace's
#                                     Windows parts (daemon, client DLL, smtp32ctl)
#   tests/windows/build.sh --release  the same in release (for packaging/windows/build-zip.sh)
set -euo pipefail
source "$(dirname "$0")/env.sh"

PROFILE_ARGS=()
[ "${1:-}" = "--release" ] && PROFILE_ARGS=(--release)

install_packages() {
    local missing=()
    /usr/bin/rustc --version >/dev/null 2>&1 || missing+=(rustc-web)
    [ -x /usr/bin/cargo ] || missing+=(cargo-web)
    [ -d /usr/lib/rustlib/src/rust/library ] || missing+=(rust-web-src)
    command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
    [ -x "$WINE" ] || missing+=(wine64)
    [ ${#missing[@]} -eq 0 ] && return 0
    wlog "apt-get install ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A private Wine prefix with the ProcessPrng stub (test scaffolding: see processprng.c).
prepare_prefix() {
    local sys32=$WINEPREFIX/drive_c/windows/system32
    if [ ! -f "$sys32/kernel32.dll" ]; then
        wlog "wineboot --init ($WINEPREFIX)"
        mkdir -p "$WINEPREFIX"
        "$WINE" wineboot --init >/dev/null 2>&1
        "$WINESERVER" -w
    fi
    local stub=$WIN_TARGET_DIR/bcryptprimitives.dll
    local src=$WIN_ROOT/tests/windows/processprng.c
    if [ ! -f "$stub" ] || [ "$src" -nt "$stub" ]; then
        x86_64-w64-mingw32-gcc -O2 -shared -o "$stub" "$src" "${src%.c}.def" -ladvapi32
    fi
    cp "$stub" "$sys32/bcryptprimitives.dll"
}

install_packages
mkdir -p "$WIN_TARGET_DIR"
prepare_prefix
wlog "cargo build (daemon, client DLL, smtp32ctl) ${PROFILE_ARGS[*]}"
cd "$WIN_ROOT"
win_cargo build "${WIN_BUILD_ARGS[@]}" "${PROFILE_ARGS[@]}" \
    -p smtp32d -p smtp32 -p smtp32-tools --bin smtp32d --bin smtp32ctl --lib
