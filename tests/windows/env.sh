# Sourced by tests/windows/*.sh: the Windows toolchain and the private Wine prefix.
#
# Debian's rustc-web (a second Rust toolchain at /usr/bin, with its std source where -Zbuild-std
# looks) builds std for x86_64-pc-windows-gnu; MinGW links; wine64 runs the programs. Nothing
# here touches the Linux build: its own target dir (target/windows, or
# $SMTP32_WINDOWS_TARGET_DIR) and its own Wine prefix in it (or $SMTP32_WINEPREFIX).

WIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WIN_TARGET=${WIN_TARGET:-x86_64-pc-windows-gnu}
WIN_TARGET_DIR=${SMTP32_WINDOWS_TARGET_DIR:-$WIN_ROOT/target/windows}
WIN_PROFILE_DIR=$WIN_TARGET_DIR/$WIN_TARGET/debug
export WINEPREFIX=${SMTP32_WINEPREFIX:-$WIN_TARGET_DIR/wineprefix}
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver64
[ -x "$WINESERVER" ] || WINESERVER=/usr/lib/wine/wineserver

wlog() { printf '==> windows: %s\n' "$*" >&2; }

# The cargo of rustc-web, never rustup's (which cannot build std for Windows here). Without
# incremental data and with line tables only the debug build takes a fraction of the disk.
win_cargo() {
    env -u RUSTUP_TOOLCHAIN -u RUSTFLAGS \
        RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
        CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=line-tables-only \
        CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
        CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$WINE" \
        /usr/bin/cargo "$@"
}

# Arguments every Windows build takes after the subcommand.
WIN_BUILD_ARGS=(--target "$WIN_TARGET" -Zbuild-std=std,panic_abort --target-dir "$WIN_TARGET_DIR")
