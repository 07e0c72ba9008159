#!/usr/bin/env bash
# Stop the Docker daemon that .ci/docker-setup.sh started, by its recorded pid.
# A daemon that was already running before setup is left alone.
set -euo pipefail

STATE_DIR="${HRC_DOCKER_STATE_DIR:-/run/hrc-docker}"
PID_FILE="$STATE_DIR/started-by-ci.pid"
[[ -f "$PID_FILE" ]] || exit 0

pid="$(cat "$PID_FILE")"
if kill -0 "$pid" 2>/dev/null; then
    echo "docker-teardown: stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
fi
rm -f "$PID_FILE"
