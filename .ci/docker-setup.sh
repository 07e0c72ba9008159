#!/usr/bin/env bash
# Prepare what the Docker tests need: Debian's docker.io, docker-compose and
# debootstrap, a running daemon, and the offline base image. Idempotent: each
# step is skipped when already done. A daemon started here is recorded by pid
# so that .ci/docker-teardown.sh stops that one and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE_DIR="${HRC_DOCKER_STATE_DIR:-/run/hrc-docker}"
DATA_ROOT="${HRC_DOCKER_DATA_ROOT:-/var/lib/docker}"
mkdir -p "$STATE_DIR"

# 1. Packages (Debian bookworm: engine 20.10, compose v1).
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v ip >/dev/null || missing+=(iproute2)
if ((${#missing[@]})); then
    echo "docker-setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Daemon: reuse a running one, else start ours. overlay2 when the kernel
#    and the data root's file system allow it (a container then starts without
#    copying its image), else vfs, which works anywhere. No default bridge: the
#    tests use host networking on 127.0.0.1 only.
start_dockerd() {
    nohup dockerd --storage-driver="$1" --data-root "$DATA_ROOT" --bridge=none \
        --pidfile "$STATE_DIR/dockerd.pid" >"$STATE_DIR/dockerd.log" 2>&1 &
    echo $! >"$STATE_DIR/started-by-ci.pid"
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$STATE_DIR/started-by-ci.pid")" 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}
if docker info >/dev/null 2>&1; then
    echo "docker-setup: daemon already running, leaving it alone"
else
    started=""
    for driver in ${HRC_DOCKER_STORAGE:-overlay2 vfs}; do
        echo "docker-setup: starting dockerd ($driver, data root $DATA_ROOT)"
        if start_dockerd "$driver"; then
            started="$driver"
            break
        fi
        echo "docker-setup: dockerd with $driver did not start; log follows" >&2
        tail -5 "$STATE_DIR/dockerd.log" >&2
        .ci/docker-teardown.sh
    done
    [[ -n "$started" ]] || exit 1
fi

# 3. Offline base image (debootstrap), kept between runs.
docker/build-base.sh >/dev/null
