# One rustc and its cargo, from the Debian suite that has them: trixie (rustc 1.85, rustc-web
# 1.96) or trixie-backports (1.97). Every target image of this toolchain is built on it.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG SUITE
ARG COMPILER_PACKAGES
RUN case "${SUITE}" in *-backports) \
      echo "deb http://deb.debian.org/debian ${SUITE} main" > /etc/apt/sources.list.d/backports.list ;; \
    esac \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -t "${SUITE}" \
      ${COMPILER_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
