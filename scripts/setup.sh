#!/usr/bin/env bash
# Set up a fresh Debian machine for xcargo-web, idempotently.
#
# Usage: scripts/setup.sh run|test
#   run   what the server needs: system packages, the Python environment, a Docker engine, Redis
#   test  the same, plus Podman's Docker-compatible socket, PostgreSQL (the tests run on it;
#         var/test.env names it) and Chromium for the browser tests
#
# Each step checks before it acts, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;36msetup:\033[0m %s\n' "$*" >&2; }

# debootstrap makes the Debian base image (no registry needed); qemu-user and the foreign
# libc packages run the cross-built binaries on this host.
# git fetches projects' sources; Redis is the build queue's broker.
PACKAGES=(debootstrap qemu-user libc6-arm64-cross libgcc-s1-arm64-cross
          libc6-armhf-cross libgcc-s1-armhf-cross curl ca-certificates git redis-server)
# The test suite runs on PostgreSQL, its browser tests drive Debian's Chromium, and the
# README's CI recipe (which a test runs) reads JSON with jq; systemd-analyze checks the units.
# The registry tests start Debian's docker-registry (htpasswd makes a private one's password).
TEST_PACKAGES=(postgresql chromium jq systemd docker-registry apache2-utils)

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
    local lock=$1
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        python3 -m venv .venv
    fi
    # The locked versions, each checked against its hash (requirements.lock for the server,
    # requirements-dev.lock with the test tools too; both made by uv from pyproject.toml), then
    # the project itself. Cheap when nothing changed.
    .venv/bin/pip install -q --disable-pip-version-check --require-hashes -r "$lock"
    .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
    # An editable install compiles none of the project's own modules; compiled here, every
    # `xcargo` run starts from bytecode even where PYTHONDONTWRITEBYTECODE keeps Python from
    # writing it (about a tenth of a second saved on each run).
    .venv/bin/python -m compileall -q runtimes builds xcargo_web
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

redis_server() {
    mkdir -p var
    if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        return
    fi
    log "starting redis-server on 127.0.0.1:6379 (log: var/redis.log)"
    # Queued builds survive a restart: every write goes to an append-only file in var/ (and
    # snapshots when they can; one that fails, var/ removed under a running Redis, must not
    # stop the queue taking builds, hence stop-writes-on-bgsave-error no).
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 \
        --dir "$PWD/var" --logfile "$PWD/var/redis.log" --stop-writes-on-bgsave-error no \
        --appendonly yes --appendfsync everysec
    for _ in $(seq 1 50); do
        redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return
        sleep 0.2
    done
    log "redis-server did not start; see var/redis.log"
    exit 1
}

as_postgres() { (cd /tmp && runuser -u postgres -- "$@"); }

postgres_server() {
    local version
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
        log "creating the PostgreSQL $version cluster"
        pg_createcluster "$version" main >/dev/null
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        log "starting PostgreSQL $version"
        pg_ctlcluster "$version" main start
    fi
    for _ in $(seq 1 50); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 0.2
    done
    # The tests create (and drop) their own database next to this one, hence CREATEDB.
    if [ "$(as_postgres psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'xcargo'")" != 1 ]; then
        as_postgres psql -qc "CREATE ROLE xcargo LOGIN CREATEDB PASSWORD 'xcargo'"
    fi
    if [ "$(as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'xcargo'")" != 1 ]; then
        as_postgres createdb -O xcargo xcargo
    fi
    mkdir -p var
    echo "DATABASE_URL=postgres://xcargo:xcargo@127.0.0.1:5432/xcargo" > var/test.env
}

# The registry tests' public registry (tests/registries.py) speaks plain HTTP on loopback, which
# Docker allows for 127.0.0.0/8 by itself; Podman needs it said, and reads it when its service
# starts. (The private one's certificate the tests place under /etc/containers/certs.d.)
test_registries_for_podman() {
    local conf=/etc/containers/registries.conf.d/50-xcargo-test-registries.conf
    if [ ! -e "$conf" ]; then
        mkdir -p "$(dirname "$conf")"
        printf '[[registry]]\nlocation = "127.0.0.1:5101"\ninsecure = true\n' > "$conf"
    fi
}

case "${1:-}" in
    run)
        system_packages "${PACKAGES[@]}"
        python_env requirements.lock
        docker_engine
        redis_server
        ;;
    test)
        system_packages "${PACKAGES[@]}" "${TEST_PACKAGES[@]}"
        python_env requirements-dev.lock
        docker_engine
        redis_server
        postgres_server
        test_registries_for_podman
        scripts/podman-service.sh >/dev/null
        scripts/podman-rootless.sh >/dev/null
        ;;
    *)
        echo "usage: $0 run|test" >&2
        exit 2
        ;;
esac
log "ready"
