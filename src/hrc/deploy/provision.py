"""Provision a deployment: per-site certificates and startup kits.

``hrc deploy provision`` wraps FLARE's provisioning (through the NVFLARE engine
adapter, the only module that imports FLARE) and lays the kits out for
handing over, one folder per site::

    <output>/
        .gitignore              "*": nothing here is ever committed
        kits.json               which kit is which, the network's address
        server/                 network kit: server key, certificate, root CA
        h1/ h2/ ...             one kit per hospital node, each with its own key
        admin@hrc.local/        admin kit: submits jobs, lists nodes

Every kit holds the project's root CA certificate and its own key pair signed
by that CA; the network and the nodes authenticate each other with mutual TLS,
so a node holding no kit of this project is refused. The CA's private key
stays in ``<output>/.ca`` and must not leave the provisioning machine.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from hrc.errors import UsageError
from hrc.io import atomic_directory

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path("workspace") / "deploy"
DEFAULT_PORT = 8002
NODE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
KITS_FILE = "kits.json"


@dataclass
class Deployment:
    """The kits of one provisioned deployment.

    Attributes
    ----------
    root : Path
        The output folder.
    network : Path
        Kit of the network (FL server).
    nodes : dict of str to Path
        Kit of each hospital node, by node name.
    admin : Path
        Admin kit (job submission, node list).
    host : str
        Address the nodes use to reach the network, as written in their kits.
    port : int
        Port of the network (FL and admin traffic share it).
    """

    root: Path
    network: Path
    nodes: dict[str, Path]
    admin: Path
    host: str
    port: int

    def to_dict(self) -> dict:
        """JSON-ready description with paths relative to :attr:`root`."""
        return {
            "network": self.network.name,
            "nodes": {name: path.name for name, path in self.nodes.items()},
            "admin": self.admin.name,
            "host": self.host,
            "port": self.port,
        }


def check_node_names(names: list[str]) -> None:
    """Reject node names FLARE or a file system would trip on.

    Raises
    ------
    UsageError
        Naming the bad value and the accepted form.
    """
    if not names:
        raise UsageError("--node: give at least one node name (e.g. --node h1)")
    for name in names:
        if not NODE_NAME_PATTERN.match(name) or name in ("server", "admin"):
            raise UsageError(
                f"--node: {name!r} is not a valid node name; use 1-63 lowercase "
                "letters, digits, '-' or '_', starting with a letter (not "
                "'server' or 'admin')"
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"--node: {', '.join(duplicates)} given more than once")


def check_port(port: int, option: str = "--port") -> None:
    """Raise a usage error unless ``port`` is a usable TCP port (1024-65535)."""
    if not 1024 <= port <= 65535:
        raise UsageError(f"{option}: {port} is not a port in 1024-65535")


def provision(
    output: str | Path,
    nodes: list[str],
    host: str,
    port: int = DEFAULT_PORT,
    force: bool = False,
) -> Deployment:
    """Make certificates and startup kits for a network and ``nodes``.

    Parameters
    ----------
    output : path-like
        Folder to create; it must not exist unless ``force``.
    nodes : list of str
        Hospital node names (FLARE client names), e.g. ``["h1", "h2"]``.
    host : str
        Address the nodes will use to reach the network (DNS name or IP). A
        node can still be pointed elsewhere at start with ``NETWORK``.
    port : int
        Port of the network.
    force : bool
        Replace an existing ``output``.

    Returns
    -------
    Deployment
        Where each kit was written.

    Raises
    ------
    UsageError
        For a bad node name or port, or an existing ``output`` without
        ``force``.
    """
    from hrc.engines.nvflare import workspace as flare_workspace

    # Checks first.
    check_node_names(nodes)
    check_port(port)
    output = Path(output)
    if output.exists() and not force:
        raise UsageError(
            f"--output: {output} exists; choose another folder or add --force "
            "to replace it (its kits and keys are lost)"
        )

    # FLARE provisioning into a scratch folder, moved into place at the end.
    if output.exists():
        shutil.rmtree(output)
    with atomic_directory(output) as scratch:
        scratch = Path(scratch)
        kits = flare_workspace.provision(scratch / ".flare", nodes, host, port)
        deployment = _lay_out(scratch, kits, nodes, host, port)
        (scratch / ".gitignore").write_text("# Keys and certificates.\n*\n")
        (scratch / KITS_FILE).write_text(
            json.dumps(deployment.to_dict(), indent=2) + "\n"
        )
    logger.info(
        "provisioned network %s:%s and nodes %s in %s",
        host,
        port,
        ", ".join(nodes),
        output,
    )
    return load(output)


def load(output: str | Path) -> Deployment:
    """Read a deployment written by :func:`provision`.

    Raises
    ------
    UsageError
        If ``output`` holds no provisioned deployment.
    """
    root = Path(output)
    record = root / KITS_FILE
    if not record.is_file():
        raise UsageError(
            f"--kits: {root} holds no provisioned deployment (no {KITS_FILE}); "
            "run 'hrc deploy provision' first"
        )
    data = json.loads(record.read_text())
    return Deployment(
        root=root,
        network=root / data["network"],
        nodes={name: root / folder for name, folder in data["nodes"].items()},
        admin=root / data["admin"],
        host=data["host"],
        port=int(data["port"]),
    )


def _lay_out(root: Path, kits, nodes: list[str], host: str, port: int) -> Deployment:
    """Move the kits FLARE wrote to one folder per site under ``root``."""
    flare_dir = Path(kits.root)
    deployment = Deployment(
        root=root,
        network=root / "server",
        nodes={name: root / name for name in nodes},
        admin=root / "admin@hrc.local",
        host=host,
        port=port,
    )
    shutil.move(str(kits.server), deployment.network)
    for name in nodes:
        shutil.move(str(kits.nodes[name]), deployment.nodes[name])
    shutil.move(str(kits.admin), deployment.admin)

    # The CA's state (with its private key) stays apart from the kits.
    ca_state = next(flare_dir.glob("kits/*/state"), None)
    if ca_state is not None:
        shutil.move(str(ca_state), root / ".ca")
    shutil.rmtree(flare_dir)
    for kit in (deployment.network, deployment.admin, *deployment.nodes.values()):
        _drop_host_paths(kit)
    return deployment


def _drop_host_paths(kit: Path) -> None:
    """Remove provisioning-machine paths from a kit's site settings.

    The network's job store and snapshot folders are set where the kit runs
    (see :mod:`hrc.deploy.site`); paths of the provisioning machine would be
    wrong there.
    """
    resources = kit / "local" / "resources.json"
    if not resources.is_file():
        return
    settings = json.loads(resources.read_text())
    storage = settings.get("snapshot_persistor", {}).get("args", {})
    storage.get("storage", {}).get("args", {}).pop("root_dir", None)
    for component in settings.get("components", []):
        if component.get("id") == "job_manager":
            component.get("args", {}).pop("uri_root", None)
    resources.write_text(json.dumps(settings, indent=2))
