#!/usr/bin/env bash
# Set up and start the whole server on this machine: the web (gunicorn), the build worker for
# the local engine (celery worker) and the periodic tasks (celery beat), on SQLite and a local
# Redis. Ctrl-C stops all three. Logs of the worker and beat: var/log/.
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

mkdir -p var/log
children=()
stop_children() {
    [ "${#children[@]}" -gt 0 ] && kill "${children[@]}" 2>/dev/null
    wait
}
trap stop_children EXIT
trap 'exit 0' INT TERM
$VENV/python manage.py worker >>var/log/worker.log 2>&1 &
children+=($!)
$VENV/celery -A xcargo_web beat --loglevel INFO >>var/log/beat.log 2>&1 &
children+=($!)

printf '\n  xcargo-web is starting at http://%s/\n' "$BIND"
printf '  sign in as "admin"; the password is in var/admin-password\n\n'
$VENV/gunicorn xcargo_web.wsgi:application --bind "$BIND" --workers 2 --threads 4 \
    --access-logfile - &
children+=($!)
status=0
wait -n || status=$?
echo "xcargo-web: a part of the server stopped (see var/log/); stopping the rest" >&2
exit "$status"
