#!/usr/bin/env bash
# Set up and start the whole server on this machine: the web (gunicorn), the build worker for
# the local engine (celery worker) and the periodic tasks (celery beat), on SQLite and a local
# Redis, under supervisord (deploy/supervisord.conf), which restarts a part that dies. Ctrl-C
# or SIGTERM stops all three. Logs: var/log/ (or XCARGO_LOG_DIR).
#
# Environment: XCARGO_BIND (default 127.0.0.1:8000); DATABASE_URL, CELERY_BROKER_URL and the
# other settings of xcargo_web/settings.py.
set -euo pipefail
cd "$(dirname "$0")/.."

BIND=${XCARGO_BIND:-127.0.0.1:8000}
VENV=.venv/bin

scripts/setup.sh run
# The example project's target; other targets' images are made on their first build.
$VENV/xcargo images bootstrap --target aarch64-unknown-linux-gnu
$VENV/python manage.py migrate --noinput
$VENV/python manage.py collectstatic --noinput --verbosity 0
$VENV/python manage.py prepare_server

export XCARGO_BIND=$BIND
export XCARGO_LOG_DIR=${XCARGO_LOG_DIR:-${XCARGO_VAR_DIR:-$PWD/var}/log}
mkdir -p "$XCARGO_LOG_DIR"
printf '\n  xcargo-web is starting at http://%s/\n' "$BIND"
printf '  sign in as "admin"; the password is in var/admin-password\n'
printf '  logs: %s/ (web, worker, beat, supervisord)\n\n' "$XCARGO_LOG_DIR"
# supervisord runs the web, the worker and beat, restarts whichever dies, and stops them all
# (with their children) on Ctrl-C or SIGTERM: deploy/supervisord.conf.
exec $VENV/supervisord --configuration deploy/supervisord.conf
