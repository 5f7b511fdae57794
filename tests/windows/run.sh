#!/usr/bin/env bash
# The Windows job (called by tests/run-all.sh; SMTP32_WINDOWS=0 leaves it out for a quick local
# run, CI runs it): builds smtp32 for x86_64-pc-windows-gnu (build.sh), runs the unit tests of
# every crate under Wine, then, as Windows programs under Wine, against Postfix smtp-sink on
# 127.0.0.1 and smtp32d.exe in console mode on a named pipe:
#   - wine_client.exe, a C program linked against D32-SMTP.DLL's import library: helo, mail,
#     rcpt, data through a callback, rply, quit; xhelo with its status callback; xquit
#     cancelling an xhelo stalled on a server that never greets; timed smtp_noop round trips;
#   - smtp32ctl.exe status and ping;
#   - squatting: squatter.exe holds a pipe name first; smtp32d.exe must refuse to start on it,
#     and a client that expects the service account (SMTP32_DAEMON_SID=S-1-5-19) must refuse
#     to talk to it and send it nothing;
#   - the registry's Timeout and DebugLevel as defaults under the configuration file;
#   - the Windows service: --install-service, sc start, served, sc stop, --uninstall-service.
# Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/env.sh"

if [ "${SMTP32_WINDOWS:-1}" = 0 ]; then
    wlog "left out (SMTP32_WINDOWS=0)"
    exit 0
fi
started=$SECONDS
failed=0
fail() { wlog "FAILED: $*"; failed=1; }

bash "$WIN_ROOT/tests/windows/build.sh"
D=$WIN_PROFILE_DIR
WORK=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    "$WINESERVER" -k 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

wlog "D32-SMTP.DLL, its import library and the test programs"
bash "$WIN_ROOT/packaging/windows/dll.sh" "$D"
x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -I "$WIN_ROOT/client/include" \
    -o "$D/wine_client.exe" "$WIN_ROOT/tests/windows/wine_client.c" -L"$D" -ld32-smtp
x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror \
    -o "$D/squatter.exe" "$WIN_ROOT/tests/windows/squatter.c"

wlog "unit tests under Wine"
(cd "$WIN_ROOT" \
    && win_cargo test "${WIN_BUILD_ARGS[@]}" -p smtp32-protocol -p smtp32 -p smtp32d --lib) \
    2>&1 | tee "$WORK/unit.log" | grep -E '^test result|FAILED|panicked' >&2 || true
grep -q 'FAILED\|error\[' "$WORK/unit.log" && fail "unit tests under Wine"
grep -c '^test result: ok' "$WORK/unit.log" | grep -qx 3 || fail "not every crate's unit tests ran"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Waits (up to 30 s) until `cmd` succeeds; false if it never does.
eventually() {
    local deadline=$((SECONDS + 30))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

wlog "peers: smtp-sink and a server that never greets, on 127.0.0.1"
SINK_PORT=$(free_port)
sink_user=()
[ "$(id -u)" -eq 0 ] && sink_user=(-u nobody)
/usr/sbin/smtp-sink "${sink_user[@]}" "127.0.0.1:$SINK_PORT" 64 &
pids+=($!)
STALL_PORT=$(free_port)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
held = []
while True:
    held.append(s.accept()[0])  # accepted, never greeted
' "$STALL_PORT" &
pids+=($!)

wlog "the SMTP-32 registry values are defaults that the configuration file overrides"
REG_KEY='HKLM\SOFTWARE\Distinct\DLLS\SMTP32'
"$WINE" reg add "$REG_KEY" /v Timeout /t REG_DWORD /d 7 /f >/dev/null 2>&1
"$WINE" reg add "$REG_KEY" /v DebugLevel /t REG_DWORD /d 1 /f >/dev/null 2>&1
"$WINE" "$D/smtp32d.exe" --check-config 2>&1 | tr -d '\r' >"$WORK/registry.log" || true
grep -q '^    timeout: 7,' "$WORK/registry.log" || fail "Timeout is no default"
grep -q '^    debug_level: 1,' "$WORK/registry.log" || fail "DebugLevel is no default"
printf 'timeout = 9\n' >"$WORK/smtp32d.toml"
"$WINE" "$D/smtp32d.exe" --check-config --config "$WORK/smtp32d.toml" 2>&1 \
    | tr -d '\r' >"$WORK/registry.log" || true
grep -q '^    timeout: 9,' "$WORK/registry.log" || fail "the file does not override the registry"
"$WINE" reg delete "$REG_KEY" /f >/dev/null 2>&1

PIPE="\\\\.\\pipe\\smtp32d-test-$$"
export SMTP32_SOCKET=$PIPE
wlog "smtp32d.exe in console mode on $PIPE"
"$WINE" "$D/smtp32d.exe" >"$WORK/daemon.log" 2>&1 &
daemon=$!
pids+=($daemon)
eventually "$WINE" "$D/smtp32ctl.exe" ping || fail "smtp32d.exe did not answer on $PIPE"

wlog "wine_client.exe (D32-SMTP.DLL) against smtp-sink"
if ! "$WINE" "$D/wine_client.exe" "127.0.0.1:$SINK_PORT" "127.0.0.1:$STALL_PORT" \
    >"$WORK/client.log" 2>&1; then
    fail "wine_client.exe"
fi
cat "$WORK/client.log" >&2
ok=$(grep -c '^ok - ' "$WORK/client.log" || true)
wlog "wine_client.exe: $ok checks passed"
grep -q '^not ok' "$WORK/client.log" && fail "a wine_client.exe check"

wlog "smtp32ctl.exe status and ping"
"$WINE" "$D/smtp32ctl.exe" status >"$WORK/status.log" 2>&1 || fail "smtp32ctl.exe status"
cat "$WORK/status.log" >&2
grep -q '^connections opened: *[1-9]' "$WORK/status.log" || fail "status counts no connections"
for _ in 1 2 3 4 5; do "$WINE" "$D/smtp32ctl.exe" ping >&2 || fail "smtp32ctl.exe ping"; done
"$WINE" "$D/smtp32ctl.exe" shutdown >&2 || fail "smtp32ctl.exe shutdown"
wait "$daemon" || fail "smtp32d.exe exited with $? after shutdown"

wlog "squatting: a pipe name taken first"
SQUAT="\\\\.\\pipe\\smtp32d-squat-$$"
"$WINE" "$D/squatter.exe" "$SQUAT" >"$WORK/squatter.log" 2>&1 &
squatter=$!
pids+=($squatter)
eventually grep -q squatting "$WORK/squatter.log" || fail "the squatter did not start"
if "$WINE" "$D/smtp32d.exe" --socket "$SQUAT" >"$WORK/squat-daemon.log" 2>&1; then
    fail "smtp32d.exe started on a squatted pipe"
fi
grep -q 'refusing to start' "$WORK/squat-daemon.log" || fail "smtp32d.exe did not say why"
cat "$WORK/squat-daemon.log" >&2
if SMTP32_DAEMON_SID=S-1-5-19 "$WINE" "$D/smtp32ctl.exe" --socket "$SQUAT" status \
    >"$WORK/squat-ctl.log" 2>&1; then
    fail "smtp32ctl.exe talked to the squatter"
fi
cat "$WORK/squat-ctl.log" >&2
grep -q 'not trusted.*expected S-1-5-19' "$WORK/squat-ctl.log" || fail "the client did not say why"
wait "$squatter" || true
tr -d '\r' <"$WORK/squatter.log" | grep -qx 'received 0' \
    || fail "the squatter received bytes: $(cat "$WORK/squatter.log")"

wlog "the Windows service: install, start, serve, stop, uninstall"
SVC="\\\\.\\pipe\\smtp32d-service-$$"
"$WINE" "$D/smtp32d.exe" --install-service --socket "$SVC" >&2 || fail "--install-service"
"$WINE" sc start smtp32d >/dev/null 2>&1 || fail "sc start smtp32d"
eventually "$WINE" "$D/smtp32ctl.exe" --socket "$SVC" ping || fail "the service does not answer"
"$WINE" sc stop smtp32d >/dev/null 2>&1 || fail "sc stop smtp32d"
service_stopped() { "$WINE" sc query smtp32d 2>/dev/null | grep -q 'STATE.*STOPPED'; }
eventually service_stopped || fail "the service did not stop"
if "$WINE" "$D/smtp32ctl.exe" --socket "$SVC" ping >/dev/null 2>&1; then
    fail "the stopped service still answers"
fi
"$WINE" "$D/smtp32d.exe" --uninstall-service >&2 || fail "--uninstall-service"
if "$WINE" sc query smtp32d >/dev/null 2>&1; then fail "the service is still registered"; fi

wlog "done in $((SECONDS - started)) s"
[ $failed -eq 0 ] || { wlog "daemon log:"; cat "$WORK/daemon.log" >&2; }
exit $failed
