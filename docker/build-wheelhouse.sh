#!/usr/bin/env bash
# Fill build/wheelhouse with the wheels the HRC image installs, using the
# host's pip (and so its configured indexes and local wheel folders): torch
# 2.13.0 CPU, HRC's runtime, node and docker dependencies, setuptools. Skipped
# when the wheelhouse already matches pyproject.toml. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
WHEELHOUSE=build/wheelhouse
STAMP="$WHEELHOUSE/.pyproject.sha256"
wanted="$(sha256sum pyproject.toml docker/requirements.py | sha256sum | cut -c1-16)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$wanted" ]]; then
    echo "build-wheelhouse: $WHEELHOUSE is up to date" >&2
    exit 0
fi

# Download for the image's interpreter: CPython 3.11 on manylinux x86_64.
mkdir -p "$WHEELHOUSE"
"$PYTHON" docker/requirements.py pyproject.toml nodes docker >"$WHEELHOUSE/requirements.txt"
"$PYTHON" -m pip download --quiet --dest "$WHEELHOUSE" --only-binary=:all: \
    --python-version 3.11 --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
    torch==2.13.0 "setuptools>=68" -r "$WHEELHOUSE/requirements.txt" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
ls "$WHEELHOUSE"/torch-2.13.0*.whl >/dev/null
echo "$wanted" >"$STAMP"
echo "build-wheelhouse: $(ls "$WHEELHOUSE"/*.whl | wc -l) wheels in $WHEELHOUSE" >&2
