"""The compose file of a one-machine federation: a network and N nodes.

Every site runs the HRC image with host networking (the network listens on
``--grid_address``/``--grid_port`` of this machine) and sees only its own
folders, mounted at the same paths as on the host so that paths written by
the provisioning (the node's dataset registry, the network's job store) hold
inside and outside the containers. Every container and volume carries the
``hrc.run`` label of the run, by which everything is found and removed.
"""

from __future__ import annotations

import os
from pathlib import Path

RUN_LABEL = "hrc.run"
ROLE_LABEL = "hrc.role"
SITE_COMMAND = ("python", "-m", "hrc.deploy.site")


def site_user() -> str:
    """``uid:gid`` of this process, so files the sites write stay ours."""
    return f"{os.getuid()}:{os.getgid()}"


def federation_compose(
    run_id: str,
    image: str,
    server_kit: Path,
    server_state: Path,
    node_kits: dict[str, Path],
    node_homes: dict[str, Path],
    swarm: bool = False,
) -> dict:
    """Return the compose document of a network and its nodes.

    Parameters
    ----------
    run_id : str
        Value of the ``hrc.run`` label.
    image : str
        The HRC image (both roles).
    server_kit, server_state : Path
        The network's startup kit and job store (absolute paths).
    node_kits, node_homes : dict of str to Path
        Each node's startup kit and private data folder (absolute paths).
    swarm : bool
        Write for ``docker stack deploy``: host networking through the
        external ``host`` network and no restarts, instead of ``network_mode``.

    Returns
    -------
    dict
        The compose document, ready for :func:`yaml.safe_dump`.
    """
    services = {
        "network": _service(
            run_id,
            image,
            "network",
            [*SITE_COMMAND, "network", "--kit", str(server_kit), "--in-place"],
            [server_kit, server_state],
            {},
            swarm,
        )
    }
    for name, kit in node_kits.items():
        home = node_homes[name]
        services[name] = _service(
            run_id,
            image,
            "node",
            [
                *SITE_COMMAND,
                "node",
                "--kit",
                str(kit),
                "--in-place",
                "--data",
                str(home),
            ],  # fmt: skip
            [kit, home],
            {"HRC_NODE_HOME": str(home)},
            swarm,
        )
    document: dict = {"version": "3.7", "services": services}
    if swarm:
        document["networks"] = {"hostnet": {"external": True, "name": "host"}}
    return document


def _service(
    run_id: str,
    image: str,
    role: str,
    command: list[str],
    folders: list[Path],
    environment: dict[str, str],
    swarm: bool,
) -> dict:
    """One site: the image, its command, its own folders, the run's labels."""
    labels = {RUN_LABEL: run_id, ROLE_LABEL: role}
    service: dict = {
        "image": image,
        "entrypoint": command[:1],
        "command": command[1:],
        "user": site_user(),
        "volumes": [f"{folder}:{folder}" for folder in folders],
        "environment": {"HOME": "/tmp", "PYTHONUNBUFFERED": "1", **environment},
        "labels": labels,
        "stop_grace_period": "10s",
    }
    if swarm:
        service["networks"] = ["hostnet"]
        service["deploy"] = {
            "labels": labels,
            "restart_policy": {"condition": "none"},
        }
    else:
        service["network_mode"] = "host"
    return service
