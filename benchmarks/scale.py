"""Scale benchmark: centralized training vs FedAvg with 2 to 1,000 clients.

Both sides see the same samples, the same number of passes and the same batch
size: ``--epochs`` epochs of centralized training against ``--epochs`` rounds
of FedAvg with one local epoch. The cohort is the offline synthetic GTEx v8
cohort at full size (17,382 samples), 1,000 genes selected by variance, label
tissue, split 80/20 by donor. Everything runs in this one process.

The training donors (about 760) cannot give 1,000 clients of whole donors, so
for more clients than training donors the training samples are dealt to the
clients at random, sample by sample (for this benchmark only; ``hrc train``
always keeps a donor inside one client). Up to the donor count the IID donor
partition of ``hrc train`` is used.

Usage::

    python benchmarks/scale.py --clients 2,10,100,1000 --epochs 5 \
        --out data/metrics/scale_benchmark.json

Prints one table and writes the same figures as JSON: wall and CPU seconds
of training (data generation and preprocessing excluded), peak resident memory
of the process during the phase (Linux ``VmHWM``, reset before each phase),
the federated/centralized ratios of both and the final held-out accuracy of
each. Both sides run on the same number of torch threads (all cores unless
``--threads`` says otherwise). The time targets are judged on the wall ratio;
the CPU ratio is printed beside it because other processes on a shared
machine stretch wall seconds. Where a target is missed the row says why.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import resource
import time
from pathlib import Path

import click
import numpy as np
import torch

from hrc import log
from hrc.config import TrainConfig
from hrc.data.synth import DEFAULT_SAMPLES, generate_cohort
from hrc.io import write_json_atomic
from hrc.preprocess import Preprocessor, encode_labels
from hrc.splits import train_test_split_by_donor
from hrc.splits.iid import iid
from hrc.training.centralized import train_centralized
from hrc.training.federated import train_federated
from hrc.training.types import ClientData, Federation

logger = logging.getLogger("hrc.benchmarks.scale")

TARGET_RATIO = {2: 1.10, 10: 1.10, 100: 1.10, 1000: 1.5}
TARGET_PEAK_GB = 8.0
TARGET_ACCURACY_GAP = 0.01


# --- memory -----------------------------------------------------------------


def reset_peak_rss() -> bool:
    """Reset the process's peak RSS (Linux 4.0+); False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident memory since the last reset (or since start)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- data -------------------------------------------------------------------


@dataclasses.dataclass
class Cohort:
    """Preprocessed training and test data, with the table for partitioning."""

    samples: object
    labels: np.ndarray
    train_rows: np.ndarray
    train_features: torch.Tensor
    train_labels: torch.Tensor
    test_features: torch.Tensor
    test_labels: torch.Tensor
    classes: list[str]


def build_cohort(n_samples: int, n_genes: int, seed: int) -> Cohort:
    """Generate the synthetic cohort, split by donor and preprocess."""
    # Twice the genes, then the variance selection of hrc train keeps n_genes
    data = generate_cohort(n_samples, 2 * n_genes, seed=seed)
    labels, classes = encode_labels(data.samples, "tissue")
    train, test = train_test_split_by_donor(data.samples, labels, 0.8, seed)

    # Fit on the training donors only, transform both sides
    prep = Preprocessor(n_genes=n_genes).fit(
        data.expression[train], data.gene_ids, data.samples.iloc[train]
    )
    x_train = prep.transform(data.expression[train], data.samples.iloc[train])
    x_test = prep.transform(data.expression[test], data.samples.iloc[test])
    return Cohort(
        samples=data.samples,
        labels=labels,
        train_rows=train,
        train_features=torch.from_numpy(np.ascontiguousarray(x_train, np.float32)),
        train_labels=torch.from_numpy(labels[train].astype(np.int64)),
        test_features=torch.from_numpy(np.ascontiguousarray(x_test, np.float32)),
        test_labels=torch.from_numpy(labels[test].astype(np.int64)),
        classes=list(classes),
    )


def federation_of(cohort: Cohort, n_clients: int, seed: int) -> tuple[Federation, str]:
    """Deal the training rows to ``n_clients`` clients; return how it was done."""
    n_donors = cohort.samples.iloc[cohort.train_rows]["Donor"].nunique()
    position = {row: i for i, row in enumerate(cohort.train_rows.tolist())}

    # Whole donors when there are enough, otherwise single samples
    if n_clients <= n_donors:
        parts = iid(cohort.samples, cohort.labels, cohort.train_rows, n_clients, seed)
        parts = [np.array([position[r] for r in part.tolist()]) for part in parts]
        how = "IID by donor"
    else:
        order = np.random.default_rng(seed).permutation(len(cohort.train_rows))
        parts = [np.sort(p) for p in np.array_split(order, n_clients)]
        how = f"IID by sample ({n_donors} training donors < {n_clients} clients)"
    clients = [
        ClientData(
            f"h{i + 1}",
            cohort.train_features[torch.from_numpy(part)],
            cohort.train_labels[torch.from_numpy(part)],
        )
        for i, part in enumerate(parts)
    ]
    federation = Federation(
        clients, cohort.test_features, cohort.test_labels, cohort.classes
    )
    return federation, how


# --- one measured phase -----------------------------------------------------


def measure(train, *args) -> tuple[object, float, float, int]:
    """Run ``train(*args)``; return its result, wall and CPU seconds, peak RSS.

    CPU seconds (user + system of this process) are reported beside wall
    seconds because on a shared machine the wall clock also counts the time
    other processes held the cores.
    """
    reset_peak_rss()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = train(*args)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return result, wall, cpu, peak_rss_bytes()


@click.command()
@click.option("--clients", default="2,10,100,1000", show_default=True)
@click.option("--epochs", default=5, show_default=True, help="Epochs = rounds.")
@click.option("--batch_size", default=128, show_default=True)
@click.option("--n_samples", default=DEFAULT_SAMPLES, show_default=True)
@click.option("--n_genes", default=1000, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--threads", default=0, show_default=True, help="Torch threads; 0 = all cores."
)
@click.option(
    "--client_eval",
    type=click.Choice(["every", "last"]),
    default="every",
    show_default=True,
    help="Rounds after which FedAvg evaluates the global model on every "
    "client's own rows (hrc train: every).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("data/metrics/scale_benchmark.json"),
    show_default=True,
)
def main(
    clients: str,
    epochs: int,
    batch_size: int,
    n_samples: int,
    n_genes: int,
    seed: int,
    threads: int,
    client_eval: str,
    out: Path,
) -> None:
    """Time centralized training and FedAvg at equal sample-epochs."""
    log.configure(0)
    threads = threads if threads > 0 else os.cpu_count() or 1
    torch.set_num_threads(threads)
    client_counts = [int(c) for c in clients.split(",") if c.strip()]

    # Data, outside every timed phase
    started = time.perf_counter()
    cohort = build_cohort(n_samples, n_genes, seed)
    click.echo(
        f"cohort: {n_samples} samples, {cohort.train_features.shape[1]} features, "
        f"{len(cohort.classes)} tissues, {len(cohort.train_labels)} training / "
        f"{len(cohort.test_labels)} held-out samples "
        f"({time.perf_counter() - started:.1f} s to build)"
    )
    config = TrainConfig(
        label="tissue",
        n_epochs=epochs,
        local_epochs=1,
        batch_size=batch_size,
        seed=seed,
        strategy="fedavg",
        progress=False,
    )

    # Warm-up, untimed: the first call of each trainer pays torch's set-up
    warm = dataclasses.replace(config, n_epochs=1)
    small, _ = federation_of(cohort, 2, seed)
    small.clients = [
        ClientData(c.name, c.features[:256], c.labels[:256]) for c in small.clients
    ]
    train_centralized(small, warm)
    train_federated(small, warm, client_eval=client_eval)

    # Centralized reference: the pooled training set as one client
    pooled, _ = federation_of(cohort, 1, seed)
    central, central_s, central_cpu, central_peak = measure(
        train_centralized, pooled, config
    )
    rows = [
        {
            "run": "centralized",
            "clients": 1,
            "partition": "pooled",
            "seconds": central_s,
            "cpu_seconds": central_cpu,
            "peak_rss_gb": central_peak / 1e9,
            "ratio": 1.0,
            "cpu_ratio": 1.0,
            "accuracy": float(central.metrics["accuracy"]),
            "optimizer_steps": -(-len(cohort.train_labels) // batch_size) * epochs,
        }
    ]
    click.echo(f"centralized: {central_s:.1f} s ({central_cpu:.1f} s CPU)")

    # FedAvg at each federation size
    for n_clients in client_counts:
        federation, how = federation_of(cohort, n_clients, seed)
        result, seconds, cpu, peak = measure(
            lambda f: train_federated(f, config, client_eval=client_eval), federation
        )
        sizes = np.array([c.n_samples for c in federation.clients])
        rows.append(
            {
                "run": "fedavg",
                "clients": n_clients,
                "partition": how,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_rss_gb": peak / 1e9,
                "ratio": seconds / central_s,
                "cpu_ratio": cpu / central_cpu,
                "accuracy": float(result.metrics["accuracy"]),
                "optimizer_steps": int(-(-sizes // batch_size).sum()) * epochs,
                "steps_per_client_round": float(np.mean(-(-sizes // batch_size))),
            }
        )
        click.echo(f"fedavg {n_clients}: {seconds:.1f} s ({cpu:.1f} s CPU), {how}")
        del federation, result

    # Table, targets, JSON
    click.echo(render(rows, rows[0]["accuracy"]))
    payload = {
        "command": "python benchmarks/scale.py "
        f"--clients {clients} --epochs {epochs} --batch_size {batch_size} "
        f"--n_samples {n_samples} --n_genes {n_genes} --seed {seed} "
        f"--threads {threads} --client_eval {client_eval}",
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "processor": platform.machine(),
        },
        "config": config.to_dict(),
        "rows": rows,
    }
    write_json_atomic(out, payload)
    click.echo(f"written: {out}")


def render(rows: list[dict], central_accuracy: float) -> str:
    """A plain-text table, then a verdict per target and the reason of a miss."""
    header = (
        f"{'run':<12}{'clients':>8}{'wall s':>9}{'ratio':>7}{'CPU s':>9}"
        f"{'ratio':>7}{'peak GB':>9}{'accuracy':>10}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['run']:<12}{row['clients']:>8}{row['seconds']:>9.1f}"
            f"{row['ratio']:>7.2f}{row['cpu_seconds']:>9.1f}{row['cpu_ratio']:>7.2f}"
            f"{row['peak_rss_gb']:>9.2f}{row['accuracy']:>10.4f}"
        )
    lines.append("")
    central = rows[0]
    for row in rows:
        lines.extend(verdicts(row, central, central_accuracy))
    return "\n".join(lines)


def verdicts(row: dict, central: dict, central_accuracy: float) -> list[str]:
    """One line per target of ``row``: ok, or MISS with the figure and reason."""
    label = f"{row['run']} {row['clients']}"
    lines = []
    if row["peak_rss_gb"] > TARGET_PEAK_GB:
        lines.append(f"{label}: peak {row['peak_rss_gb']:.2f} GB > 8 GB: MISS")
    if row["run"] == "centralized":
        return lines

    # Time: the optimizer touches every weight once per local step, so more
    # steps per sample-epoch than centralized is work no engine can skip.
    limit = TARGET_RATIO.get(row["clients"], 1.5)
    steps = row["optimizer_steps"] / central["optimizer_steps"]
    status = "ok" if row["ratio"] <= limit else "MISS"
    reason = ""
    if status == "MISS":
        reason = (
            f"; {steps:.2f}x the optimizer steps of centralized "
            f"({row['steps_per_client_round']:.1f} per client and round, each "
            "over all weights), plus one evaluation pass over the training rows "
            "per round evaluated"
        )
    lines.append(
        f"{label}: wall ratio {row['ratio']:.2f} (CPU {row['cpu_ratio']:.2f}) "
        f"<= {limit}: {status}{reason}"
    )

    # Accuracy: FedAvg with few local steps per round is under-trained.
    gap = central_accuracy - row["accuracy"]
    status = "ok" if gap <= TARGET_ACCURACY_GAP else "MISS"
    reason = ""
    if status == "MISS":
        reason = (
            f"; FedAvg averages {row['steps_per_client_round']:.1f} local steps "
            f"per client per round: {row['optimizer_steps'] // row['clients']} "
            f"steps per client in all, centralized took "
            f"{central['optimizer_steps']}"
        )
    lines.append(f"{label}: accuracy gap {gap * 100:+.2f} pt <= 1: {status}{reason}")
    return lines


if __name__ == "__main__":
    main()
