# Where a build's executables are started once before anyone downloads them: qemu-user for
# every architecture, with the C library of each Debian release that has one (bullseye's glibc
# 2.31, bookworm's 2.36, trixie's 2.41) unpacked per architecture under /sysroots/<suite>, so a
# binary runs on the oldest glibc its floor allows; wabt to validate WebAssembly, and Node.js's
# WASI to run a wasm32-wasip1 program (wabt's wasm-interp is built without WASI in Debian);
# wine to start a Windows program.
# glibc's loader looks in lib/<multiarch> first; in a cross sysroot that directory is lib itself
# (a link to it), else the loader would fall through to the image's own trixie libraries.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG SYSROOT_SUITES SYSROOT_ARCHES
RUN for suite in ${SYSROOT_SUITES}; do \
      echo "deb http://deb.debian.org/debian ${suite} main" > "/etc/apt/sources.list.d/${suite}.list"; \
    done \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      qemu-user wabt nodejs wine64 \
 && mkdir -p /tmp/debs && cd /tmp/debs \
 && for suite in ${SYSROOT_SUITES}; do \
      for arch in ${SYSROOT_ARCHES}; do \
        apt-get download "libc6-${arch}-cross/${suite}" "libgcc-s1-${arch}-cross/${suite}" || exit 1; \
      done; \
      mkdir -p "/sysroots/${suite}"; \
      for deb in ./*.deb; do dpkg-deb -x "${deb}" "/sysroots/${suite}" || exit 1; done; \
      rm -f ./*.deb; \
    done \
 && rm -rf /sysroots/*/usr/share \
 && for root in /sysroots/*/usr/*; do \
      ln -s . "${root}/lib/$(basename "${root}" | sed 's/^i686/i386/')" || exit 1; \
    done \
 && rm -rf /tmp/debs /etc/apt/sources.list.d/* /var/lib/apt/lists/* \
      /var/cache/apt/*.bin
# wine's prefix (its C: drive and registry) is made here, once: made at run time it takes
# seconds and copies 700 MB of DLLs into /tmp. The copies are links to wine's own DLLs, and a
# smoke container runs with the prefix read-only, which wine accepts.
ENV WINEPREFIX=/opt/wine WINEDEBUG=-all XDG_RUNTIME_DIR=/tmp
RUN HOME=/tmp /usr/lib/wine/wine64 wineboot --init \
 && /usr/lib/wine/wineserver --wait \
 && dlls=/usr/lib/x86_64-linux-gnu/wine/x86_64-windows \
 && for copy in /opt/wine/drive_c/windows/system32/*; do \
      own="${dlls}/$(basename "${copy}")"; \
      if [ -f "${own}" ] && cmp -s "${copy}" "${own}"; then ln -sf "${own}" "${copy}"; fi; \
    done \
 && rm -rf /tmp/.wine-*
COPY wasi-run.mjs /usr/local/lib/xcargo/wasi-run.mjs
WORKDIR /
