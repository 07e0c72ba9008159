"""Helpers shared by the Docker tests: the engine client, a free loopback port
and a tiny two-hospital federation."""

from __future__ import annotations

import socket

import pytest
import torch

from hrc.training.types import ClientData, Federation


def docker_client():
    """Return a Docker SDK client, or skip when no engine answers."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception:
        pytest.skip("no Docker engine answers; .ci/docker-setup.sh starts one")
    return client


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tiny_federation() -> Federation:
    """Three classes from the signs of two features; 60 and 45 samples."""
    generator = torch.Generator().manual_seed(0)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(n, 12, generator=generator)
        return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()

    clients = [ClientData(f"h{i + 1}", *draw(60 - 15 * i)) for i in range(2)]
    test_x, test_y = draw(30)
    return Federation(clients, test_x, test_y, ["low", "mid", "high"])
