#!/usr/bin/env bash
# Start a rootless Podman API service, run by an unprivileged user of its own: the rootless
# engine the tests build on (tests/test_rootless_podman.py). Run as root.
#
# Usage: scripts/podman-rootless.sh [LOGFILE]
#
# Idempotent: creates the user (with subordinate ids) and its storage configuration only
# when missing, and starts the service only when its socket does not answer /_ping. On
# success the socket URL is the only thing printed on stdout.
#
# Environment overrides:
#   XCARGO_ROOTLESS_USER  the user   (default xcargo-rootless)
#   PODMAN_WAIT_SECONDS   startup timeout (default 30)
set -euo pipefail

USER_NAME="${XCARGO_ROOTLESS_USER:-xcargo-rootless}"
LOGFILE="${1:-/tmp/podman-rootless.log}"
WAIT_SECONDS="${PODMAN_WAIT_SECONDS:-30}"

log() { printf 'podman-rootless: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root"; exit 1; }

# The packages rootful Podman needs (scripts/podman-service.sh installs them) include what
# rootless Podman adds: newuidmap (uidmap), slirp4netns, fuse-overlayfs.
if ! id "$USER_NAME" >/dev/null 2>&1; then
    log "creating user $USER_NAME"
    useradd --create-home --shell /usr/sbin/nologin "$USER_NAME"
fi
if ! grep -q "^$USER_NAME:" /etc/subuid || ! grep -q "^$USER_NAME:" /etc/subgid; then
    usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$USER_NAME"
fi
uid=$(id -u "$USER_NAME")
home=$(getent passwd "$USER_NAME" | cut -d: -f6)
runtime_dir="/run/user/$uid"
socket="$runtime_dir/podman/podman.sock"
install -d -o "$USER_NAME" -g "$USER_NAME" -m 700 "$runtime_dir" "$runtime_dir/podman"

# Overlay through fuse-overlayfs: Podman's fallback for a rootless user, vfs, stores every
# layer as a whole copy (gigabytes per toolchain image).
storage="$home/.config/containers/storage.conf"
if [ ! -e "$storage" ]; then
    install -d -o "$USER_NAME" -g "$USER_NAME" "$home/.config" "$home/.config/containers"
    printf '[storage]\ndriver = "overlay"\n\n[storage.options.overlay]\nmount_program = "/usr/bin/fuse-overlayfs"\n' \
        >"$storage"
    chown "$USER_NAME:" "$storage"
fi

ping_ok() {
    [ "$(curl -s --max-time 3 --unix-socket "$socket" http://d/_ping 2>/dev/null || true)" = "OK" ]
}

if ping_ok; then
    log "already answering on $socket"
else
    log "starting podman system service as $USER_NAME (log: $LOGFILE)"
    rm -f "$socket"
    # A session of its own (runuser ends its command when its session is hung up), and no
    # descriptor of ours: a caller reading this script's output gets its end when it exits.
    (
        cd "$home"
        exec setsid runuser -u "$USER_NAME" -- env XDG_RUNTIME_DIR="$runtime_dir" HOME="$home" \
            podman system service --time=0 "unix://$socket" </dev/null >>"$LOGFILE" 2>&1
    ) &
    deadline=$((SECONDS + WAIT_SECONDS))
    until ping_ok; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "no answer on $socket after ${WAIT_SECONDS}s; log tail:"
            tail -n 20 "$LOGFILE" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
    log "ready"
fi

echo "unix://$socket"
