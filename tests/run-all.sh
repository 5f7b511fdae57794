#!/usr/bin/env bash
# The one test command: installs what the end-to-end tests need (only what is missing), builds
# every target of the workspace, then runs every test. Exits non-zero on any failure.
#
#   tests/run-all.sh            install if needed, build, test
#   tests/run-all.sh --deps     only install what is missing
#
# Needs: Debian's postfix (for smtp-sink), swaks, microsocks, dante-server, openssh, ncat, openssl and a C
# compiler, installed with apt-get when one is missing (as root, or through sudo); a private Exim
# (tests/setup/install-exim.sh); and a Python venv with aiosmtpd and prometheus_client at
# target/test-venv (override with SMTP32_TEST_VENV).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
AIOSMTPD_VERSION=1.4.6
# tests/tests/metrics.rs checks the metrics with Prometheus's own OpenMetrics parser.
PROMETHEUS_CLIENT_VERSION=0.21.1
VENV=${SMTP32_TEST_VENV:-$ROOT/target/test-venv}

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else log "need root to run: $*"; exit 1
    fi
}

# apt-get install without prompts and without starting any service (postfix must not take port 25).
apt_install() {
    command -v apt-get >/dev/null || { log "missing packages ($*) and no apt-get: install them by hand"; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# written by smtp32 tests/run-all.sh: start no service while installing\nexit 101\n' \
            | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        made_policy=1
    fi
    log "apt-get install $*"
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    [ "$made_policy" = 1 ] && as_root rm -f "$policy"
    # If postfix started anyway, stop it by its own pidfile.
    local pidfile=/var/spool/postfix/pid/master.pid
    if [ -s "$pidfile" ]; then
        local pid; pid=$(tr -d ' \n' < "$pidfile")
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            log "stopping the postfix master that started (pid $pid)"
            as_root kill "$pid" || true
        fi
    fi
}

install_system_packages() {
    local missing=()
    [ -x /usr/sbin/smtp-sink ] || missing+=(postfix)
    command -v swaks >/dev/null || missing+=(swaks)
    command -v microsocks >/dev/null || missing+=(microsocks)
    [ -x /usr/sbin/danted ] || missing+=(dante-server)
    command -v ncat >/dev/null || missing+=(ncat)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v cc >/dev/null || missing+=(gcc libc6-dev)
    # tests/tests/c_library.rs: pkg-config --modversion smtp32.
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    # OpenSSH's `ssh -D` is the SOCKS4a proxy of tests/tests/socks.rs (Dante has no 4a).
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    command -v ssh >/dev/null || missing+=(openssh-client)
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
}

install_python_venv() {
    if "$VENV/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null \
        && "$VENV/bin/python" -c "import prometheus_client.openmetrics.parser" 2>/dev/null; then
        return
    fi
    log "creating $VENV with aiosmtpd==$AIOSMTPD_VERSION, prometheus_client==$PROMETHEUS_CLIENT_VERSION"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION" \
        "prometheus_client==$PROMETHEUS_CLIENT_VERSION"
}

# --- Exim, for the `Exim` fixture (tests/src/peers/exim.rs) ----------------------------------
# Debian's exim4-daemon-light unpacked into /opt/smtp32-test-exim beside postfix (the packages
# conflict, so it is not apt-installed), its shared libraries, and the Debian-exim user. The
# script is idempotent and returns at once when everything is in place.
install_exim() {
    bash "$ROOT/tests/setup/install-exim.sh"
}

# --- packaging (tests/tests/package.rs): systemd's tools, man-db, logrotate and cargo-deb ----
# systemd-analyze and systemd-socket-activate come with Debian's `systemd` package (installing
# it on a container starts nothing); cargo-deb builds from crates.io and takes a few minutes.
install_packaging_tools() {
    if ! command -v systemd-analyze >/dev/null || ! command -v systemd-socket-activate >/dev/null; then
        apt_install systemd
    fi
    command -v dpkg-deb >/dev/null || apt_install dpkg
    # `man smtp32d` and the logrotate file of the installed package.
    command -v man >/dev/null || apt_install man-db
    command -v logrotate >/dev/null || apt_install logrotate
    if ! cargo deb --version >/dev/null 2>&1; then
        log "cargo install cargo-deb --locked"
        cargo install cargo-deb --locked --quiet
    fi
}
# -----------------------------------------------------------------------------------------

# --- Fuzzing (issue 6) -------------------------------------------------------------------------
# The three parsers that read untrusted bytes (fuzz/: the IPC frame decoder, the SMTP reply
# reader, the dot-stuffer), each fuzzed by libFuzzer for SMTP32_FUZZ_SECONDS (default 30) from
# the committed corpus (fuzz/corpus/<target>/; new finds go to a scratch folder). cargo-fuzz
# wants a nightly toolchain for its sanitizers; with the stable toolchain this project builds
# on, RUSTC_BOOTSTRAP=1 and `-s none` build the same coverage-guided fuzzers without
# AddressSanitizer. Caught are panics (the oracles' assertions among them), arithmetic overflow
# (debug assertions are on), hangs and memory blow-ups (-rss_limit_mb). The oracles also run on
# stable in the main test run (daemon/tests/fuzz_corpus.rs, corpus plus seeded mutations).
# SMTP32_FUZZ_SECONDS=0 leaves fuzzing out (for a quick local run; CI keeps the default).
run_fuzzers() {
    local seconds=${SMTP32_FUZZ_SECONDS:-30}
    if [ "$seconds" -eq 0 ]; then
        log "fuzzing left out (SMTP32_FUZZ_SECONDS=0)"
        return 0
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        log "cargo install cargo-fuzz --locked"
        cargo install cargo-fuzz --locked --quiet || return 1
    fi
    log "cargo fuzz build -s none (stable toolchain, RUSTC_BOOTSTRAP=1)"
    RUSTC_BOOTSTRAP=1 cargo fuzz build -s none || return 1
    local target runs scratch failed=0
    for target in frame_decoder reply_parser dot_stuffer; do
        scratch=$(mktemp -d)
        log "cargo fuzz run $target for $seconds s"
        if RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" "$scratch" "fuzz/corpus/$target" -- \
            -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 >"$scratch/fuzz.log" 2>&1; then
            runs=$(grep -o 'Done [0-9]* runs' "$scratch/fuzz.log" | tail -1)
            log "fuzz $target: ${runs:-no count} in $seconds s, nothing broke"
        else
            log "fuzz $target FAILED; the end of its log (the input is in fuzz/artifacts/$target/):"
            tail -40 "$scratch/fuzz.log" >&2
            failed=1
        fi
        rm -rf "$scratch"
    done
    return $failed
}

# --- Windows (issue 15) ------------------------------------------------------------------------
# tests/windows/run.sh installs Debian's rustc-web, MinGW and wine64 when missing, builds the daemon,
# smtp32ctl and D32-SMTP.DLL for x86_64-pc-windows-gnu (target/windows, its own Wine prefix) and
# runs them under Wine against smtp-sink. SMTP32_WINDOWS=0 leaves it out (a quick local run; CI
# keeps it).
run_windows() {
    bash "$ROOT/tests/windows/run.sh"
}
# -----------------------------------------------------------------------------------------

install_system_packages
install_exim
install_python_venv
install_packaging_tools
export SMTP32_TEST_PYTHON="$VENV/bin/python"
[ "${1:-}" = "--deps" ] && exit 0

log "cargo build --workspace --all-targets"
cargo build --workspace --all-targets

# The code's hygiene is part of the verdict: formatted as rustfmt.toml says, and no clippy
# warning (the workspace's lints included).
hygiene=0
log "cargo fmt --all -- --check"
cargo fmt --all -- --check || hygiene=1
log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings || hygiene=1

# Doc tests first, so that the closing lines are those of the main run; every step runs even
# after a failure, and any failure fails the script.
status=$hygiene
if cargo nextest --version >/dev/null 2>&1; then
    log "cargo test --workspace --doc"
    cargo test --workspace --doc || status=1
    # Before the main run, so that its closing lines stay the last ones.
    run_fuzzers || status=1
    run_windows || status=1
    log "cargo nextest run --workspace"
    cargo nextest run --workspace --no-fail-fast || status=1
else
    run_fuzzers || status=1
    run_windows || status=1
    log "cargo test --workspace (cargo-nextest not found)"
    cargo test --workspace --no-fail-fast || status=1
fi
exit $status
