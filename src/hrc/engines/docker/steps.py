"""The NVFLARE engine's run, split where the docker engine needs to differ.

:func:`hrc.engines.nvflare.run` prepares a run (kits, shards, job), starts
local processes, trains and collects. The docker engine prepares and trains in
the same way but starts containers in between, so it calls the two halves
here, built from the NVFLARE engine's own helpers: the job, the round
follower and the result collection are the same code, and a run gives the
same outputs whichever engine started the sites.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from hrc.config import TrainConfig
from hrc.errors import EngineError, UsageError
from hrc.training.types import Federation, RunResult

logger = logging.getLogger(__name__)


@dataclass
class PreparedRun:
    """What :func:`prepare_run` made: kits, job folder and the model's start."""

    kits: object
    job_dir: Path
    model: object
    names: list[str]
    start_round: int
    root: Path


def prepare_run(config: TrainConfig, federation: Federation) -> PreparedRun:
    """Provision kits, write each node's shard and registry, write the job.

    Raises
    ------
    UsageError
        For a strategy the networked engines do not run, bad tags, or a
        network port in use.
    """
    from hrc.engines.nvflare import engine as flare
    from hrc.engines.nvflare import workspace
    from hrc.nodes.processes import check_port_free
    from hrc.nodes.registry import DatasetRegistry, write_shard
    from hrc.nodes.tags import parse_tags
    from hrc.training import federated

    # Checks first, as the NVFLARE engine makes them.
    strategy = federated.make_strategy(config)
    if strategy.name in flare.UNSUPPORTED_STRATEGIES or strategy.sequential:
        raise UsageError(
            f"--strategy: {strategy.name!r} is not available with --engine "
            f"{config.engine}; use fedavg, fedprox, fedadam, fedyogi or fedadagrad"
        )
    tags = parse_tags(config.tags)
    check_port_free(config.grid_address, config.grid_port)
    root = flare.default_workspace(config).resolve()
    nodes = [client.name for client in federation.clients]

    # Kits; each node's shard and registry in its own folder (data owner step).
    kits = workspace.provision(root, nodes, config.grid_address, config.grid_port)
    for client in federation.clients:
        home = kits.node_home(client.name)
        shard = write_shard(home / "data" / "shard.npz", client.features, client.labels)
        registry = DatasetRegistry(home)
        registry.add(flare.SHARD_DATASET, shard, tags, "training shard", replace=True)

    job_dir, model, names, start_round = write_job(config, federation, root, tags)
    return PreparedRun(kits, job_dir, model, names, start_round, root)


def write_job(
    config: TrainConfig, federation: Federation, root: Path, tags: tuple[str, ...]
) -> tuple[Path, object, list[str], int]:
    """Write the HRC job (strategy, rounds, start model) under ``root/jobs``.

    The job of a local federation; :func:`write_job_for` writes it from the
    model's shape and the node names alone.

    Returns
    -------
    tuple
        The job folder, the model, its parameter names and the first round
        (after the kept global model with ``config.resume``).
    """
    nodes = [client.name for client in federation.clients]
    return write_job_for(
        config, root / "jobs", tags, federation.n_features, federation.n_classes,
        nodes, resume_root=root,
    )  # fmt: skip


@dataclass(frozen=True)
class _ModelShape:
    """What the model builders read from a federation: its input and output size."""

    n_features: int
    n_classes: int


def write_job_for(
    config: TrainConfig,
    job_root: Path,
    tags: tuple[str, ...],
    n_features: int,
    n_classes: int,
    nodes: list[str],
    resume_root: Path | None = None,
) -> tuple[Path, object, list[str], int]:
    """Write the HRC job for ``nodes`` without their data.

    Parameters
    ----------
    config : TrainConfig
        Strategy, rounds, model and local-training options.
    job_root : Path
        Parent folder; the job is written to ``job_root/hrc_train``.
    tags : tuple of str
        Tags selecting each node's training shard.
    n_features, n_classes : int
        The model's input and output size (the shards' columns and classes).
    nodes : list of str
        The node names, as in their kits.
    resume_root : Path, optional
        Folder holding the kept global model, read with ``config.resume``.

    Returns
    -------
    tuple
        The job folder, the model, its parameter names and the first round.
    """
    from hrc.engines.nvflare import engine as flare
    from hrc.engines.nvflare import job, protocol
    from hrc.training import federated

    # The model's start: fresh, or the last kept global model.
    shape = _ModelShape(int(n_features), int(n_classes))
    model = flare.model_for(config, shape)
    names = [name for name, _ in model.named_parameters()]
    start_round, params = 1, federated.initial_params(shape, config)
    if config.resume:
        start_round, params = flare.load_resume(resume_root or job_root, names)

    # The job: the strategy on the network, local training on the nodes.
    spec = {
        "strategy": config.strategy,
        "strategy_options": flare.strategy_options(config),
        "nodes": list(nodes),
        "n_rounds": config.n_epochs,
        "start_round": start_round,
        "min_clients": config.min_clients,
        "seed": config.seed,
        "param_names": names,
        "round_timeout": int(
            config.extra.get("round_timeout", flare.DEFAULT_ROUND_TIMEOUT)
        ),
    }
    local_options = {
        key: flare.jsonable(getattr(config, key)) for key in protocol.LOCAL_OPTIONS
    }
    job_dir = job.write_train_job(
        job_root, spec, protocol.params_to_arrays(names, params), list(tags),
        local_options,
    )  # fmt: skip
    return job_dir, model, names, start_round


def train_on_network(
    config: TrainConfig,
    federation: Federation,
    prepared: PreparedRun,
    group,
    connect_timeout: float,
    started_at: float,
) -> RunResult:
    """Submit the job to the running network, follow it, collect the results.

    Parameters
    ----------
    config, federation
        The run's options and data.
    prepared : PreparedRun
        From :func:`prepare_run`; its sites must be starting or running.
    group
        The started sites: ``get(name).alive()`` and ``kill(name)``.
    connect_timeout : float
        Seconds to wait for every node to connect.
    started_at : float
        ``time.perf_counter()`` when the sites were started.

    Raises
    ------
    EngineError
        When the network fails or the run stops early (the last global model
        is kept for ``--resume``).
    """
    from hrc.engines.nvflare import admin, protocol
    from hrc.engines.nvflare import engine as flare

    kits, root = prepared.kits, prepared.root
    nodes = list(kits.nodes)
    session = _open_session(admin, kits.admin, connect_timeout)
    try:
        admin.wait_for_nodes(session, nodes, connect_timeout)
        startup_seconds = time.perf_counter() - started_at
        logger.info("network and %d nodes up in %.1f s", len(nodes), startup_seconds)
        job_id = admin.submit_job(session, prepared.job_dir)
        result_dir = kits.server / job_id / protocol.RESULT_DIR
        status, round_seconds = flare.follow_job(
            session, job_id, result_dir, root, config, group, prepared.names
        )
    finally:
        session.close()

    # Stopped early: the NVFLARE engine's message, the model kept.
    for item in status.get("lost_nodes", []):
        logger.warning("node %s was lost in round %s", item["node"], item["round"])
    if status.get("status") != "finished":
        last = status.get("last_round", prepared.start_round - 1)
        reasons = "; ".join(status.get("errors", [])) or "fewer than --min_clients"
        raise EngineError(
            f"run stopped after round {last}: {reasons}; the last global model is "
            f"kept in {root / flare.RESUME_FILE}; run again with --resume"
        )
    return flare.collect_result(
        config, federation, prepared.model, prepared.names, result_dir, status,
        prepared.start_round,
        {
            "startup_seconds": startup_seconds,
            "teardown_seconds": 0.0,
            "round_seconds": round_seconds,
            "runtime_seconds": time.perf_counter() - started_at,
            "workspace": str(root),
        },
    )  # fmt: skip


def _open_session(admin, admin_kit: Path, timeout: float):
    """Log in with the admin kit, retrying while the network starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return admin.open_session(admin_kit)
        except EngineError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
