# What every xcargo toolchain image shares, whatever its rustc: C and C++ compilers and the tools
# build scripts of -sys crates run (make, cmake, pkg-config, perl: jemalloc, openssl-src…),
# zig and cargo-zigbuild (to link against an older glibc than the image's own), sccache (the
# compiler cache projects share, runtimes/compiler_cache.py), and the mount points of the
# build sandbox. Built on the debootstrap image, so no container registry is
# needed; zig comes from the Python packages xcargo is installed with, so no network either.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG ZIG_VERSION CARGO_ZIGBUILD_VERSION ZIG_LEFT_OUT
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc g++ libc6-dev make cmake pkg-config perl ca-certificates sccache \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY zig /opt/zig
COPY cargo-zigbuild /usr/local/bin/cargo-zigbuild
RUN ln -s /opt/zig/zig /usr/local/bin/zig
# CARGO_HOME and the target directory are cache volumes; the source is mounted read-only.
RUN mkdir -p /xcargo/cargo-home /xcargo/target /xcargo/compiler-cache /project
ENV CARGO_HOME=/xcargo/cargo-home \
    CARGO_TARGET_DIR=/xcargo/target \
    CARGO_TERM_COLOR=never \
    CARGO_TERM_PROGRESS_WHEN=never
WORKDIR /project
