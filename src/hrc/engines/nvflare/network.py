"""The standalone roles: a network, nodes, and queries to a running network.

Used by ``hrc network start|nodes|search`` and ``hrc node start``. A network
started here provisions (once) the kits of its workspace; each node then
starts from its kit in that workspace, with its own dataset registry.

How the network learns about datasets: it asks. ``hrc network search`` runs a
short catalogue job in which every connected node answers with the names,
tags, descriptions and shapes of its registered datasets, never paths or
values (:class:`~hrc.engines.nvflare.executor.CatalogExecutor`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from hrc.engines.nvflare import admin, job, protocol, services, workspace
from hrc.errors import EngineError, UsageError
from hrc.nodes.processes import ProcessGroup, check_port_free
from hrc.nodes.tags import matches

logger = logging.getLogger(__name__)

CATALOG_TIMEOUT = 120.0


def start_network(
    group: ProcessGroup, root: Path, host: str, port: int, nodes: list[str]
) -> workspace.Kits:
    """Provision kits for ``nodes`` (if not yet done) and start the network.

    Raises
    ------
    UsageError
        If the port is in use or the workspace was provisioned for another
        address.
    """
    check_port_free(host, port)
    root = Path(root).resolve()
    try:
        kits = workspace.load_kits(root)
        if (kits.host, kits.port, sorted(kits.nodes)) != (host, port, sorted(nodes)):
            kits = workspace.provision(root, nodes, host, port)
    except UsageError:
        kits = workspace.provision(root, nodes, host, port)
    services.start_server(group, kits.server, kits.host, kits.port)
    return kits


def start_node(
    group: ProcessGroup, root: Path, name: str, node_dir: Path | None = None
):
    """Start node ``name`` of the network provisioned in ``root``.

    Raises
    ------
    UsageError
        If the workspace has no kit for ``name``.
    """
    kits = workspace.load_kits(root)
    if name not in kits.nodes:
        raise UsageError(
            f"--name: no kit for node {name!r} in {kits.root}; "
            f"provisioned: {', '.join(sorted(kits.nodes))}"
        )
    home = Path(node_dir) if node_dir is not None else kits.node_home(name)
    return services.start_node(group, kits.nodes[name], name, home)


def connected_nodes(root: Path) -> list[str]:
    """Names of the nodes connected to the network of workspace ``root``."""
    kits = workspace.load_kits(root)
    session = _session(kits)
    try:
        return admin.connected_nodes(session)
    finally:
        session.close()


def search(root: Path, tags: tuple[str, ...]) -> list[dict]:
    """Datasets of the connected nodes whose tags include all of ``tags``.

    Returns
    -------
    list of dict
        ``node``, ``name``, ``tags``, ``description``, ``shape`` of each
        match, sorted by node and name.
    """
    kits = workspace.load_kits(root)
    session = _session(kits)
    try:
        nodes = admin.connected_nodes(session)
        if not nodes:
            return []
        job_dir = job.write_catalog_job(kits.root / "jobs", nodes)
        job_id = admin.submit_job(session, job_dir)
        catalog = _wait_for_catalog(session, job_id, kits)
    finally:
        session.close()
    found = [
        {key: entry[key] for key in ("node", "name", "tags", "description", "shape")}
        for entry in catalog
        if matches(entry["tags"], tags)
    ]
    return sorted(found, key=lambda e: (e["node"], e["name"]))


def _session(kits: workspace.Kits):
    """Open an admin session, or say the network does not answer."""
    try:
        return admin.open_session(kits.admin, timeout=5.0)
    except EngineError:
        raise EngineError(
            f"the network at {kits.host}:{kits.port} does not answer; "
            "start it with 'hrc network start'"
        ) from None


def _wait_for_catalog(session, job_id: str, kits: workspace.Kits) -> list[dict]:
    path = kits.server / job_id / protocol.RESULT_DIR / "catalog.json"
    deadline = time.monotonic() + CATALOG_TIMEOUT
    while time.monotonic() < deadline:
        if path.is_file():
            return json.loads(path.read_text())
        state = admin.job_status(session, job_id)
        if state.startswith("FINISHED") and not path.is_file():
            time.sleep(0.2)
            if not path.is_file():
                raise EngineError(f"catalogue job {job_id} ended as {state}")
        time.sleep(0.1)
    raise EngineError(f"catalogue job {job_id} gave no answer in {CATALOG_TIMEOUT} s")
