"""Start a FLARE network (server) and nodes (clients) from startup kits.

These functions take any startup kit folder, made by :func:`.workspace.provision`
for local runs or by FLARE provisioning for a real deployment, and start the
site's parent process directly (not through the kit's restart loop), in its
own process group, under a :class:`hrc.nodes.processes.ProcessGroup`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from hrc.nodes.processes import ManagedProcess, ProcessGroup, wait_for_port

logger = logging.getLogger(__name__)

SERVER_MODULE = "nvflare.private.fed.app.server.server_train"
CLIENT_MODULE = "nvflare.private.fed.app.client.client_train"
NODE_HOME_ENV = "HRC_NODE_HOME"
SERVER_START_TIMEOUT = 60.0


def start_server(
    group: ProcessGroup, kit: str | Path, host: str, port: int, org: str = "hrc"
) -> ManagedProcess:
    """Start the network from its startup kit and wait until it listens.

    Parameters
    ----------
    group : ProcessGroup
        Owner of the new process.
    kit : path-like
        The server's startup kit (holds ``startup/fed_server.json``).
    host, port : str, int
        Where the server listens; used to wait for it.
    org : str
        Organisation written in the kit.

    Raises
    ------
    EngineError
        If the process exits or does not listen within a minute.
    """
    kit = Path(kit).resolve()
    argv = [
        sys.executable, "-u", "-m", SERVER_MODULE, "-m", str(kit),
        "-s", "fed_server.json",
        "--set", "secure_train=true", f"org={org}", "config_folder=config",
    ]  # fmt: skip
    process = group.start("network", argv, kit / "hrc_process.log", cwd=kit)
    wait_for_port(host, port, SERVER_START_TIMEOUT, watch=process)
    logger.info("network listening on %s:%s (pid %s)", host, port, process.pid)
    return process


def start_node(
    group: ProcessGroup,
    kit: str | Path,
    name: str,
    node_home: str | Path,
    org: str = "hrc",
) -> ManagedProcess:
    """Start the node ``name`` from its startup kit.

    Parameters
    ----------
    group : ProcessGroup
        Owner of the new process.
    kit : path-like
        The node's startup kit (holds ``startup/fed_client.json``).
    name : str
        Node name, as in the kit.
    node_home : path-like
        The node's private folder with its dataset registry; given to the
        node's job processes through the ``HRC_NODE_HOME`` variable.
    org : str
        Organisation written in the kit.
    """
    kit = Path(kit).resolve()
    argv = [
        sys.executable, "-u", "-m", CLIENT_MODULE, "-m", str(kit),
        "-s", "fed_client.json",
        "--set", "secure_train=true", f"uid={name}", f"org={org}",
        "config_folder=config",
    ]  # fmt: skip
    env = dict(os.environ)
    env[NODE_HOME_ENV] = str(Path(node_home).resolve())
    process = group.start(name, argv, kit / "hrc_process.log", cwd=kit, env=env)
    logger.info("node %s started (pid %s)", name, process.pid)
    return process
