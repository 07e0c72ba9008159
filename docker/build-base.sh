#!/usr/bin/env bash
# Build the offline base image hrc-base:<hash> from Debian's own packages.
#
# No image registry is needed: debootstrap fetches a minimal Debian bookworm
# (Python 3.11) from the Debian mirror and `docker import` loads it. The tag is
# a hash of this script, so editing the package list makes a new image. The
# root filesystem tarball is cached under HRC_CACHE_DIR and the image is kept
# by the daemon, so later runs skip both steps. Prints the image tag last.
set -euo pipefail
cd "$(dirname "$0")"

SUITE=bookworm
MIRROR="${HRC_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=python3,python3-venv,ca-certificates,libgomp1,iproute2,procps
CACHE_DIR="${HRC_CACHE_DIR:-/var/cache/hrc}"
HASH="$(sha256sum build-base.sh | cut -c1-12)"
TAG="hrc-base:$HASH"
TARBALL="$CACHE_DIR/hrc-base-$HASH.tar"

# Already loaded in the daemon: nothing to do.
if docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "$TAG"
    exit 0
fi

# Root filesystem: from the cache, else debootstrap into a scratch folder.
mkdir -p "$CACHE_DIR"
if [[ ! -s "$TARBALL" ]]; then
    rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    echo "build-base: debootstrap $SUITE into $rootfs" >&2
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" \
        "$MIRROR" >&2
    # Drop what an image does not need: apt lists, caches, docs.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* \
        "$rootfs"/usr/share/man/*
    tar -C "$rootfs" -cf "$TARBALL.partial" .
    mv "$TARBALL.partial" "$TARBALL"
fi

# Load it as an image.
echo "build-base: docker import $TARBALL as $TAG" >&2
docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
    "$TARBALL" "$TAG" >&2
echo "$TAG"
