# The xcargo-web server image, for compose.yaml (web, worker, beat), made with no container
# registry: on Debian bookworm (Python 3.11) bootstrapped here (deploy/compose/prepare.sh, which
# also brings the host's CA bundle, so pip and git reach PyPI and remotes as the host does).
# Builds run on the engine whose socket is mounted into the worker; this image carries Python,
# git, debootstrap, the locked dependencies and the project (with its example crate).
ARG BASE_IMAGE=localhost/xcargo/debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv git debootstrap ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    XCARGO_VAR_DIR=/var/lib/xcargo
COPY deploy/compose/host-ca.crt /etc/xcargo/host-ca.crt
ENV PIP_CERT=/etc/xcargo/host-ca.crt \
    SSL_CERT_FILE=/etc/xcargo/host-ca.crt \
    GIT_SSL_CAINFO=/etc/xcargo/host-ca.crt
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes -r requirements.lock
COPY pyproject.toml README.md manage.py ./
COPY runtimes runtimes
COPY builds builds
COPY xcargo_web xcargo_web
COPY templates templates
COPY tests/fixtures tests/fixtures
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps .
