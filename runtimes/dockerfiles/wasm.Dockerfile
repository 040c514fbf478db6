# A WebAssembly target: Debian's wasm32 standard library (one package holds wasm32-unknown-unknown,
# wasm32-wasip1 and wasm32-wasip2) and LLVM's wasm-ld to link with. rustc asks for rust-lld by
# default, which Debian's rustc does not ship; /.cargo/config.toml names wasm-ld instead.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG STD_PACKAGE SUITE
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -t "${SUITE}" \
      "${STD_PACKAGE}" \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends lld \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
RUN mkdir -p /.cargo \
 && for target in wasm32-unknown-unknown wasm32-wasip1 wasm32-wasip2; do \
      printf '[target.%s]\nlinker = "wasm-ld"\n\n' "${target}"; \
    done > /.cargo/config.toml
