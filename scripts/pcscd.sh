#!/bin/bash
# pcscd.sh — PC/SC test bench for sscard: pcscd + vsmartcard's vpcd reader driver, no systemd.
#
#   scripts/pcscd.sh install   apt packages (apt-get update first; already installed ones skipped)
#   scripts/pcscd.sh packages  print those packages' names
#   scripts/pcscd.sh start     start `pcscd -f` in the background (setsid), PID file in the state dir,
#                              wait until /run/pcscd/pcscd.comm exists and vpcd listens on :35963
#   scripts/pcscd.sh stop      stop the pcscd this script started (by its PID only)
#   scripts/pcscd.sh status    tell whether pcscd is up (exit 0) or not (exit 3)
#   scripts/pcscd.sh e2e       start (if needed) + run the pcsc end-to-end test + stop (if we started)
#
# Environment:
#   SSCARD_PCSCD_STATE  state dir (PID file, log); default /tmp/sscard-pcscd
#   PCSCD_DEBUG=1       run pcscd with `-d -a` (debug + APDU log; slow and noisy)
#   PCSCD_CONFDIR=DIR   pass `-c DIR` to pcscd (another reader.conf.d)
#
# Facts (see shared/spec/pcsc.md): /etc/reader.conf.d/vpcd, installed by vsmartcard-vpcd, makes
# pcscd load libifdvpcd.so with DEVICENAME /dev/null:0x8C7B, so vpcd LISTENS on 0.0.0.0:35963
# (reader "Virtual PCD 00 00") and :35964 ("Virtual PCD 00 01"); the virtual card connects to it.
# `pcscd -f` stays in the foreground, which gives us a PID we own. Client socket:
# /run/pcscd/pcscd.comm.
set -euo pipefail

STATE=${SSCARD_PCSCD_STATE:-/tmp/sscard-pcscd}
PIDFILE=$STATE/pcscd.pid
LOGFILE=$STATE/pcscd.log
COMM=/run/pcscd/pcscd.comm
PORT=35963
PACKAGES=(pcscd libpcsclite1 libpcsclite-dev pkg-config vsmartcard-vpcd pcsc-tools opensc
  python3-pyscard iproute2)

log() { echo "[pcscd.sh] $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

do_install() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then log "all packages already installed"; return 0; fi
  log "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# PID from our PID file if that process is alive and is a pcscd; empty otherwise.
our_pid() {
  [ -f "$PIDFILE" ] || return 0
  local p
  p=$(tr -d '\0\n ' < "$PIDFILE")
  [ -n "$p" ] || return 0
  if kill -0 "$p" 2>/dev/null && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = pcscd ]; then echo "$p"; fi
}

port_listens() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

ready() { [ -S "$COMM" ] && port_listens "$PORT"; }

do_start() {
  command -v ss >/dev/null || { log "ss missing (iproute2): run '$0 install'"; return 1; }
  command -v pcscd >/dev/null || { log "pcscd missing: run '$0 install'"; return 1; }
  mkdir -p "$STATE"
  local p
  p=$(our_pid)
  if [ -n "$p" ]; then log "pcscd already running (pid $p, ours)"; return 0; fi
  if ready; then log "a pcscd not started by this script is already serving; using it"; return 0; fi
  local flags=(-f)
  [ "${PCSCD_DEBUG:-0}" = 1 ] && flags+=(-d -a)
  [ -n "${PCSCD_CONFDIR:-}" ] && flags+=(-c "$PCSCD_CONFDIR")
  setsid pcscd "${flags[@]}" >"$LOGFILE" 2>&1 </dev/null &
  p=$!
  echo "$p" >"$PIDFILE"
  local _
  for _ in $(seq 100); do   # up to 10 s
    if ready; then
      log "pcscd up (pid $p), vpcd listening on :$PORT/:$((PORT + 1)), log $LOGFILE"
      return 0
    fi
    if ! kill -0 "$p" 2>/dev/null; then break; fi
    sleep 0.1
  done
  log "pcscd did not come up; log follows"
  cat "$LOGFILE" >&2 || true
  kill "$p" 2>/dev/null || true
  rm -f "$PIDFILE"
  return 1
}

do_stop() {
  local p _
  p=$(our_pid)
  if [ -z "$p" ]; then log "no pcscd started by this script is running"; rm -f "$PIDFILE"; return 0; fi
  kill "$p"
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then log "pcscd $p ignored SIGTERM; SIGKILL"; kill -9 "$p" || true; fi
  rm -f "$PIDFILE"
  log "stopped pcscd (pid $p)"
}

do_status() {
  local p
  p=$(our_pid)
  if ready; then
    if [ -n "$p" ]; then echo "pcscd running (pid $p, started by this script)"
    else echo "pcscd running (not started by this script)"; fi
    local port
    for port in "$PORT" $((PORT + 1)); do
      if port_listens "$port"; then echo "  vpcd listening on :$port"; fi
    done
    return 0
  fi
  if [ -n "$p" ]; then echo "pcscd (pid $p) running but not ready"; else echo "pcscd not running"; fi
  return 3
}

do_e2e() {
  local started=0
  if [ -z "$(our_pid)" ] && ! ready; then do_start; started=1; fi
  local rc=0
  (cd "$(dirname "$0")/.." &&
    SSCARD_E2E=1 cargo test -p sscard-vcard --features pcsc --test pcsc_e2e -- --include-ignored --nocapture) || rc=$?
  if [ "$started" = 1 ]; then do_stop; fi
  return "$rc"
}

case "${1:-help}" in
  install) do_install ;;
  packages) echo "${PACKAGES[@]}" ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  e2e) do_e2e ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
