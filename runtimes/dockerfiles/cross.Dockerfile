# A cross target: Debian's multiarch standard library for the target (of the toolchain's
# suite) and its GNU linker. The linker is named in /.cargo/config.toml, which cargo reads from
# every directory below /, so it applies to the project at /project without touching the
# CARGO_HOME volume. Builds with a glibc floor link with zig instead (cargo-zigbuild's settings
# come from the environment, which wins over this file).
# On first use for some targets, cargo-zigbuild adds files to zig's own library (for 32-bit ARM,
# a glibc header zig lacks): a build container's root is read-only, so it is done here, while
# the image is made. It stops at cargo, which finds no project there; the check after it says
# whether the header came.
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
RUN cd /tmp \
 && { cargo zigbuild --offline --target "${RUST_TARGET}" --manifest-path /nowhere/Cargo.toml \
      >/dev/null 2>&1 || true; } \
 && case "${RUST_TARGET}" in arm*) test -f /opt/zig/lib/libc/glibc/sysdeps/arm/arm-features.h ;; esac
