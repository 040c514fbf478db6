# One rustc and its cargo, from the Debian suite that has them: trixie (rustc 1.85, rustc-web
# 1.96) or trixie-backports (1.98). Every target image of this toolchain is built on it.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG SUITE COMPILER_PACKAGES CHANNEL
# A suite's rustc moves on (trixie-backports went from 1.97 to 1.98): an image is never labelled
# with a channel its rustc is not, the bootstrap stops and says what the suite has now.
RUN case "${SUITE}" in *-backports) \
      echo "deb http://deb.debian.org/debian ${SUITE} main" > /etc/apt/sources.list.d/backports.list ;; \
    esac \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -t "${SUITE}" \
      ${COMPILER_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && { rustc --version | grep -q "^rustc ${CHANNEL}\." || { \
      echo "${SUITE} now has $(rustc --version), not ${CHANNEL}: update runtimes/toolchains.py"; \
      exit 1; }; }
# On first use for 32-bit ARM, cargo-zigbuild adds a glibc header zig lacks to zig's own
# library, which a build container's read-only root refuses: it is done here, while the image
# is made, so every image of this toolchain has it (one named for another target too). It stops
# at cargo, which finds no project there; the check after it says whether the header came.
RUN cd /tmp \
 && { cargo zigbuild --offline --target armv7-unknown-linux-gnueabihf \
      --manifest-path /nowhere/Cargo.toml >/dev/null 2>&1 || true; } \
 && test -f /opt/zig/lib/libc/glibc/sysdeps/arm/arm-features.h
