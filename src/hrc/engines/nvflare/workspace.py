"""Provision a local FLARE workspace: startup kits for a network and its nodes.

The workspace lives inside the run's own folder (never the home folder or the
system's temporary folder)::

    <workspace>/
        kits/<project>/prod_00/server/      startup kit of the network
        kits/<project>/prod_00/h1/ ...      startup kit of each node
        kits/<project>/prod_00/admin@hrc.local/   admin kit (job submission)
        server_state/                        FLARE job store and snapshots
        nodes/h1/ ...                        each node's private data folder

Provisioning uses FLARE's own provisioner in POC mode: the kits carry
certificates and start the same processes as production kits, so the code that
starts and drives them (:mod:`.services`, :mod:`.admin`) works unchanged with
kits made by ``hrc deploy provision``.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from hrc.errors import EngineError, UsageError

logger = logging.getLogger(__name__)

PROJECT_NAME = "hrc"
SERVER_NAME = "server"
ADMIN_NAME = "admin@hrc.local"
ORG = "hrc"

# HRC's own FLARE components, allowed by the sites' class allow-lists.
HRC_CLASSES = (
    "hrc.engines.nvflare.controller.HRCController",
    "hrc.engines.nvflare.executor.HRCExecutor",
    "hrc.engines.nvflare.executor.CatalogExecutor",
    "hrc.engines.nvflare.controller.CatalogController",
    "hrc.engines.nvflare.audit.ReceivedAudit",
)

# Server-side liveness: a node silent this long is treated as lost.
HEARTBEAT_TIMEOUT_SECONDS = 20


@dataclass
class Kits:
    """Folders of the startup kits of one provisioned project.

    Attributes
    ----------
    root : Path
        The workspace.
    server : Path
        Startup kit of the network (FL server).
    nodes : dict of str to Path
        Startup kit of each node, by node name.
    admin : Path
        Admin kit used to submit jobs and query the network.
    host : str
        Address the network listens on and nodes connect to.
    port : int
        Port of the network (FL and admin traffic share it).
    """

    root: Path
    server: Path
    nodes: dict[str, Path]
    admin: Path
    host: str
    port: int

    def node_home(self, node: str) -> Path:
        """Private folder of ``node``: its registry and its data."""
        return self.root / "nodes" / node

    def to_dict(self) -> dict:
        """JSON-ready description, written as ``kits.json`` in the workspace."""
        return {
            "server": str(self.server),
            "nodes": {name: str(path) for name, path in self.nodes.items()},
            "admin": str(self.admin),
            "host": self.host,
            "port": self.port,
        }


def node_names(n_nodes: int) -> list[str]:
    """Return ``["h1", ..., "hN"]``."""
    if n_nodes < 1:
        raise UsageError(f"--no_of_clients: {n_nodes} must be at least 1")
    return [f"h{i}" for i in range(1, n_nodes + 1)]


def provision(workspace: str | Path, nodes: list[str], host: str, port: int) -> Kits:
    """Create startup kits for a network on ``host:port`` and ``nodes``.

    An existing ``kits`` folder in ``workspace`` is replaced; node data
    folders are kept.

    Parameters
    ----------
    workspace : path-like
        Folder of the run's FLARE files; created if needed.
    nodes : list of str
        Node (FL client) names.
    host : str
        Address of the network, e.g. ``"127.0.0.1"``.
    port : int
        Port of the network.

    Returns
    -------
    Kits
        Where each kit was written.
    """
    from nvflare.lighter.constants import ProvisionMode
    from nvflare.lighter.prov_utils import prepare_builders, prepare_packager
    from nvflare.lighter.provision import prepare_project
    from nvflare.lighter.provisioner import Provisioner

    root = Path(workspace).resolve()
    kits_dir = root / "kits"
    shutil.rmtree(kits_dir, ignore_errors=True)
    kits_dir.mkdir(parents=True)

    # Project: one server, the nodes, one admin; the server's address is host.
    project = _project_dict(nodes, host, port)
    builders = prepare_builders(copy.deepcopy(project))
    packager = prepare_packager(copy.deepcopy(project))
    provisioner = Provisioner(str(kits_dir), builders, packager)
    _quiet(lambda: provisioner.provision(prepare_project(project), ProvisionMode.POC))

    # Find the kits and apply HRC's site settings.
    prod = kits_dir / PROJECT_NAME / "prod_00"
    if not (prod / SERVER_NAME / "startup").is_dir():
        raise EngineError(f"FLARE provisioning wrote no server kit under {prod}")
    kits = Kits(
        root=root,
        server=prod / SERVER_NAME,
        nodes={name: prod / name for name in nodes},
        admin=prod / ADMIN_NAME,
        host=host,
        port=port,
    )
    configure_server_kit(kits.server, root / "server_state")
    for kit in kits.nodes.values():
        configure_node_kit(kit)
    (root / "kits.json").write_text(json.dumps(kits.to_dict(), indent=2) + "\n")
    logger.debug("provisioned %d node kits in %s", len(nodes), kits_dir)
    return kits


def load_kits(workspace: str | Path) -> Kits:
    """Read the kits recorded by :func:`provision` in ``workspace``.

    Raises
    ------
    UsageError
        If the workspace holds no provisioned kits.
    """
    root = Path(workspace).resolve()
    record = root / "kits.json"
    if not record.is_file():
        raise UsageError(
            f"--workspace: {root} holds no provisioned network (no kits.json); "
            "run 'hrc network start' first"
        )
    data = json.loads(record.read_text())
    return Kits(
        root=root,
        server=Path(data["server"]),
        nodes={name: Path(path) for name, path in data["nodes"].items()},
        admin=Path(data["admin"]),
        host=data["host"],
        port=int(data["port"]),
    )


def configure_server_kit(kit: str | Path, state_dir: str | Path) -> None:
    """Point the server's job store and snapshots at ``state_dir``; allow HRC.

    FLARE's defaults keep both under the system's temporary folder, shared by
    every FLARE server of the machine.
    """
    kit, state_dir = Path(kit), Path(state_dir)
    resources = _load_resources(kit)
    storage = resources["snapshot_persistor"]["args"]["storage"]["args"]
    storage["root_dir"] = str(state_dir / "snapshot-storage")
    for component in resources.get("components", []):
        if component.get("id") == "job_manager":
            component.setdefault("args", {})["uri_root"] = str(state_dir / "jobs")
        if component.get("id") == "job_scheduler":
            # Start a submitted job at once instead of after the 10 s default.
            component.setdefault("args", {})["min_schedule_interval"] = 0.5
    for server in resources.get("servers", []):
        server["heart_beat_timeout"] = HEARTBEAT_TIMEOUT_SECONDS
    _save_resources(kit, resources)


def configure_node_kit(kit: str | Path) -> None:
    """Allow HRC's executors in a node kit."""
    kit = Path(kit)
    _save_resources(kit, _load_resources(kit))


def _load_resources(kit: Path) -> dict:
    """Read the kit's resources.json (or FLARE's default) and allow HRC classes."""
    local = kit / "local"
    path = local / "resources.json"
    if not path.is_file():
        path = local / "resources.json.default"
    resources = json.loads(path.read_text())
    allowed = resources.setdefault("class_allow_list", [])
    allowed.extend(name for name in HRC_CLASSES if name not in allowed)
    return resources


def _save_resources(kit: Path, resources: dict) -> None:
    (kit / "local" / "resources.json").write_text(json.dumps(resources, indent=2))


def _project_dict(nodes: list[str], host: str, port: int) -> dict:
    """The FLARE project: participants and the standard POC builders."""
    participants = [
        {
            "name": SERVER_NAME,
            "type": "server",
            "org": ORG,
            "fed_learn_port": port,
            "admin_port": port,
            "default_host": host,
            "host_names": [host],
        },
        *({"name": name, "type": "client", "org": ORG} for name in nodes),
        {"name": ADMIN_NAME, "type": "admin", "org": ORG, "role": "project_admin"},
    ]
    builders = [
        {
            "path": "nvflare.lighter.impl.workspace.WorkspaceBuilder",
            "args": {"template_file": ["master_template.yml"]},
        },
        {
            "path": "nvflare.lighter.impl.static_file.StaticFileBuilder",
            "args": {"config_folder": "config"},
        },
        {"path": "nvflare.lighter.impl.cert.CertBuilder"},
        {"path": "nvflare.lighter.impl.signature.SignatureBuilder"},
    ]
    return {
        "api_version": 3,
        "name": PROJECT_NAME,
        "description": "HRC network and hospital nodes",
        "participants": participants,
        "builders": builders,
    }


def _quiet(action):
    """Run ``action`` with FLARE's provisioning chatter sent to the debug log."""
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        result = action()
    if buffer.getvalue().strip():
        logger.debug("FLARE provisioning: %s", buffer.getvalue().strip())
    return result
