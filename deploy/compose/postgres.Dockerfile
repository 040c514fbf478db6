# compose.yaml's PostgreSQL: Debian's, on the bootstrapped base. The first start makes the
# cluster, the user and the database named by POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB.
ARG BASE_IMAGE=localhost/xcargo/debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data
COPY deploy/compose/postgres-start.sh /usr/local/bin/postgres-start
USER postgres
CMD ["postgres-start"]
