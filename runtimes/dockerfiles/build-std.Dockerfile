# A target Debian ships no standard library for (musl, Windows): the standard library's source,
# compiled by each build with cargo's -Zbuild-std. The source is the `library/` of the rust-src
# package of exactly this rustc's version (80 MB of its 355 MB): the first RUN declares no
# build argument, so every such target shares its layer. Each target then adds its linker's
# packages (mingw-w64 for Windows; musl targets link with the base's zig) and its settings in
# /.cargo/config.toml, which cargo reads from every directory below /. The target's empty
# rustlib directory keeps rustc from warning that the sysroot has no such target.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && mkdir /tmp/src && cd /tmp/src \
 && apt-get download "rust-src=$(dpkg-query -W -f='${Version}' rustc)" \
 && dpkg-deb --fsys-tarfile ./rust-src_*.deb \
    | tar -x -C / ./usr/lib/rustlib/src/rust \
      "./usr/src/rustc-$(rustc --version | cut -d' ' -f2)/library" \
 && cd / && rm -rf /tmp/src /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && test -f /usr/lib/rustlib/src/rust/library/Cargo.lock
ARG RUST_TARGET PACKAGES CARGO_CONFIG
RUN if [ -n "${PACKAGES}" ]; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES} \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin; \
    fi \
 && mkdir -p /.cargo "/usr/lib/rustlib/${RUST_TARGET}/lib" \
 && printf '%s\n' "${CARGO_CONFIG}" > /.cargo/config.toml
