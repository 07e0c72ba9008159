"""A record of everything the network receives from the nodes.

:class:`ReceivedAudit` is a FLARE task-result filter placed on the network
side of every HRC training job. For each reply it writes one JSON line to
``hrc_result/received.jsonl`` in the job's run folder: the sender, the names,
shapes and types of the parameters, the metric names and whether each is a
scalar, and the keys of the reply's header and metadata. It never records
values, so the audit itself holds no data; a test compares it with the
model's parameter shapes to show that nothing else reaches the network.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from nvflare.apis.filter import Filter
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable
from nvflare.app_common.utils.fl_model_utils import FLModelUtils

from hrc.engines.nvflare import protocol

AUDIT_FILE = "received.jsonl"


class ReceivedAudit(Filter):
    """Record the structure (never the values) of every node's reply."""

    def process(self, shareable: Shareable, fl_ctx: FLContext) -> Shareable:
        """Append the reply's structure to the audit file; pass it on unchanged."""
        sender = fl_ctx.get_peer_context().get_identity_name()
        model = FLModelUtils.from_shareable(shareable)
        record = {
            "sender": sender,
            "params": {
                name: {
                    "shape": list(np.shape(value)),
                    "type": type(value).__name__,
                    "dtype": str(getattr(value, "dtype", "")),
                }
                for name, value in (model.params or {}).items()
            },
            "metrics": {
                name: isinstance(value, (int, float))
                for name, value in (model.metrics or {}).items()
            },
            "meta": {key: _kind(value) for key, value in (model.meta or {}).items()},
            "shareable_keys": sorted(shareable.keys()),
        }
        run_dir = Path(
            fl_ctx.get_engine().get_workspace().get_run_dir(fl_ctx.get_job_id())
        )
        out = run_dir / protocol.RESULT_DIR
        out.mkdir(parents=True, exist_ok=True)
        with open(out / AUDIT_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return shareable


def _kind(value: object) -> str | dict:
    """Describe a value without its content: ``"none"``, ``"scalar"``, ...

    A dictionary is described key by key.
    """
    if value is None:
        return "none"
    if isinstance(value, (bool, int, float, str)):
        return "scalar"
    if isinstance(value, dict):
        return {str(key): _kind(item) for key, item in value.items()}
    return f"{type(value).__name__} of shape {list(np.shape(value))}"
