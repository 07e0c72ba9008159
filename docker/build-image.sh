#!/usr/bin/env bash
# Build the HRC image offline: FROM the debootstrap base (docker/build-base.sh),
# every Python package from the host-made wheelhouse (docker/build-wheelhouse.sh),
# with no network during the build. The tag is a hash of what goes into the
# image, so an unchanged tree is not rebuilt. Prints the image tag last.
#
# Usage: docker/build-image.sh [REPOSITORY]      (default: hrc)
set -euo pipefail
cd "$(dirname "$0")/.."

REPOSITORY="${1:-hrc}"
base="$(docker/build-base.sh | tail -1)"
docker/build-wheelhouse.sh

# Tag: hash of the base, the wheelhouse stamp and every file the image copies.
content_hash="$(
    {
        echo "$base"
        cat build/wheelhouse/.pyproject.sha256
        find Dockerfile pyproject.toml README.md docker src -type f \
            ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z \
            | xargs -0 sha256sum
    } | sha256sum | cut -c1-12
)"
tag="$REPOSITORY:$content_hash"
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "build-image: $tag exists" >&2
    echo "$tag"
    exit 0
fi

# The classic builder ships with engine 20.10; --network none proves offline.
echo "build-image: building $tag from $base" >&2
start=$(date +%s)
DOCKER_BUILDKIT=0 docker build --network none --quiet \
    --build-arg BASE="$base" --build-arg WHEELHOUSE=build/wheelhouse \
    --label hrc.image=1 --tag "$tag" . >&2
echo "build-image: built $tag in $(($(date +%s) - start)) s" >&2
echo "$tag"
