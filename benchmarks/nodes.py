"""Per-round wall time of the NVFLARE engine against the in-process engine.

Trains the same synthetic federation (4,000 samples, 1,000 features, 6
classes, an MLP 1000-256-128-6) with 2 and 4 local node processes and with
the in-process engine, and prints a table: network and node start-up, the
first round (which includes FLARE starting the job's processes), the median
of the later rounds, the overhead per round over the in-process engine, and
teardown. Run from the repository root::

    python benchmarks/nodes.py [--rounds 6] [--samples 4000]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import time
from pathlib import Path

import torch

from hrc.config import TrainConfig
from hrc.engines import nvflare
from hrc.training.federated import train_federated
from hrc.training.types import ClientData, Federation


def synthetic_federation(n_samples: int, n_features: int, n_clients: int) -> Federation:
    """Six classes from a random linear map; samples split evenly."""
    generator = torch.Generator().manual_seed(0)
    weights = torch.randn(n_features, 6, generator=generator)
    features = torch.randn(n_samples + 500, n_features, generator=generator)
    labels = (features @ weights).argmax(dim=1)
    parts = torch.arange(n_samples).chunk(n_clients)
    clients = [
        ClientData(f"h{i + 1}", features[rows], labels[rows])
        for i, rows in enumerate(parts)
    ]
    test = slice(n_samples, None)
    classes = [f"c{k}" for k in range(6)]
    return Federation(clients, features[test], labels[test], classes)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--features", type=int, default=1000)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="hrc-bench-") as scratch:
        for n_nodes in (2, 4):
            federation = synthetic_federation(args.samples, args.features, n_nodes)
            config = TrainConfig(
                train_type="decentralized",
                n_epochs=args.rounds,
                hidden=(256, 128),
                batch_size=128,
                grid_port=free_port(),
                workspace=Path(scratch) / f"ws{n_nodes}",
            )

            # In-process reference: median round from the run's total.
            started = time.perf_counter()
            train_federated(federation, config)
            inprocess = (time.perf_counter() - started) / args.rounds

            # Real processes.
            config.engine = "nvflare"
            result = nvflare.run(config, federation)
            rounds = result.info["round_seconds"]
            later = statistics.median(rounds[1:]) if len(rounds) > 1 else rounds[0]
            rows.append(
                (
                    n_nodes,
                    result.info["startup_seconds"],
                    rounds[0],
                    later,
                    inprocess,
                    later - inprocess,
                    result.info["teardown_seconds"],
                )
            )

    header = (
        "nodes", "startup s", "round 1 s", "round s (median 2+)",
        "in-process round s", "overhead s/round", "teardown s",
    )  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for row in rows:
        print(" | ".join([str(row[0])] + [f"{value:.2f}" for value in row[1:]]))


if __name__ == "__main__":
    main()
