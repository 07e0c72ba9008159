"""Run one site of a deployment, the network or a node, from its startup kit.

This is what the HRC image runs (``docker/entrypoint.sh``) and what a
hospital runs by hand without Docker::

    python -m hrc.deploy.site network --kit kits/server --workspace run/
    python -m hrc.deploy.site node --kit kits/h1 --data h1-data/ \\
        --network server.example.org:8002 --workspace run/

The kit may be read-only (a container mounts it so): it is copied into the
workspace, the copy gets the site's local settings (where the network keeps
its job store; the network address a node dials, from ``--network`` or the
``NETWORK`` variable) and the site's process is started from the copy through
the NVFLARE engine adapter. The process's log is streamed to standard output
until it exits; SIGTERM stops it and every process it started.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from hrc.cli._base import handle_errors, verbosity_option
from hrc.errors import UsageError

logger = logging.getLogger(__name__)

NETWORK_ENV = "NETWORK"
ROLES = ("network", "node")
_POLL_SECONDS = 0.2


@dataclass
class SiteKit:
    """A startup kit copied into a workspace, ready to start.

    Attributes
    ----------
    role : str
        ``"network"`` or ``"node"``.
    name : str
        Site name as certified in the kit (``"server"``, ``"h1"``).
    path : Path
        The writable copy.
    host : str
        Address of the network: where a node dials, where the network is
        probed.
    port : int
        Port of the network.
    """

    role: str
    name: str
    path: Path
    host: str
    port: int


def kit_role(kit: str | Path) -> str:
    """Return ``"network"``, ``"node"`` or ``"admin"`` for a startup kit.

    Raises
    ------
    UsageError
        If ``kit`` is not a startup kit.
    """
    startup = Path(kit) / "startup"
    for role, marker in (
        ("network", "fed_server.json"),
        ("node", "fed_client.json"),
        ("admin", "fed_admin.json"),
    ):
        if (startup / marker).is_file():
            return role
    raise UsageError(
        f"--kit: {kit} is not a startup kit (no startup/fed_server.json, "
        "fed_client.json or fed_admin.json); use a folder made by "
        "'hrc deploy provision'"
    )


def parse_network(address: str, default_port: int) -> tuple[str, int]:
    """Split ``"host[:port]"``; the port defaults to ``default_port``.

    Raises
    ------
    UsageError
        For an empty host or a port that is not a number in 1-65535.
    """
    host, _, port_text = address.strip().rpartition(":")
    if not host:
        host, port_text = port_text, ""
    if not host or (port_text and not port_text.isdigit()):
        raise UsageError(
            f"--network: {address!r} is not an address; use HOST or HOST:PORT, "
            "e.g. 192.0.2.10:8002 or server.example.org"
        )
    port = int(port_text) if port_text else default_port
    if not 1 <= port <= 65535:
        raise UsageError(f"--network: port {port} is not in 1-65535")
    return host, port


def prepare_kit(
    kit: str | Path,
    workspace: str | Path,
    network: str | None = None,
    in_place: bool = False,
) -> SiteKit:
    """Copy ``kit`` into ``workspace`` and set the site's local settings.

    Parameters
    ----------
    kit : path-like
        A network, node or admin kit made by ``hrc deploy provision``.
    workspace : path-like
        Writable folder of this site; the copy goes to ``<workspace>/kit``.
    network : str, optional
        ``HOST[:PORT]`` of the network, for a node or admin kit; the kit's own
        address when omitted.
    in_place : bool
        Use ``kit`` itself, already set up (writable, as the local engines
        provision it), instead of a configured copy.

    Returns
    -------
    SiteKit
        The prepared copy.
    """
    from hrc.engines.nvflare import workspace as flare_workspace

    # Copy: the kit itself may be mounted read-only.
    role = kit_role(kit)
    if in_place:
        return _describe(role, Path(kit).resolve())
    workspace = Path(workspace).resolve()
    copy = workspace / "kit"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(kit, copy)

    # Network: job store and snapshots inside this workspace.
    if role == "network":
        settings = _read_json(copy / "startup" / "fed_server.json")
        host, port = parse_network(settings["servers"][0]["service"]["target"], 0)
        flare_workspace.configure_server_kit(copy, workspace / "server_state")
        return SiteKit(role, "server", copy, "127.0.0.1", port)

    # Admin: point it at the network.
    if role == "admin":
        path = copy / "startup" / "fed_admin.json"
        settings = _read_json(path)
        admin = settings["admin"]
        if network:
            admin["host"], admin["port"] = parse_network(network, admin["port"])
            path.write_text(json.dumps(settings, indent=2))
        return SiteKit(role, "admin", copy, admin["host"], int(admin["port"]))

    # Node: dial the given network address, run HRC's executors.
    path = copy / "startup" / "fed_client.json"
    settings = _read_json(path)
    service = settings["servers"][0]["service"]
    _, kit_port = parse_network(service["target"], 0)
    host, port = parse_network(network or service["target"], kit_port)
    service["target"] = f"{host}:{port}"
    path.write_text(json.dumps(settings, indent=2))
    flare_workspace.configure_node_kit(copy)
    return SiteKit(role, settings["client"]["fqsn"], copy, host, port)


def run_site(
    role: str,
    kit: str | Path,
    workspace: str | Path,
    data: str | Path | None = None,
    network: str | None = None,
    in_place: bool = False,
) -> int:
    """Start the site of ``kit`` and stream its log until it exits.

    Parameters
    ----------
    role : {"network", "node"}
        Role expected of the kit; a mismatch is an error.
    kit, workspace, network, in_place
        See :func:`prepare_kit`.
    data : path-like, optional
        A node's private folder (its dataset registry and data).

    Returns
    -------
    int
        Exit code of the site's process.
    """
    from hrc.engines.nvflare import services
    from hrc.nodes.processes import ProcessGroup

    # Checks first: the kit must be of the role asked for.
    if role not in ROLES:
        raise UsageError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    found = kit_role(kit)
    if found != role:
        raise UsageError(f"--kit: {kit} is a {found} kit, not a {role} kit")
    site = prepare_kit(kit, workspace, network, in_place)

    # Start the site's process, then follow its log until it ends.
    with ProcessGroup(f"{role} {site.name}") as group:
        if role == "network":
            process = services.start_server(group, site.path, site.host, site.port)
        else:
            home = Path(data) if data else Path(workspace) / "data"
            home.mkdir(parents=True, exist_ok=True)
            logger.info(
                "node %s dials the network at %s:%s", site.name, site.host, site.port
            )
            process = services.start_node(group, site.path, site.name, home)
        return _follow(process)


def _describe(role: str, kit: Path) -> SiteKit:
    """Describe a kit that is used as it is."""
    if role == "network":
        settings = _read_json(kit / "startup" / "fed_server.json")
        _, port = parse_network(settings["servers"][0]["service"]["target"], 0)
        return SiteKit(role, "server", kit, "127.0.0.1", port)
    if role == "admin":
        admin = _read_json(kit / "startup" / "fed_admin.json")["admin"]
        return SiteKit(role, "admin", kit, admin["host"], int(admin["port"]))
    settings = _read_json(kit / "startup" / "fed_client.json")
    host, port = parse_network(settings["servers"][0]["service"]["target"], 0)
    return SiteKit(role, settings["client"]["fqsn"], kit, host, port)


def _follow(process) -> int:
    """Copy the process's log file to standard output until it exits."""
    with open(process.log_path, "rb") as log_file:
        while True:
            chunk = log_file.read()
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            elif not process.alive():
                return process.popen.returncode or 0
            else:
                time.sleep(_POLL_SECONDS)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@click.command("site")
@click.argument("role", type=click.Choice(ROLES))
@click.option(
    "--kit",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("/hrc/kit"),
    show_default=True,
    help="Startup kit of this site (may be read-only).",
)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/hrc/workspace"),
    show_default=True,
    help="Writable folder for the kit copy, logs and the network's job store.",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Node only: private data folder (dataset registry). "
    "Default: <workspace>/data.",
)
@click.option(
    "--network",
    envvar=NETWORK_ENV,
    default=None,
    help="Node only: HOST[:PORT] of the network (env NETWORK). "
    "Default: the address in the kit.",
)
@click.option(
    "--in-place",
    is_flag=True,
    help="Use the kit folder as it is (writable, already set up) instead of a "
    "copy; the local docker engine runs sites so.",
)
@verbosity_option
@handle_errors
def main(
    role: str,
    kit: Path,
    workspace: Path,
    data: Path | None,
    network: str | None,
    in_place: bool,
) -> None:
    """Run the network or a hospital node from its startup kit."""
    sys.exit(run_site(role, kit, workspace, data, network, in_place))


if __name__ == "__main__":
    main()
