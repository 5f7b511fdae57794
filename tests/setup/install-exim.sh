#!/usr/bin/env bash
# A private copy of Exim for the end-to-end tests (the `Exim` fixture, tests/src/peers/exim.rs).
#
# Exim cannot be apt-installed next to postfix (both provide mail-transport-agent, and exim4-base
# pulls in cron and starts a daemon), and the tests need postfix for smtp-sink. So this script:
#   1. downloads only the exim4-daemon-light package and unpacks it with dpkg-deb into
#      $SMTP32_TEST_EXIM_DIR (default /opt/smtp32-test-exim): nothing is registered with dpkg,
#      nothing is started;
#   2. installs the shared libraries that package depends on (plain library packages, which do
#      not conflict with postfix; on Debian 12 usually only libidn12 is missing);
#   3. creates the system user `Debian-exim`, the user Debian's binary has compiled in: Exim
#      refuses to start without it and drops privileges to it.
# The fixture writes its own configuration (-C) per test, so exim4-base and exim4-config are not
# needed.
#
# The folder is under /opt, not under target/: Exim re-executes itself as Debian-exim, so every
# directory above the binary must be searchable by that user, which a checkout under a private
# home directory may not be.
#
# Idempotent and quick when everything is in place. Needs root (or sudo) and apt-get.
set -euo pipefail

DEST=${SMTP32_TEST_EXIM_DIR:-/opt/smtp32-test-exim}
PACKAGE=exim4-daemon-light
EXIM_USER=Debian-exim

log() { printf '==> install-exim: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else log "need root to run: $*"; exit 1
    fi
}

command -v apt-get >/dev/null || { log "apt-get not found: this script is for Debian"; exit 1; }
export DEBIAN_FRONTEND=noninteractive

APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" = 0 ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
}

# 1. The package, unpacked into $DEST (atomically: a half-unpacked folder never looks finished).
if [ ! -x "$DEST/usr/sbin/exim4" ] || [ ! -s "$DEST/DEBIAN-control" ]; then
    log "downloading $PACKAGE and unpacking it into $DEST"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # apt drops to the _apt user while downloading: let it write into the folder.
    chmod 755 "$work"
    if id _apt >/dev/null 2>&1; then as_root chown _apt "$work"; fi
    # An empty or stale package list makes the download fail: refresh once and retry.
    if ! (cd "$work" && as_root apt-get download -qq "$PACKAGE" >/dev/null 2>&1); then
        apt_update_once
        (cd "$work" && as_root apt-get download -qq "$PACKAGE" >/dev/null)
    fi
    deb=$(ls "$work"/"$PACKAGE"_*.deb)
    as_root rm -rf "$DEST.partial"
    as_root mkdir -p "$DEST.partial"
    as_root dpkg-deb -x "$deb" "$DEST.partial"
    dpkg-deb -f "$deb" Version Depends | as_root tee "$DEST.partial/DEBIAN-control" >/dev/null
    as_root chmod 755 "$DEST.partial"
    as_root rm -rf "$DEST"
    as_root mv "$DEST.partial" "$DEST"
fi

# 2. The shared libraries: every `lib*` package the binary's Depends line names, when missing.
libs=$(sed -n 's/^Depends: //p' "$DEST/DEBIAN-control" | tr ',|' '\n\n' \
    | sed 's/(.*)//; s/[[:space:]]//g' | grep '^lib' | sort -u)
missing=()
for lib in $libs; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$lib" 2>/dev/null)" != installed ]; then
        missing+=("$lib")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt_update_once
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ldd "$DEST/usr/sbin/exim4" | grep -q 'not found'; then
    log "exim4 still misses shared libraries:"
    ldd "$DEST/usr/sbin/exim4" | grep 'not found' >&2
    exit 1
fi

# 3. The run-time user compiled into Debian's binary.
if ! getent passwd "$EXIM_USER" >/dev/null; then
    log "creating the system user $EXIM_USER"
    as_root useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$EXIM_USER"
fi

# The setuid bit is what lets Exim, re-executed by its own unprivileged processes, deliver.
if [ ! -u "$DEST/usr/sbin/exim4" ] || [ "$(stat -c %u "$DEST/usr/sbin/exim4")" != 0 ]; then
    log "$DEST/usr/sbin/exim4 is not setuid root: remove $DEST and run again"
    exit 1
fi
exit 0
