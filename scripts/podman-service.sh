#!/usr/bin/env bash
# Start Podman's Docker-compatible API service on a Unix socket (rootful).
#
# Usage: scripts/podman-service.sh [LOGFILE]
#
# Idempotent: installs podman only when missing, writes a containers.conf
# drop-in only when absent, and starts the service only when the socket does
# not already answer /_ping.  On success the socket URL (for DOCKER_HOST or
# docker.DockerClient(base_url=...)) is the only thing printed on stdout.
#
# Environment overrides:
#   PODMAN_SOCKET        socket path      (default /run/podman/podman.sock)
#   PODMAN_WAIT_SECONDS  startup timeout  (default 30)
set -euo pipefail

SOCKET="${PODMAN_SOCKET:-/run/podman/podman.sock}"
LOGFILE="${1:-/tmp/podman-service.log}"
WAIT_SECONDS="${PODMAN_WAIT_SECONDS:-30}"
PIDFILE="${SOCKET%.sock}.pid"
DROPIN_DIR=/etc/containers/containers.conf.d
DROPIN="$DROPIN_DIR/50-xcargo-ci.conf"

log() { printf 'podman-service: %s\n' "$*" >&2; }

# Serialise concurrent invocations (two CI steps starting the service at once).
exec 9>"${TMPDIR:-/tmp}/podman-service.lock"
flock -w 120 9 || { log "could not take lock"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        log "must run as root (or have sudo)"
        exit 1
    fi
fi

ping_ok() {
    [ "$($SUDO curl -s --max-time 3 --unix-socket "$SOCKET" http://d/_ping 2>/dev/null || true)" = "OK" ]
}

# --- 1. packages -------------------------------------------------------------
need=()
for pkg in podman uidmap slirp4netns fuse-overlayfs iptables curl; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        need+=("$pkg")
    fi
done
if [ "${#need[@]}" -gt 0 ]; then
    log "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq "${need[@]}" >&2
fi

# --- 2. configuration (only when absent) -------------------------------------
# * Without systemd as PID 1 use the cgroupfs manager and a file events log
#   (podman auto-detects both, pinning them avoids dbus/journald lookups).
# * Without CAP_SYS_RESOURCE the runtime cannot raise RLIMIT_NOFILE/NPROC above
#   the caller's hard limit, and podman's rootful default (1048576) makes every
#   container fail with "error setting rlimit type 7".  Default to limits that
#   fit.  Podman itself caps its own RLIMIT_NPROC at 32768.
if [ ! -e "$DROPIN" ]; then
    conf=""
    if [ ! -d /run/systemd/system ]; then
        conf+=$'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    fi
    capeff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
    if [ "$SUDO" = "" ] && (( ((16#$capeff) >> 24) & 1 )); then
        :   # CAP_SYS_RESOURCE present: podman's defaults work
    else
        nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
        [ "$nofile" = unlimited ] && nofile=1048576
        [ "$nproc" = unlimited ] && nproc=32768
        [ "$nofile" -gt 1048576 ] && nofile=1048576
        [ "$nproc" -gt 32768 ] && nproc=32768
        conf+=$'[containers]\n'"default_ulimits = [\"nofile=${nofile}:${nofile}\", \"nproc=${nproc}:${nproc}\"]"$'\n'
    fi
    if [ -n "$conf" ]; then
        log "writing $DROPIN"
        $SUDO mkdir -p "$DROPIN_DIR"
        printf '# Written by scripts/podman-service.sh\n%s' "$conf" | $SUDO tee "$DROPIN" >/dev/null
    fi
fi

# --- 3. service ---------------------------------------------------------------
if ping_ok; then
    log "already answering on $SOCKET"
else
    running=""
    if [ -f "$PIDFILE" ]; then
        pid=$(cat "$PIDFILE" 2>/dev/null || true)
        cmdline=""
        if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
            cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)
        fi
        case "$cmdline" in
            *"system service"*) running="$pid"; log "service already starting (pid $pid)" ;;
        esac
    fi
    if [ -z "$running" ]; then
        $SUDO mkdir -p "$(dirname "$SOCKET")" "$(dirname "$LOGFILE")"
        $SUDO rm -f "$SOCKET"   # stale socket from a killed service
        log "starting podman system service (log: $LOGFILE)"
        # conmon drops an "oom" marker file into the service's working
        # directory whenever a container hits its memory limit, so never run
        # the service from the caller's cwd (e.g. the project checkout).
        (
            cd "$(dirname "$SOCKET")"
            exec $SUDO setsid nohup podman system service --time=0 "unix://$SOCKET" \
                </dev/null >>"$LOGFILE" 2>&1 9>&-
        ) &
        echo "$!" | $SUDO tee "$PIDFILE" >/dev/null
    fi
    deadline=$((SECONDS + WAIT_SECONDS))
    until ping_ok; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "no answer on $SOCKET after ${WAIT_SECONDS}s; log tail:"
            tail -n 20 "$LOGFILE" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
    log "ready"
fi

echo "unix://$SOCKET"
