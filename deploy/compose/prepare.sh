#!/usr/bin/env bash
# What compose.yaml's images are built from, made here with no container registry:
#  - localhost/xcargo/debian:bookworm, Debian bookworm (its Python is 3.11, the server's) by
#    debootstrap (skipped when the image is there); needs root and debootstrap;
#  - deploy/compose/host-ca.crt, the CA bundle this host trusts (XCARGO_CA_BUNDLE, else
#    SSL_CERT_FILE, else the system's), so that pip and git in the images reach PyPI and
#    remotes through a TLS-inspecting proxy as the host does.
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=${XCARGO_CA_BUNDLE:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
cp "$bundle" deploy/compose/host-ca.crt
IMAGE=localhost/xcargo/debian:bookworm
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mirror=${XCARGO_DEBIAN_MIRROR:-}
debootstrap --variant=minbase bookworm "$rootfs" ${mirror:+"$mirror"} >&2
tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "made $IMAGE" >&2
