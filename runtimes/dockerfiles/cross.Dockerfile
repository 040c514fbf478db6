# A cross target: Debian's multiarch standard library for the target and its GNU linker.
# The linker is named in /.cargo/config.toml, which cargo reads from every directory below /,
# so it applies to the project at /project without touching the CARGO_HOME volume.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG DEB_ARCH
ARG GCC_TRIPLE
ARG RUST_TARGET
RUN dpkg --add-architecture "${DEB_ARCH}" \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "gcc-$(echo "${GCC_TRIPLE}" | tr _ -)" "libc6-dev-${DEB_ARCH}-cross" "libstd-rust-dev:${DEB_ARCH}" \
 && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /.cargo \
 && printf '[target.%s]\nlinker = "%s-gcc"\n\n[env]\nCC_%s = "%s-gcc"\n' \
      "${RUST_TARGET}" "${GCC_TRIPLE}" "$(echo "${RUST_TARGET}" | tr -- '-.' '__')" "${GCC_TRIPLE}" \
      > /.cargo/config.toml
