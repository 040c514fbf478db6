# A cross target: Debian's multiarch standard library for the target (of the toolchain's
# suite) and its GNU linker. The linker is named in /.cargo/config.toml, which cargo reads from
# every directory below /, so it applies to the project at /project without touching the
# CARGO_HOME volume. Builds with a glibc floor link with zig instead (cargo-zigbuild's settings
# come from the environment, which wins over this file).
# The target's standard library package depends on the target architecture's own rustc runtime
# (LLVM, z3, rustc_driver: about 250 MB), which no build runs (it is foreign code): removed in
# the layer that installs it, so it never takes space.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG DEB_ARCH
ARG GCC_TRIPLE
ARG RUST_TARGET
ARG STD_PACKAGE
ARG SUITE
RUN dpkg --add-architecture "${DEB_ARCH}" \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -t "${SUITE}" \
      "gcc-$(echo "${GCC_TRIPLE}" | tr _ -)" "libc6-dev-${DEB_ARCH}-cross" "${STD_PACKAGE}:${DEB_ARCH}" \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && rm -f /usr/lib/"${GCC_TRIPLE}"/libLLVM* /usr/lib/"${GCC_TRIPLE}"/libz3* \
      /usr/lib/"${GCC_TRIPLE}"/librustc_driver-*
RUN mkdir -p /.cargo \
 && printf '[target.%s]\nlinker = "%s-gcc"\n\n[env]\nCC_%s = "%s-gcc"\n' \
      "${RUST_TARGET}" "${GCC_TRIPLE}" "$(echo "${RUST_TARGET}" | tr -- '-.' '__')" "${GCC_TRIPLE}" \
      > /.cargo/config.toml
