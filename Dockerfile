# HRC image: one image for both roles, the network (FL server) and a hospital
# node (FL client). The role is the first argument (see docker/entrypoint.sh).
#
#   docker build -t hrc .                      # python:3.11-slim, CPU torch
#   docker/build-image.sh                      # offline: Debian base + wheelhouse
#
# BASE switches the base image; it must provide python3 (3.11+) with venv.
# WHEELHOUSE is a folder of the build context holding wheels: when it holds
# any, every package is installed from it with no index (offline build).
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG WHEELHOUSE=docker/no-wheelhouse
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV VIRTUAL_ENV=/opt/hrc \
    PATH=/opt/hrc/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Dependencies first (torch, then HRC's runtime and node dependencies, read
# from pyproject.toml) and the user, in one layer, so that code changes do not
# reinstall them.
COPY pyproject.toml docker/requirements.py /tmp/hrc/
COPY ${WHEELHOUSE} /tmp/wheelhouse/
RUN set -eu; \
    python3 -m venv "$VIRTUAL_ENV"; \
    python3 /tmp/hrc/requirements.py /tmp/hrc/pyproject.toml nodes docker \
        > /tmp/hrc/requirements.txt; \
    if ls /tmp/wheelhouse/*.whl >/dev/null 2>&1; then \
        pip install --no-index --find-links /tmp/wheelhouse torch==2.13.0 \
            "setuptools>=68" -r /tmp/hrc/requirements.txt; \
    else \
        pip install --index-url "$TORCH_INDEX" torch==2.13.0; \
        pip install "setuptools>=68" -r /tmp/hrc/requirements.txt; \
    fi; \
    useradd --create-home --uid 1000 hrc; \
    mkdir -p /hrc/kit /hrc/data /hrc/workspace; \
    chown -R hrc:hrc /hrc; \
    rm -rf /tmp/wheelhouse

# HRC itself, without dependencies (all present), and the entry point.
COPY README.md docker/entrypoint.sh /tmp/hrc/
COPY src /tmp/hrc/src
RUN pip install --no-deps --no-build-isolation /tmp/hrc \
    && install -m 755 /tmp/hrc/entrypoint.sh /usr/local/bin/hrc-entrypoint \
    && rm -rf /tmp/hrc

USER hrc
WORKDIR /hrc/workspace
ENTRYPOINT ["hrc-entrypoint"]
CMD ["--help"]
