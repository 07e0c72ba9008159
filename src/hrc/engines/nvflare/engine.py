"""Run a federated training on real node processes through NVIDIA FLARE.

:func:`run` does what a network operator and N data owners would do, on one
machine: provision startup kits, write each node's shard into that node's own
folder and register it with the run's tags (the data-owner step), start the
network and the nodes as separate OS processes, submit the HRC job, follow
its rounds, and stop every process it started, also on error or Ctrl-C.

The network never holds data: the held-out figures of each round's global
model are computed here, by the researcher's process, from the saved global
models, exactly as the in-process engine computes them.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hrc.config import TrainConfig
from hrc.engines.nvflare import admin, job, protocol, services, workspace
from hrc.errors import EngineError, UsageError
from hrc.nodes.processes import ProcessGroup, check_port_free
from hrc.nodes.registry import DatasetRegistry, write_shard
from hrc.training.federated import strategy_options
from hrc.training.types import Federation, RunResult

logger = logging.getLogger(__name__)

# Strategies whose rounds need more than one broadcast model.
UNSUPPORTED_STRATEGIES = ("scaffold", "cyclic")
NODE_CONNECT_TIMEOUT = 60.0
DEFAULT_ROUND_TIMEOUT = 600
SHARD_DATASET = "hrc_shard"
RESUME_FILE = "last_global.npz"
RESUME_RECORD = "last_global.json"


def default_workspace(config: TrainConfig) -> Path:
    """``--workspace``, or ``nodes_workspace`` beside ``--model_save_path``."""
    if config.workspace is not None:
        return Path(config.workspace)
    return Path(config.model_save_path).parent / "nodes_workspace"


def run(config: TrainConfig, federation: Federation) -> RunResult:
    """Train ``federation`` on a local FLARE network of one node per client.

    Parameters
    ----------
    config : TrainConfig
        The run's options; ``grid_address``/``grid_port`` place the network,
        ``tags`` label the node datasets, ``workspace`` holds FLARE's files,
        ``resume`` continues from the last saved global model.
    federation : Federation
        The split, preprocessed data; client ``k`` becomes node ``h{k+1}``.

    Returns
    -------
    RunResult
        As the in-process engine: final held-out figures, per-round history,
        per-client metrics and the final global weights.

    Raises
    ------
    UsageError
        For an unsupported strategy or a port in use.
    EngineError
        When a process fails, the network does not answer, or fewer than
        ``--min_clients`` nodes are left (the last global model is kept).
    """
    from hrc.nodes.tags import parse_tags
    from hrc.training import federated

    # Checks first: strategy, tags, the network's port.
    strategy = federated.make_strategy(config)
    if strategy.name in UNSUPPORTED_STRATEGIES or strategy.sequential:
        raise UsageError(
            f"--strategy: {strategy.name!r} is not available with --engine nvflare; "
            "use a strategy whose nodes all start from one global model "
            "(fedavg, fedprox, fedadam, fedyogi, fedadagrad)"
        )
    tags = parse_tags(config.tags)
    check_port_free(config.grid_address, config.grid_port)
    root = default_workspace(config).resolve()
    nodes = [client.name for client in federation.clients]
    started = time.perf_counter()

    # Initial global model, or the last one saved when resuming.
    model = model_for(config, federation)
    names = [name for name, _ in model.named_parameters()]
    start_round, params = 1, federated.initial_params(federation, config)
    if config.resume:
        start_round, params = load_resume(root, names)

    # Kits for the network and the nodes; each node's shard in its own folder.
    kits = workspace.provision(root, nodes, config.grid_address, config.grid_port)
    # (config.extra["node_tags"] = {node: tags} lets a node tag its data
    # differently from the job, as an independent data owner might.)
    node_tags = config.extra.get("node_tags", {})
    for client in federation.clients:
        home = kits.node_home(client.name)
        shard = write_shard(home / "data" / "shard.npz", client.features, client.labels)
        own_tags = parse_tags(node_tags.get(client.name, tags))
        registry = DatasetRegistry(home)
        registry.add(SHARD_DATASET, shard, own_tags, "training shard", replace=True)

    # The job: the strategy on the network, local training on the nodes.
    spec = {
        "strategy": config.strategy,
        "strategy_options": strategy_options(config),
        "nodes": nodes,
        "n_rounds": config.n_epochs,
        "start_round": start_round,
        "min_clients": config.min_clients,
        "seed": config.seed,
        "param_names": names,
        "round_timeout": int(config.extra.get("round_timeout", DEFAULT_ROUND_TIMEOUT)),
    }
    local_options = {
        key: jsonable(getattr(config, key)) for key in protocol.LOCAL_OPTIONS
    }
    job_dir = job.write_train_job(
        root / "jobs",
        spec,
        protocol.params_to_arrays(names, params),
        list(tags),
        local_options,
    )

    # Start the processes, run the job, stop everything whatever happens.
    with ProcessGroup("nvflare run") as group:
        t0 = time.perf_counter()
        services.start_server(group, kits.server, kits.host, kits.port)
        for name, kit in kits.nodes.items():
            services.start_node(group, kit, name, kits.node_home(name))
        session = admin.open_session(kits.admin)
        try:
            admin.wait_for_nodes(session, nodes, NODE_CONNECT_TIMEOUT)
            startup_seconds = time.perf_counter() - t0
            logger.info(
                "network and %d nodes up in %.1f s", len(nodes), startup_seconds
            )
            job_id = admin.submit_job(session, job_dir)
            result_dir = kits.server / job_id / protocol.RESULT_DIR
            status, round_seconds = follow_job(
                session, job_id, result_dir, root, config, group, names
            )
        finally:
            session.close()
        t1 = time.perf_counter()
    teardown_seconds = time.perf_counter() - t1

    for item in status.get("lost_nodes", []):
        logger.warning("node %s was lost in round %s", item["node"], item["round"])

    # Stopped early: keep the last global model and say how to continue.
    if status.get("status") != "finished":
        last = status.get("last_round", start_round - 1)
        if status.get("errors"):
            raise EngineError(
                f"run stopped after round {last}: {'; '.join(status['errors'])}"
            )
        lost = (
            ", ".join(item["node"] for item in status.get("lost_nodes", [])) or "none"
        )
        raise EngineError(
            f"run stopped after round {last}: fewer than --min_clients "
            f"{config.min_clients} nodes left (lost: {lost}); the last global model "
            f"is kept in {root / RESUME_FILE}; run again with --resume to continue"
        )
    return collect_result(
        config, federation, model, names, result_dir, status, start_round,
        {
            "startup_seconds": startup_seconds,
            "teardown_seconds": teardown_seconds,
            "round_seconds": round_seconds,
            "runtime_seconds": time.perf_counter() - started,
            "workspace": str(root),
        },
    )  # fmt: skip


def follow_job(session, job_id, result_dir, root, config, group, names):
    """Log each round as it ends; return the job's status record and round times."""
    seen_rounds: set[int] = set()
    round_seconds: list[float] = []
    last_time = time.perf_counter()
    status_path = result_dir / protocol.STATUS_FILE
    while True:
        # New rounds: log them and keep the latest global model for --resume.
        for row in _read_progress(result_dir):
            if row["round"] in seen_rounds:
                continue
            seen_rounds.add(row["round"])
            now = time.perf_counter()
            round_seconds.append(now - last_time)
            last_time = now
            _keep_for_resume(result_dir, root, row["round"])
            logger.info("round %s/%s done", row["round"], config.n_epochs)
            _inject_fault(config, group, row["round"])
        if status_path.is_file():
            return json.loads(status_path.read_text()), round_seconds

        # The job ended without a status record, or a process died.
        state = admin.job_status(session, job_id)
        if state.startswith("FINISHED") or state == "FAILED":
            if status_path.is_file():
                continue
            raise EngineError(
                f"FLARE job {job_id} ended as {state} without finishing; see the "
                f"logs under {root / 'kits'}"
            )
        if not group.get("network").alive():
            raise EngineError(f"the network process exited; see {root / 'kits'}")
        time.sleep(0.05)


def _inject_fault(config: TrainConfig, group: ProcessGroup, server_round: int) -> None:
    """Kill a node after a round when ``config.extra["kill_node"]`` asks for it.

    ``{"node": "h2", "after_round": 1}`` simulates a hospital going offline;
    the failure tests use it.
    """
    fault = config.extra.get("kill_node")
    if fault and int(fault["after_round"]) == server_round:
        logger.warning("killing node %s after round %s", fault["node"], server_round)
        group.kill(fault["node"])


def _read_progress(result_dir: Path) -> list[dict]:
    path = result_dir / protocol.PROGRESS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def _keep_for_resume(result_dir: Path, root: Path, server_round: int) -> None:
    """Copy the round's global model to the workspace (kept after the run)."""
    source = result_dir / protocol.round_file(server_round)
    for _ in range(50):  # the round file is renamed in just before the progress line
        if source.is_file():
            break
        time.sleep(0.01)
    shutil.copyfile(source, root / (RESUME_FILE + ".part"))
    (root / (RESUME_FILE + ".part")).replace(root / RESUME_FILE)
    (root / RESUME_RECORD).write_text(json.dumps({"round": server_round}) + "\n")


def load_resume(root: Path, names: list[str]) -> tuple[int, list[torch.Tensor]]:
    """Return the round to start from and the kept global model."""
    record, arrays = root / RESUME_RECORD, root / RESUME_FILE
    if not record.is_file() or not arrays.is_file():
        raise UsageError(
            f"--resume: no kept global model in {root}; run without --resume first"
        )
    last = int(json.loads(record.read_text())["round"])
    with np.load(arrays) as saved:
        params = protocol.arrays_to_params(names, saved)
    logger.info("resuming after round %s from %s", last, arrays)
    return last + 1, params


def collect_result(
    config, federation, model, names, result_dir, status, start_round, info
):
    """Evaluate each round's global model and build the :class:`RunResult`."""
    from hrc.models import set_params
    from hrc.training.centralized import CLIENT_COLUMNS, HISTORY_COLUMNS, evaluate_model
    from hrc.training.metrics import majority_baseline

    progress = pd.DataFrame(_read_progress(result_dir))
    history, client_frames = [], []
    for server_round in range(start_round, status["last_round"] + 1):
        with np.load(result_dir / protocol.round_file(server_round)) as arrays:
            set_params(model, protocol.arrays_to_params(names, arrays))
        row = {"round": server_round, **evaluate_model(
            model, federation.test_features, federation.test_labels,
            federation.n_classes,
        )}  # fmt: skip
        replies = progress[progress["round"] == server_round]
        row["train_loss"] = float(
            (replies["train_loss"] * replies["n_samples"]).sum()
            / replies["n_samples"].sum()
        )
        history.append(row)
        client_frames.append(_client_frame(model, federation, replies, server_round))

    # Final figures are the last round's, as in the in-process engine.
    pool_labels = torch.cat([client.labels for client in federation.clients])
    final = {k: v for k, v in history[-1].items() if k != "round"} if history else {}
    metrics = {
        **final,
        "majority_baseline": majority_baseline(
            pool_labels, federation.test_labels, federation.n_classes
        ),
        "n_train": int(len(pool_labels)),
        "n_test": int(len(federation.test_labels)),
        "n_clients": len(federation.clients),
        "rounds": config.n_epochs,
        "runtime_seconds": info["runtime_seconds"],
    }
    clients = (
        pd.concat(client_frames, ignore_index=True)
        if client_frames
        else pd.DataFrame(columns=CLIENT_COLUMNS)
    )
    return RunResult(
        metrics=metrics,
        history=pd.DataFrame(history, columns=HISTORY_COLUMNS),
        client_metrics=clients[CLIENT_COLUMNS],
        state_dict={k: v.detach().clone() for k, v in model.state_dict().items()},
        info={
            "engine": "nvflare",
            "train_type": "decentralized",
            "strategy": config.strategy,
            "n_features": federation.n_features,
            "lost_nodes": status.get("lost_nodes", []),
            **info,
        },
    )


def _client_frame(model, federation, replies, server_round) -> pd.DataFrame:
    """Per-client rows: the nodes' local figures and the global model's."""
    import torch.nn.functional as F

    from hrc.training.centralized import CLIENT_COLUMNS

    by_name = replies.set_index("client")
    rows = []
    model.eval()
    for client in federation.clients:
        with torch.no_grad():
            logits = model(client.features)
            loss = F.cross_entropy(logits, client.labels).item()
            accuracy = (logits.argmax(dim=1) == client.labels).double().mean().item()
        answered = client.name in by_name.index
        rows.append(
            {
                "round": server_round,
                "client": client.name,
                "n_samples": client.n_samples,
                "train_loss": by_name.at[client.name, "train_loss"]
                if answered
                else np.nan,
                "train_accuracy": (
                    by_name.at[client.name, "train_accuracy"] if answered else np.nan
                ),
                "global_loss": loss,
                "global_accuracy": accuracy,
            }
        )
    return pd.DataFrame(rows, columns=CLIENT_COLUMNS)


def model_for(config: TrainConfig, federation: Federation):
    from hrc.models import build_model

    return build_model(
        config.model,
        federation.n_features,
        federation.n_classes,
        config.hidden,
        config.dropout,
    )


def jsonable(value):
    return list(value) if isinstance(value, tuple) else value
