"""Honest comparison of pooled, federated and local-only training.

For every seed the data are split once; on that one split the same model is
trained pooled (centralized), with each federated strategy, and by every
hospital alone (local-only). All runs share the initial weights, the batch
size, the learning rate and the number of passes over the data, and all are
tested on the same held-out donors. The figures are then summarised as mean
and sample standard deviation over the seeds.

:func:`run_comparison` runs everything and returns one :class:`RunRecord` per
(method, seed); :func:`write_report` turns records into ``comparison.md``,
``comparison.json``, ``rounds.png`` and ``clients.png``; :func:`load_comparison`
reads the records of an earlier comparison back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hrc import strategies
from hrc.config import TrainConfig
from hrc.errors import DataError, UsageError
from hrc.io import (
    atomic_directory,
    atomic_path,
    write_json_atomic,
    write_text_atomic,
)
from hrc.training.types import Federation

logger = logging.getLogger(__name__)

POOLED = "pooled"
LOCAL_ONLY = "local_only"
LOCAL_MEAN = "local-only mean"
LOCAL_BEST = "local-only best"
SCORES = ("accuracy", "balanced_accuracy", "macro_f1")
SCORE_TITLES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro-F1",
    "majority_baseline": "majority baseline",
}
FILES = ("comparison.md", "comparison.json", "rounds.png", "clients.png")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "v", "D", "x")

Prepare = Callable[[TrainConfig], Federation]


@dataclass
class RunRecord:
    """The figures of one method trained with one seed.

    Attributes
    ----------
    method : str
        ``"pooled"``, a strategy name such as ``"fedavg"``, or ``"local_only"``.
    seed : int
        Seed of the split, the initial weights and the batch order.
    metrics : dict
        Final held-out figures (``accuracy``, ``balanced_accuracy``,
        ``macro_f1``, ``majority_baseline``, ...). For local-only: the mean
        over hospitals, with the best hospital under ``"best"``.
    history : list of dict
        Held-out figures after each round (epoch for pooled); empty for
        local-only.
    per_client : list of dict
        Local-only: each hospital's model on the held-out donors.
    """

    method: str
    seed: int
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    per_client: list[dict[str, Any]] = field(default_factory=list)


def parse_seeds(n_seeds: int, seed_list: str | None) -> list[int]:
    """Return the seeds: ``0 .. n_seeds - 1``, or the comma list when given.

    Raises
    ------
    UsageError
        If ``n_seeds`` is below 1 or ``seed_list`` holds a non-integer.
    """
    if seed_list:
        try:
            seeds = [int(item) for item in seed_list.split(",") if item.strip()]
        except ValueError:
            raise UsageError(
                f"--seed_list: {seed_list!r} is not a comma-separated list of "
                "integers such as 0,1,2"
            ) from None
        if seeds:
            return list(dict.fromkeys(seeds))
    if n_seeds < 1:
        raise UsageError(f"--seeds: {n_seeds} must be at least 1")
    return list(range(n_seeds))


def parse_strategies(text: str) -> list[str]:
    """Return the strategy names of a comma list, checked against the registry.

    Raises
    ------
    UsageError
        If the list is empty or names an unknown strategy.
    """
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    known = strategies.available()
    if not names:
        raise UsageError(
            f"--strategies: {text!r} names no strategy; accepted: {', '.join(known)}"
        )
    for name in names:
        if name not in known:
            raise UsageError(
                f"--strategies: unknown value {name!r}; accepted: {', '.join(known)}"
            )
    return names


def run_comparison(
    config: TrainConfig,
    strategy_names: Sequence[str],
    seeds: Sequence[int],
    prepare: Prepare | None = None,
    progress: bool = True,
) -> list[RunRecord]:
    """Train pooled, every strategy and local-only for each seed.

    Parameters
    ----------
    config : TrainConfig
        Data, split, model and optimisation options shared by every run;
        ``n_epochs`` is the number of epochs (pooled) and rounds (federated).
    strategy_names : sequence of str
        Federated strategies to compare, e.g. ``["fedavg", "fedprox"]``.
    seeds : sequence of int
        One split and one set of initial weights per seed.
    prepare : callable, optional
        ``prepare(config) -> Federation``; defaults to the runner's
        :func:`~hrc.training.runner.prepare_federation`.
    progress : bool
        Show a progress bar over the runs.

    Returns
    -------
    list of RunRecord
        One record per (method, seed), seeds in order.
    """
    from hrc.training.centralized import train_centralized
    from hrc.training.federated import train_federated
    from hrc.training.local_only import train_local_only

    if prepare is None:
        from hrc.training.runner import prepare_federation

        def prepare(run_config: TrainConfig) -> Federation:
            return prepare_federation(run_config)[0]

    base = dataclasses.replace(config, train_type="decentralized", progress=False)
    methods = [POOLED, *strategy_names, LOCAL_ONLY]
    records: list[RunRecord] = []

    with _progress_bar(progress, len(methods) * len(seeds)) as advance:
        for seed in seeds:
            # One split per seed, shared by every method
            run_config = dataclasses.replace(base, seed=seed)
            federation = prepare(run_config)
            logger.info(
                "seed %s: %s clients, %s training and %s held-out samples",
                seed,
                len(federation.clients),
                federation.n_train,
                len(federation.test_labels),
            )

            # Pooled: the clients' data concatenated, same budget
            result = train_centralized(federation, run_config)
            records.append(_record(POOLED, seed, result))
            advance(f"seed {seed}: {POOLED}")

            # Each federated strategy on the same clients
            for name in strategy_names:
                strategy_config = dataclasses.replace(run_config, strategy=name)
                strategy = strategies.create(name, **strategy_config.to_dict())
                result = train_federated(federation, strategy_config, strategy)
                records.append(_record(name, seed, result))
                advance(f"seed {seed}: {name}")

            # Every hospital alone
            local = train_local_only(federation, run_config)
            records.append(
                RunRecord(
                    method=LOCAL_ONLY,
                    seed=seed,
                    metrics={**local.mean, "best": local.best},
                    per_client=local.per_client.to_dict(orient="records"),
                )
            )
            advance(f"seed {seed}: local-only")
    return records


def _record(method: str, seed: int, result: Any) -> RunRecord:
    """Keep the JSON-ready parts of a :class:`RunResult`."""
    metrics = {k: _plain(v) for k, v in result.metrics.items()}
    history = [
        {k: _plain(v) for k, v in row.items()}
        for row in result.history.to_dict(orient="records")
    ]
    return RunRecord(method=method, seed=seed, metrics=metrics, history=history)


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python numbers for JSON."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[str], None]]:
    """Yield ``advance(description)``, drawing a rich bar when ``enabled``."""
    if not enabled:
        yield lambda description: None
        return
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("comparison", total=total)
        yield lambda description: bar.update(task, advance=1, description=description)


# --- summary ----------------------------------------------------------------


def summarize(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Return mean and sample sd over seeds of each method's final figures.

    Rows, in order: ``pooled``, each strategy, ``local-only mean``,
    ``local-only best``. Columns ``<figure>_mean`` and ``<figure>_sd`` for
    accuracy, balanced accuracy, macro-F1 and the majority baseline, and
    ``n_seeds``. The sd is NaN with a single seed.
    """
    rows: dict[str, list[dict[str, float]]] = {}
    for record in records:
        if record.method == LOCAL_ONLY:
            rows.setdefault(LOCAL_MEAN, []).append(record.metrics)
            rows.setdefault(LOCAL_BEST, []).append(record.metrics["best"])
        else:
            rows.setdefault(record.method, []).append(record.metrics)

    # Pooled first, local-only last, strategies in the order they were run
    order = [m for m in rows if m not in (POOLED, LOCAL_MEAN, LOCAL_BEST)]
    order = [m for m in (POOLED,) if m in rows] + order
    order += [m for m in (LOCAL_MEAN, LOCAL_BEST) if m in rows]
    table = []
    for method in order:
        entry: dict[str, Any] = {"method": method, "n_seeds": len(rows[method])}
        for name in (*SCORES, "majority_baseline"):
            values = np.array([float(m[name]) for m in rows[method]])
            entry[f"{name}_mean"] = float(values.mean())
            entry[f"{name}_sd"] = (
                float(values.std(ddof=1)) if len(values) > 1 else math.nan
            )
        table.append(entry)
    return pd.DataFrame(table).set_index("method")


def markdown_table(summary: pd.DataFrame) -> str:
    """Render :func:`summarize`'s table as Markdown, figures as mean ± sd."""
    names = (*SCORES, "majority_baseline")
    header = "| method | " + " | ".join(SCORE_TITLES[n] for n in names) + " |"
    lines = [header, "|---" * (len(names) + 1) + "|"]
    for method, row in summary.iterrows():
        cells = [_mean_sd(row[f"{n}_mean"], row[f"{n}_sd"]) for n in names]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _mean_sd(mean: float, sd: float) -> str:
    if math.isnan(sd):
        return f"{mean:.4f}"
    return f"{mean:.4f} ± {sd:.4f}"


# --- files ------------------------------------------------------------------


def write_report(
    records: Sequence[RunRecord],
    out_dir: str | Path,
    config: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the comparison files into ``out_dir``, all or nothing.

    Parameters
    ----------
    records : sequence of RunRecord
        What :func:`run_comparison` (or :func:`load_comparison`) returned.
    out_dir : path-like
        Folder; created if needed. Existing files of the same names are
        replaced.
    config : dict, optional
        Shared options (``TrainConfig.to_dict()``), written into
        ``comparison.json`` and the table header.

    Returns
    -------
    dict
        File name -> path of each written file.
    """
    if not records:
        raise DataError("comparison: no run to report")
    summary = summarize(records)
    seeds = sorted({r.seed for r in records})
    out_dir = Path(out_dir)

    # Everything is staged, then moved into out_dir together
    with atomic_directory(out_dir) as staging:
        text = _markdown_document(summary, seeds, config)
        write_text_atomic(staging / "comparison.md", text)
        write_json_atomic(
            staging / "comparison.json",
            {
                "seeds": seeds,
                "config": config,
                "summary": _summary_json(summary),
                "runs": [dataclasses.asdict(r) for r in records],
            },
        )
        plot_rounds(records, staging / "rounds.png")
        plot_clients(records, staging / "clients.png")
    logger.info("comparison written to %s", out_dir)
    return {name: out_dir / name for name in FILES}


def load_comparison(path: str | Path) -> tuple[list[RunRecord], dict | None]:
    """Read the runs and options of an earlier ``comparison.json`` (or its folder).

    Raises
    ------
    DataError
        If the file is missing or is not a comparison written by HRC.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "comparison.json"
    if not path.is_file():
        raise DataError(f"--from_dir: {path} does not exist; run hrc compare first")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        records = [RunRecord(**run) for run in payload["runs"]]
        return records, payload.get("config")
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"--from_dir: {path} is not a comparison.json written by hrc compare "
            f"({error})"
        ) from None


def _markdown_document(
    summary: pd.DataFrame, seeds: Sequence[int], config: dict[str, Any] | None
) -> str:
    """The table with a short header saying what was compared."""
    lines = ["# Pooled vs federated vs local-only", ""]
    if config is not None:
        split = config["split_type"]
        if split == "non_iid":
            split += f" (alpha {config['alpha']})"
        lines.append(
            f"Label `{config['label']}`, split `{split}`, "
            f"{config['no_of_clients']} clients, model `{config['model']}`, "
            f"{config['n_epochs']} epochs/rounds x {config['local_epochs']} local "
            f"epoch(s), batch {config['batch_size']}, lr {config['lr']}, "
            f"optimizer {config['optimizer']}."
        )
    lines.append(
        f"Mean ± sample sd over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}); "
        "every figure is measured on the same held-out donors. "
        "Local-only best is the hospital with the highest held-out accuracy, "
        "chosen on the test set, so it is an optimistic bound."
    )
    return "\n".join(lines) + "\n\n" + markdown_table(summary)


def _summary_json(summary: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for method, row in summary.iterrows():
        entry = {"method": method, "n_seeds": int(row["n_seeds"])}
        for key, value in row.items():
            if key != "n_seeds":
                entry[key] = None if math.isnan(value) else float(value)
        out.append(entry)
    return out


# --- plots ------------------------------------------------------------------


def plot_rounds(records: Sequence[RunRecord], path: str | Path) -> Path:
    """Plot held-out accuracy per round: one line per method, band = ± sd."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(7, 4.5))
    methods = list(dict.fromkeys(r.method for r in records if r.history))
    for index, method in enumerate(methods):
        # Seeds by round: mean line, ± sd band
        frames = [pd.DataFrame(r.history) for r in records if r.method == method]
        table = pd.concat(frames).groupby("round")["accuracy"]
        mean, sd = table.mean(), table.std(ddof=1).fillna(0.0)
        line = axes.plot(
            mean.index,
            mean.values,
            label=method,
            marker=MARKERS[index % len(MARKERS)],
            linestyle=LINESTYLES[index % len(LINESTYLES)],
        )[0]
        axes.fill_between(
            mean.index, mean - sd, mean + sd, color=line.get_color(), alpha=0.2
        )

    # Local-only mean as a flat reference
    local = [r.metrics["accuracy"] for r in records if r.method == LOCAL_ONLY]
    if local:
        axes.axhline(
            float(np.mean(local)), color="grey", linestyle="--", label=LOCAL_MEAN
        )
    n_seeds = len({r.seed for r in records})
    axes.set_title(f"Held-out accuracy per round (mean ± sd over {n_seeds} seeds)")
    axes.set_xlabel("round (epoch for pooled)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("held-out accuracy")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return Path(path)


def plot_clients(records: Sequence[RunRecord], path: str | Path) -> Path:
    """Bar chart of each hospital's local-only model against the shared models.

    Bars: each hospital's local-only model, held-out accuracy (mean over
    seeds, error bar ± sd). Lines: the pooled and federated models' held-out
    accuracy. Everything is measured on the same held-out donors, so bars and
    lines are directly comparable.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(max(8, 0.5 * _n_clients(records) + 6), 4.5))
    rows = [row for r in records if r.method == LOCAL_ONLY for row in r.per_client]
    if rows:
        table = pd.DataFrame(rows).groupby("client", sort=False)
        mean, sd = table["accuracy"].mean(), table["accuracy"].std(ddof=1).fillna(0)
        order = sorted(mean.index, key=_client_order)
        axes.bar(
            order,
            mean[order].values,
            yerr=sd[order].values,
            color="tab:grey",
            alpha=0.7,
            capsize=3,
            label="local-only model of the hospital",
        )

    # One horizontal line per shared model
    shared = list(dict.fromkeys(r.method for r in records if r.method != LOCAL_ONLY))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, method in enumerate(shared):
        value = np.mean([r.metrics["accuracy"] for r in records if r.method == method])
        axes.axhline(
            float(value),
            color=colors[index % len(colors)],
            linestyle=LINESTYLES[index % len(LINESTYLES)],
            linewidth=2,
            label=f"{method}: {value:.3f} (one shared model)",
        )
    axes.set_title("Held-out accuracy: each hospital alone vs shared models")
    axes.set_xlabel("hospital (client)")
    axes.set_ylabel("accuracy on the same held-out donors")
    axes.set_ylim(0, 1.02)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return Path(path)


def _n_clients(records: Sequence[RunRecord]) -> int:
    return max((len(r.per_client) for r in records), default=0)


def _client_order(name: str) -> tuple[int, str]:
    """Sort ``h2`` before ``h10``."""
    digits = "".join(ch for ch in str(name) if ch.isdigit())
    return (int(digits) if digits else 0, str(name))
