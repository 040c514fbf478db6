#!/bin/sh
# Start PostgreSQL in the foreground, making its cluster, user and database on the first start.
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
data=/var/lib/postgresql/data
if [ ! -s "$data/PG_VERSION" ]; then
    password=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password"
    "$bin/initdb" -D "$data" -U "$POSTGRES_USER" --pwfile="$password" --auth=scram-sha-256 >/dev/null
    rm -f "$password"
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$data/pg_hba.conf"
    "$bin/pg_ctl" -D "$data" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" \
        -w start >/dev/null
    PGPASSWORD=$POSTGRES_PASSWORD "$bin/createdb" -h /tmp -U "$POSTGRES_USER" "$POSTGRES_DB"
    "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
fi
exec "$bin/postgres" -D "$data" -c listen_addresses='*' -c unix_socket_directories=/tmp
