"""The network's side of an HRC job: rounds driven by an HRC strategy.

:class:`HRCController` runs inside FLARE's server job process. Each round it
asks the strategy which nodes train (:meth:`Strategy.configure_fit`) and what
they add locally (:meth:`Strategy.configure_local`), sends the global model,
and passes the replies to :meth:`Strategy.aggregate_fit` — the same strategy
objects as the in-process engine, so both engines aggregate identically.

After every round it saves the global model and the nodes' scalar metrics in
its run folder, so a run that loses too many nodes keeps its last global model
and ``--resume`` can continue from it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from nvflare.app_common.abstract.fl_model import FLModel
from nvflare.app_common.workflows.model_controller import ModelController

from hrc import strategies
from hrc.engines.nvflare import protocol
from hrc.strategies.base import ClientUpdate


class HRCController(ModelController):
    """Run ``n_rounds`` federated rounds with an HRC strategy.

    Parameters
    ----------
    spec : dict
        The job's settings: ``strategy``, ``strategy_options``, ``nodes``
        (names in federation order), ``n_rounds``, ``start_round``,
        ``min_clients``, ``seed``, ``param_names``, ``round_timeout`` and
        ``initial_model`` (file name in the app's custom folder).
    """

    def __init__(self, spec: dict) -> None:
        super().__init__(
            persistor_id="", ignore_result_error=True, task_check_period=0.05
        )
        self.spec = spec

    def run(self) -> None:
        """Run the rounds; stop early when fewer than ``min_clients`` answer."""
        spec = self.spec
        nodes: list[str] = list(spec["nodes"])
        names: list[str] = list(spec["param_names"])
        out = Path(self.get_run_dir()) / protocol.RESULT_DIR
        out.mkdir(parents=True, exist_ok=True)

        # Initial (or resumed) global model and the strategy's state.
        initial = Path(self.get_app_dir()) / "custom" / spec["initial_model"]
        with np.load(initial) as arrays:
            global_params = protocol.arrays_to_params(names, arrays)
        strategy = strategies.create(spec["strategy"], **spec["strategy_options"])
        strategy.initialize(global_params, len(nodes))
        rng = np.random.default_rng(spec["seed"])
        alive = set(nodes)
        lost: list[dict] = []

        for server_round in range(spec["start_round"], spec["n_rounds"] + 1):
            started = time.monotonic()
            # Choose the round's nodes; nodes lost earlier are skipped.
            chosen = strategy.configure_fit(server_round, rng)
            targets = [nodes[i] for i in chosen if nodes[i] in alive]
            local = strategy.configure_local(server_round, chosen, global_params)
            if len(targets) < spec["min_clients"]:
                self._finish(out, "stopped", server_round - 1, lost, alive)
                return

            # Send the global model and wait for the replies.
            meta = {
                "client_ids": {name: i for i, name in enumerate(nodes)},
                "proximal_mu": float(local.proximal_mu),
            }
            model = FLModel(
                params=protocol.params_to_arrays(names, global_params),
                current_round=server_round,
                total_rounds=spec["n_rounds"],
                meta=meta,
            )
            # A round ends when every target answered, or when at least
            # min_clients did and the others are dead or out of time.
            replies = self.broadcast_model(
                data=model,
                task_name=protocol.TRAIN_TASK,
                targets=targets,
                min_responses=min(spec["min_clients"], len(targets)),
                timeout=int(spec["round_timeout"]),
                wait_time_after_min_received=int(spec["round_timeout"]),
            )
            failures = [r.meta["error"] for r in replies if r.meta.get("error")]
            for message in failures:
                self.error(message)
            answered = {
                self._sender(reply): reply
                for reply in replies
                if not reply.meta.get("error")
            }
            failed = {self._sender(r) for r in replies if r.meta.get("error")}
            for name in targets:
                if name in failed:
                    alive.discard(name)
                elif name not in answered:
                    alive.discard(name)
                    lost.append({"node": name, "round": server_round})
                    self.warning(f"node {name} lost in round {server_round}")
            if len(answered) < spec["min_clients"]:
                self.error(
                    f"round {server_round}: {len(answered)} node(s) answered, "
                    f"fewer than min_clients={spec['min_clients']}; stopping"
                )
                self._finish(out, "stopped", server_round - 1, lost, alive, failures)
                return

            # Aggregate with the strategy, in federation order.
            order = sorted(answered, key=nodes.index)
            update = _stack(order, answered, nodes, names)
            global_params = strategy.aggregate_fit(server_round, global_params, update)
            self._save_round(out, server_round, names, global_params, order, answered)
            self.info(
                f"round {server_round}/{spec['n_rounds']} aggregated from "
                f"{len(order)} node(s) in {time.monotonic() - started:.2f} s"
            )

        self._finish(out, "finished", spec["n_rounds"], lost, alive)

    @staticmethod
    def _sender(reply: FLModel) -> str:
        return str(reply.meta["client_name"])

    def _save_round(self, out, server_round, names, params, order, answered) -> None:
        """Save the round's global model and append the nodes' metrics."""
        arrays = protocol.params_to_arrays(names, params)
        tmp = out / f".{protocol.round_file(server_round)}.part"
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        tmp.replace(out / protocol.round_file(server_round))
        with open(out / protocol.PROGRESS_FILE, "a", encoding="utf-8") as handle:
            for name in order:
                metrics = {
                    k: float(answered[name].metrics[k]) for k in protocol.CLIENT_METRICS
                }
                row = {"round": server_round, "client": name, **metrics}
                handle.write(json.dumps(row) + "\n")

    def _finish(self, out, status, last_round, lost, alive, errors=()) -> None:
        record = {
            "status": status,
            "errors": list(errors),
            "last_round": last_round,
            "lost_nodes": lost,
            "nodes_left": sorted(alive),
        }
        (out / protocol.STATUS_FILE).write_text(json.dumps(record, indent=2))
        self.info(f"HRC job {status} after round {last_round}")


def _stack(order, answered, nodes, names) -> ClientUpdate:
    """Stack the replies of ``order`` into a :class:`ClientUpdate`."""
    per_node = [protocol.arrays_to_params(names, answered[n].params) for n in order]
    params = [torch.stack([p[j] for p in per_node]) for j in range(len(names))]

    def column(key: str) -> torch.Tensor:
        values = [float(answered[n].metrics[key]) for n in order]
        return torch.tensor(values, dtype=torch.float32)

    return ClientUpdate(
        client_ids=np.array([nodes.index(n) for n in order]),
        params=params,
        n_samples=column("n_samples"),
        n_steps=column("n_steps"),
        train_loss=column("train_loss"),
        train_accuracy=column("train_accuracy"),
    )


class CatalogController(ModelController):
    """Ask every connected node for the metadata of its datasets.

    Each node answers with names, tags, descriptions and shapes only (no
    paths, no values); the collected list is written to ``catalog.json`` in
    the run folder.
    """

    def __init__(self, timeout: int = 60) -> None:
        super().__init__(
            persistor_id="", ignore_result_error=True, task_check_period=0.05
        )
        self.timeout = timeout

    def run(self) -> None:
        """Collect the catalogue of every connected node."""
        replies = self.send_model_and_wait(
            task_name=protocol.CATALOG_TASK,
            data=FLModel(params={}),
            timeout=self.timeout,
        )
        catalog = []
        for reply in replies:
            catalog.extend(reply.meta.get("datasets", []))
        out = Path(self.get_run_dir()) / protocol.RESULT_DIR
        out.mkdir(parents=True, exist_ok=True)
        (out / "catalog.json").write_text(json.dumps(catalog, indent=2))
