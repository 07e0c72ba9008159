"""Across hospitals: fit the shared preprocessor without seeing any sample.

Three steps, each on the machine that may run it:

1. each hospital summarises its own prepared pair (:func:`summarize_node`):
   per-gene sample counts, sums and sums of squares of ``log2(TPM + 1)`` and
   the label's class counts, written as JSON (:func:`write_summary`);
2. the researcher adds the summaries up, fits the preprocessor on them, takes
   the union of the classes and writes the plan: ``preprocessor.json`` and the
   training job (:func:`write_plan`);
3. each hospital turns its own data into the training shard of the plan
   (:func:`write_node_shard`) and registers it with ``hrc node dataset add``.

A summary holds aggregates only: no sample id, no value of a single sample.
The fitted preprocessor equals the one ``hrc train`` fits from the same
clients' summaries (:meth:`hrc.preprocess.Preprocessor.fit_summaries`), so the
shards hold the features and labels of a local federated run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hrc.config import TrainConfig
from hrc.data import schema
from hrc.errors import DataError, UsageError
from hrc.io import write_json_atomic
from hrc.preprocess import (
    DEFAULT_EXPRESSION_THRESHOLD,
    GeneSummary,
    Preprocessor,
    encode_labels,
    summarize,
)

logger = logging.getLogger(__name__)

SUMMARY_FORMAT = "hrc-node-summary/1"
PLAN_FORMAT = "hrc-plan/1"
PREPROCESSOR_FILE = "preprocessor.json"
JOB_FOLDER = "job"


@dataclass
class NodeSummary:
    """One hospital's summary, as read back from its JSON file.

    Attributes
    ----------
    node : str
        The node's name (the summary file's stem, e.g. ``h1``).
    label : str
        The label the class counts are of.
    gene_ids : list of str
        Ids of the genes summarised, in the data's column order.
    genes : GeneSummary
        Per-gene sums and counts, and covariate category counts.
    class_counts : dict
        Class name -> number of labelled samples.
    covariates : list of str
        Covariates whose category counts are recorded.
    expression_threshold : float
        TPM above which a gene counted as expressed.
    """

    node: str
    label: str
    gene_ids: list[str]
    genes: GeneSummary
    class_counts: dict[str, int]
    covariates: list[str]
    expression_threshold: float


def label_values(samples: pd.DataFrame, label: str) -> np.ndarray:
    """Return each sample's label as text, ``""`` where it is missing.

    Values are written as :func:`hrc.preprocess.encode_labels` writes its
    class names (Hardy scale values as integers, ``"3"`` not ``"3.0"``).

    Raises
    ------
    DataError
        If the samples table has no column for the label.
    """
    column = schema.label_column(label)
    if column not in samples.columns:
        raise DataError(f"--label {label}: the samples table has no {column!r} column")
    raw = samples[column]
    if label == "death":
        raw = pd.to_numeric(raw, errors="coerce").round().astype("Int64")
    return raw.astype("string").fillna("").to_numpy(dtype=object)


def summarize_node(
    samples_path: str | Path,
    expressions_path: str | Path,
    label: str,
    covariates: Sequence[str] = (),
) -> dict[str, Any]:
    """Summarise a hospital's labelled samples for the shared preprocessor.

    Parameters
    ----------
    samples_path, expressions_path : path-like
        The hospital's prepared pair.
    label : str
        What the federation will predict; samples without it are left out.
    covariates : sequence of str
        Any of ``"tissue"``, ``"sex"``; their category counts are recorded.

    Returns
    -------
    dict
        JSON-able summary: gene ids, per-gene ``expressed`` counts, ``total``
        and ``total_sq`` of ``log2(TPM + 1)`` (float64), covariate category
        counts and the label's class counts. Nothing per sample.

    Raises
    ------
    DataError
        If a file is missing or unreadable, or no sample has the label.
    """
    from hrc.data.dataset import load_prepared

    data = load_prepared(samples_path, expressions_path)
    values = label_values(data.samples, label)

    # Only the labelled samples: those a shard of this node will hold.
    rows = np.flatnonzero(values != "")
    if rows.size == 0:
        raise DataError(f"--label {label}: no sample of {samples_path} has a label")
    genes = summarize(data.expression[rows], data.samples.iloc[rows], covariates)
    classes, counts = np.unique(values[rows].astype(str), return_counts=True)
    logger.info(
        "summarised %s samples (%s without a %s label left out), %s genes",
        rows.size,
        data.n_samples - rows.size,
        label,
        data.n_genes,
    )
    return {
        "format": SUMMARY_FORMAT,
        "label": label,
        "covariates": list(genes.categories),
        "expression_threshold": DEFAULT_EXPRESSION_THRESHOLD,
        "n_samples": int(genes.n_samples),
        "class_counts": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
        "categories": genes.categories,
        "gene_ids": list(data.gene_ids),
        "expressed": [int(v) for v in genes.expressed],
        "total": [float(v) for v in genes.total],
        "total_sq": [float(v) for v in genes.total_sq],
    }


def write_summary(summary: dict[str, Any], path: str | Path) -> Path:
    """Write a summary as JSON (floats round-trip exactly), atomically."""
    path = Path(path)
    write_json_atomic(path, summary)
    return path


def read_summary(path: str | Path) -> NodeSummary:
    """Read a summary written by :func:`write_summary`.

    Raises
    ------
    DataError
        If the file is missing, not JSON or not an HRC node summary.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--summary: file not found: {path}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("format") != SUMMARY_FORMAT:
            raise ValueError(f"format is {payload.get('format')!r}")
        genes = GeneSummary(
            n_samples=int(payload["n_samples"]),
            expressed=np.asarray(payload["expressed"], dtype=np.int64),
            total=np.asarray(payload["total"], dtype=np.float64),
            total_sq=np.asarray(payload["total_sq"], dtype=np.float64),
            categories=dict(payload.get("categories", {})),
        )
        return NodeSummary(
            node=path.stem,
            label=str(payload["label"]),
            gene_ids=[str(g) for g in payload["gene_ids"]],
            genes=genes,
            class_counts={str(k): int(v) for k, v in payload["class_counts"].items()},
            covariates=list(payload.get("covariates", [])),
            expression_threshold=float(payload["expression_threshold"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            f"--summary: {path} is not a summary of 'hrc node summarize': {exc}"
        ) from None


def fit_plan(summaries: Sequence[NodeSummary], config: TrainConfig) -> dict[str, Any]:
    """Fit the shared preprocessor on the hospitals' summaries.

    Parameters
    ----------
    summaries : sequence of NodeSummary
        One per hospital, all of the same genes, label and covariates.
    config : TrainConfig
        ``label``, ``n_genes``, ``custom_gene_path`` and
        ``min_expressed_fraction`` are used.

    Returns
    -------
    dict
        The plan: ``label``, ``classes`` (sorted as
        :func:`hrc.preprocess.encode_labels` sorts them), ``nodes`` and
        ``preprocessor`` (:meth:`Preprocessor.to_dict`).

    Raises
    ------
    UsageError
        If a summary is of another label, or two summaries share a node name.
    DataError
        If the summaries differ in genes or covariates.
    """
    from hrc.preprocess import read_custom_genes

    if not summaries:
        raise UsageError("--summary: no summary given; give one per hospital")
    first = summaries[0]
    _check_consistent(summaries, config.label)

    # Classes: the union of every hospital's, in encode_labels' order.
    found = sorted({name for s in summaries for name in s.class_counts})
    column = schema.label_column(config.label)
    _, classes = encode_labels(pd.DataFrame({column: found}), config.label)

    # The preprocessor, fitted on the added-up summaries.
    custom = (
        read_custom_genes(config.custom_gene_path) if config.custom_gene_path else None
    )
    preprocessor = Preprocessor(
        n_genes=config.n_genes,
        min_expressed_fraction=config.min_expressed_fraction,
        expression_threshold=first.expression_threshold,
        custom_gene_ids=custom,
        covariates=first.covariates,
    )
    preprocessor.fit_summaries([s.genes for s in summaries], first.gene_ids)
    return {
        "format": PLAN_FORMAT,
        "label": config.label,
        "classes": list(classes),
        "nodes": [s.node for s in summaries],
        "preprocessor": preprocessor.to_dict(),
    }


def write_plan(
    summary_paths: Sequence[str | Path], config: TrainConfig, out: str | Path
) -> tuple[Path, Path]:
    """Write ``out/preprocessor.json`` and the training job ``out/job``.

    Parameters
    ----------
    summary_paths : sequence of path-like
        The hospitals' summaries, each named after its node (``h1.json``).
    config : TrainConfig
        Training options of the job and preprocessing options.
    out : path-like
        The plan folder.

    Returns
    -------
    tuple of Path
        The preprocessor file and the job folder to submit.

    Raises
    ------
    UsageError
        For a strategy the network does not run, or inconsistent summaries.
    """
    from hrc.engines.docker.steps import write_job_for
    from hrc.engines.nvflare import engine as flare
    from hrc.nodes.tags import parse_tags

    # Checks first: the strategy, the tags, the summaries.
    if config.strategy in flare.UNSUPPORTED_STRATEGIES:
        raise UsageError(
            f"--strategy: {config.strategy!r} is not available across hospitals; "
            "use fedavg, fedprox, fedadam, fedyogi or fedadagrad"
        )
    tags = parse_tags(config.tags)
    plan = fit_plan([read_summary(path) for path in summary_paths], config)

    # The plan the hospitals apply, then the job the researcher submits.
    out = Path(out)
    n_features = len(plan["preprocessor"]["feature_names"])
    job_dir, *_ = write_job_for(
        config, out / JOB_FOLDER, tags, n_features, len(plan["classes"]),
        plan["nodes"],
    )  # fmt: skip
    preprocessor_path = write_json_atomic(out / PREPROCESSOR_FILE, plan)
    logger.info(
        "plan for nodes %s: %s features, classes %s; job in %s",
        ", ".join(plan["nodes"]),
        n_features,
        ", ".join(plan["classes"]),
        job_dir,
    )
    return preprocessor_path, job_dir


def read_plan(path: str | Path) -> dict[str, Any]:
    """Read ``preprocessor.json`` written by :func:`write_plan`.

    Raises
    ------
    DataError
        If the file is missing or not an HRC plan.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--plan: file not found: {path}")
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"--plan: cannot read {path} as JSON: {exc}") from None
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise DataError(
            f"--plan: {path} is not a plan of 'hrc deploy plan' "
            f"(give its {PREPROCESSOR_FILE})"
        )
    return plan


def node_shard(
    samples_path: str | Path, expressions_path: str | Path, plan: dict[str, Any]
):
    """Apply the plan to a hospital's prepared pair.

    Returns
    -------
    features : torch.Tensor
        ``(n_samples, n_features)`` float32 model inputs.
    labels : torch.Tensor
        ``(n_samples,)`` int64 indices into the plan's classes.
    n_dropped : int
        Samples left out: no label, or a class the plan does not hold.
    """
    import torch

    from hrc.data.dataset import load_prepared

    data = load_prepared(samples_path, expressions_path)
    preprocessor = Preprocessor.from_dict(plan["preprocessor"])

    # Labels as the plan's class indices; other samples are dropped.
    code = {name: index for index, name in enumerate(plan["classes"])}
    values = label_values(data.samples, plan["label"])
    labels = np.array([code.get(v, -1) for v in values], dtype=np.int64)
    rows = np.flatnonzero(labels >= 0)
    n_dropped = int(data.n_samples - rows.size)
    if n_dropped:
        logger.warning(
            "%s of %s samples dropped: no %s label, or a class not in the plan",
            n_dropped,
            data.n_samples,
            plan["label"],
        )

    # Features: the plan's genes looked up by id, scaled as fitted.
    matrix = preprocessor.transform(
        data.expression[rows], data.samples.iloc[rows], gene_ids=data.gene_ids
    )
    features = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
    return features, torch.from_numpy(labels[rows].copy()), n_dropped


def write_node_shard(
    samples_path: str | Path,
    expressions_path: str | Path,
    plan_path: str | Path,
    out: str | Path,
) -> dict[str, Any]:
    """Write a hospital's training shard from the plan; return what it holds."""
    from hrc.nodes.registry import write_shard

    plan = read_plan(plan_path)
    features, labels, n_dropped = node_shard(samples_path, expressions_path, plan)
    if labels.numel() == 0:
        raise DataError(
            f"--plan: no sample of {samples_path} has one of the plan's classes "
            f"({', '.join(plan['classes'])})"
        )
    path = write_shard(out, features, labels)
    counts = np.bincount(labels.numpy(), minlength=len(plan["classes"]))
    return {
        "shard": str(path),
        "n_samples": int(labels.numel()),
        "n_features": int(features.shape[1]),
        "n_dropped": n_dropped,
        "class_counts": dict(zip(plan["classes"], map(int, counts), strict=True)),
    }


def _check_consistent(summaries: Sequence[NodeSummary], label: str) -> None:
    """Every summary of ``label``, of the same genes and covariates, named apart."""
    first = summaries[0]
    seen: set[str] = set()
    for summary in summaries:
        if summary.label != label:
            raise UsageError(
                f"--label: the summary of {summary.node} counts classes of "
                f"{summary.label!r}, not {label!r}; summarise again with "
                f"--label {label} or plan with --label {summary.label}"
            )
        if summary.gene_ids != first.gene_ids:
            raise DataError(
                f"--summary: {summary.node} summarises {len(summary.gene_ids)} "
                f"genes that differ from the {len(first.gene_ids)} of "
                f"{first.node}; every hospital must prepare the same gene set"
            )
        if summary.covariates != first.covariates:
            raise DataError(
                f"--summary: {summary.node} records covariates "
                f"{summary.covariates}, {first.node} {first.covariates}; "
                "summarise every hospital with the same --covariates"
            )
        if summary.node in seen:
            raise UsageError(
                f"--summary: two summaries are named {summary.node!r}; name each "
                "file after its node (h1.json, h2.json)"
            )
        seen.add(summary.node)
