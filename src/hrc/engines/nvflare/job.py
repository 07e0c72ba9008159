"""Write HRC jobs in FLARE's job-folder format.

The folder is written directly (``meta.json`` and one app with its two
configuration files) rather than through FLARE's Job API, which would copy
parts of the ``hrc`` package into the job as custom code; every site has
``hrc`` installed, and the job only names its classes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from hrc.engines.nvflare import protocol

APP_NAME = "app"
INITIAL_MODEL_FILE = "initial_model.npz"

# Polling and liveness settings of the job (see docs/nodes.md).
TASK_REQUEST_INTERVAL = 0.05  # s a node waits before asking again (FLARE: 2)
HEARTBEAT_TIMEOUT = 20  # s of silence before the network drops a node (FLARE: 60)
DEAD_CLIENT_GRACE_PERIOD = 5.0  # s before a reported dead node ends its task (60)
TASK_CHECK_PERIOD = 0.05  # s between the controller's checks of a task (0.5)


def write_train_job(
    job_root: str | Path,
    spec: dict,
    initial_arrays: dict,
    tags: list[str],
    local_options: dict,
) -> Path:
    """Write the training job and return its folder.

    Parameters
    ----------
    job_root : path-like
        Parent folder; the job is written to ``job_root/hrc_train``.
    spec : dict
        Settings of :class:`~hrc.engines.nvflare.controller.HRCController`.
    initial_arrays : dict
        Initial global model, ``{parameter name: array}``.
    tags : list of str
        Tags selecting each node's data.
    local_options : dict
        Local-training options (:data:`protocol.LOCAL_OPTIONS`).
    """
    spec = {**spec, "initial_model": INITIAL_MODEL_FILE}
    server = {
        "format_version": 2,
        "server": {
            "heart_beat_timeout": HEARTBEAT_TIMEOUT,
            "task_request_interval": TASK_REQUEST_INTERVAL,
        },
        "dead_client_grace_period": DEAD_CLIENT_GRACE_PERIOD,
        "workflows": [
            {
                "id": "hrc_controller",
                "path": "hrc.engines.nvflare.controller.HRCController",
                "args": {"spec": spec},
            }
        ],
        "components": [],
        "task_result_filters": [
            {
                "tasks": [protocol.TRAIN_TASK],
                "filters": [
                    {"path": "hrc.engines.nvflare.audit.ReceivedAudit", "args": {}}
                ],
            }
        ],
    }
    executor = {
        "path": "hrc.engines.nvflare.executor.HRCExecutor",
        "args": {
            "tags": list(tags),
            "local_options": local_options,
            "param_names": spec["param_names"],
        },
    }
    folder = _write_job(job_root, "hrc_train", spec["nodes"], server, executor)
    with open(folder / APP_NAME / "custom" / INITIAL_MODEL_FILE, "wb") as handle:
        np.savez(handle, **initial_arrays)
    return folder


def write_catalog_job(job_root: str | Path, nodes: list[str]) -> Path:
    """Write the job that collects every node's dataset metadata."""
    server = {
        "format_version": 2,
        "server": {"task_request_interval": TASK_REQUEST_INTERVAL},
        "workflows": [
            {
                "id": "hrc_catalog",
                "path": "hrc.engines.nvflare.controller.CatalogController",
                "args": {},
            }
        ],
        "components": [],
    }
    executor = {"path": "hrc.engines.nvflare.executor.CatalogExecutor", "args": {}}
    return _write_job(job_root, "hrc_catalog", nodes, server, executor)


def _write_job(
    job_root: str | Path, name: str, nodes: list[str], server: dict, executor: dict
) -> Path:
    folder = Path(job_root) / name
    shutil.rmtree(folder, ignore_errors=True)
    config_dir = folder / APP_NAME / "config"
    config_dir.mkdir(parents=True)
    (folder / APP_NAME / "custom").mkdir()
    task = protocol.TRAIN_TASK if name == "hrc_train" else protocol.CATALOG_TASK
    client = {
        "format_version": 2,
        "executors": [{"tasks": [task], "executor": executor}],
        "components": [],
    }
    meta = {
        "name": name,
        "resource_spec": {},
        "min_clients": 1,
        "deploy_map": {APP_NAME: ["server", *nodes]},
    }
    _dump(config_dir / "config_fed_server.json", server)
    _dump(config_dir / "config_fed_client.json", client)
    _dump(folder / "meta.json", meta)
    return folder


def _dump(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
