# A cross target: the GNU cross compiler and C library headers for the target (Architecture:
# all packages of the engine's own architecture), and the toolchain's standard library for the
# target. The standard library package holds only the target's rlibs (under
# /usr/lib/rustlib/<target>/lib), but installing it through multiarch pulls in the target
# architecture's own C library, LLVM and rustc runtime, foreign code no build runs, and some
# mirrors do not serve those for every architecture: it is unpacked alone instead, and checked.
# The linker is named in /.cargo/config.toml, which cargo reads from every directory below /,
# so it applies to the project at /project without touching the CARGO_HOME volume. Builds with
# a glibc floor link with zig instead (cargo-zigbuild's settings come from the environment,
# which wins over this file).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG DEB_ARCH GCC_TRIPLE RUST_TARGET STD_PACKAGE SUITE
RUN dpkg --add-architecture "${DEB_ARCH}" \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -t "${SUITE}" \
      "gcc-$(echo "${GCC_TRIPLE}" | tr _ -)" "libc6-dev-${DEB_ARCH}-cross" \
 && mkdir /tmp/std && cd /tmp/std \
 && apt-get download "${STD_PACKAGE}:${DEB_ARCH}/${SUITE}" \
 && dpkg-deb -x ./*.deb / \
 && cd / && rm -rf /tmp/std /usr/share/doc/"${STD_PACKAGE}" /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && ls /usr/lib/rustlib/"${RUST_TARGET}"/lib/libstd-*.rlib \
 && mkdir -p /.cargo \
 && printf '[target.%s]\nlinker = "%s-gcc"\n\n[env]\nCC_%s = "%s-gcc"\n' \
      "${RUST_TARGET}" "${GCC_TRIPLE}" "$(echo "${RUST_TARGET}" | tr -- '-.' '__')" "${GCC_TRIPLE}" \
      > /.cargo/config.toml
