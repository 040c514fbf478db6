# The toolchain every xcargo image shares: Debian's rustc and cargo, a C compiler for build
# scripts, and the mount points of the build sandbox. Built on the debootstrap image, so no
# container registry is needed.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      rustc cargo gcc libc6-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# CARGO_HOME and the target directory are cache volumes; the source is mounted read-only.
RUN mkdir -p /xcargo/cargo-home /xcargo/target /project
ENV CARGO_HOME=/xcargo/cargo-home \
    CARGO_TARGET_DIR=/xcargo/target \
    CARGO_TERM_COLOR=never \
    CARGO_TERM_PROGRESS_WHEN=never
WORKDIR /project
