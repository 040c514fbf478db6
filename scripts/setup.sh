#!/usr/bin/env bash
# Set up a fresh Debian machine for xcargo-web, idempotently.
#
# Usage: scripts/setup.sh run|test
#   run   what the main job needs: system packages, the Python environment, a Docker engine
#   test  the same, plus Podman's Docker-compatible socket for the Podman tests
#
# Each step checks before it acts, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;36msetup:\033[0m %s\n' "$*" >&2; }

# debootstrap makes the Debian base image (no registry needed); qemu-user and the foreign
# libc packages run the cross-built binaries on this host.
PACKAGES=(debootstrap qemu-user libc6-arm64-cross libgcc-s1-arm64-cross
          libc6-armhf-cross libgcc-s1-armhf-cross curl ca-certificates)

system_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

python_env() {
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        python3 -m venv .venv
    fi
    # Re-installing is cheap when nothing changed, and picks up new dependencies.
    .venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
}

docker_engine() {
    if docker info >/dev/null 2>&1; then
        return
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        system_packages docker.io
    fi
    log "starting dockerd (log: /tmp/dockerd.log)"
    (setsid nohup dockerd </dev/null >>/tmp/dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return
        sleep 1
    done
    log "dockerd did not start; see /tmp/dockerd.log"
    exit 1
}

case "${1:-}" in
    run)
        system_packages "${PACKAGES[@]}"
        python_env
        docker_engine
        ;;
    test)
        system_packages "${PACKAGES[@]}"
        python_env
        docker_engine
        scripts/podman-service.sh >/dev/null
        ;;
    *)
        echo "usage: $0 run|test" >&2
        exit 2
        ;;
esac
log "ready"
