# The xcargo-web server image, for compose.yaml (web, worker, beat). Builds run on the engine
# whose socket is mounted into the worker; this image carries Python, git and the project.
FROM python:3.11-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY runtimes runtimes
COPY builds builds
COPY xcargo_web xcargo_web
COPY templates templates
COPY manage.py ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock \
 && pip install --no-cache-dir --no-deps .
ENV XCARGO_VAR_DIR=/var/lib/xcargo
