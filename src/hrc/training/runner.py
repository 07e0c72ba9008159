"""From a :class:`TrainConfig` to metrics and a model on disk.

:func:`prepare_federation` does the data part shared by every engine: load the
prepared pair, encode the label, cap the dataset, split donors into training
and held-out test sets, deal the training donors to clients (federated) and
fit the preprocessor (on pooled training samples when centralized, from the
clients' summaries when federated, never from pooled samples). :func:`run`
then trains with the chosen engine and writes the outputs.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hrc.config import (
    DEFAULT_EXPRESSIONS,
    DEFAULT_SAMPLES,
    ENGINES,
    SPLIT_TYPES,
    TRAIN_TYPES,
    TrainConfig,
)
from hrc.data.dataset import load_prepared
from hrc.errors import EngineError, choice_error
from hrc.io import file_sha256
from hrc.training.types import ClientData, Federation, RunResult

logger = logging.getLogger(__name__)

Callback = Callable[[int, dict], None]


def check_config(config: TrainConfig) -> None:
    """Reject option values outside their fixed sets before any work is done."""
    if config.train_type not in TRAIN_TYPES:
        raise choice_error("--train_type", config.train_type, TRAIN_TYPES)
    if config.split_type not in SPLIT_TYPES:
        raise choice_error("--split_type", config.split_type, SPLIT_TYPES)
    if config.engine not in ENGINES:
        raise choice_error("--engine", config.engine, ENGINES)


def prepare_federation(config: TrainConfig) -> tuple[Federation, dict[str, Any]]:
    """Load, split and preprocess the data of a run.

    Parameters
    ----------
    config : TrainConfig
        Data, label, split and preprocessing options.

    Returns
    -------
    federation : Federation
        One client (``"pooled"``) for centralized training, or one client per
        hospital (``"h1"``, ``"h2"``, ...) for federated training, plus the
        held-out donors' samples.
    info : dict
        ``classes``, ``client_lines`` (the 2020-style partition description),
        ``preprocessor`` (fitted state), ``data_sha256``, ``n_donors_train``
        and ``n_donors_test``, ``generated_data`` and ``preprocess_seconds``.

    Raises
    ------
    UsageError
        For a bad option value (split type, client count, split size, label).
    DataError
        For a missing or unusable data file.
    """
    from hrc.data import schema
    from hrc.data.synth import ensure_default_data
    from hrc.preprocess import Preprocessor, encode_labels, read_custom_genes, summarize
    from hrc.splits import (
        cap_dataset,
        describe_partitions,
        partition,
        train_test_split_by_donor,
    )

    check_config(config)
    started = time.perf_counter()
    info: dict[str, Any] = {"generated_data": False}

    # The default paths hold the synthetic cohort, generated on first use.
    samples_path, expressions_path = (
        Path(config.samples_path),
        Path(config.expressions_path),
    )
    if samples_path == DEFAULT_SAMPLES and expressions_path == DEFAULT_EXPRESSIONS:
        info["generated_data"] = ensure_default_data(samples_path, expressions_path)
    data = load_prepared(samples_path, expressions_path)
    samples, expression = data.samples, data.expression

    # Labels, then the capped, labelled rows split into donor sets.
    labels, classes = encode_labels(samples, config.label)
    rows = cap_dataset(samples, labels, config.dataset_size, config.seed)
    train_rows, test_rows = train_test_split_by_donor(
        samples, labels, config.split_size, config.seed, indices=rows
    )
    info["n_donors_train"] = int(samples[schema.DONOR].iloc[train_rows].nunique())
    info["n_donors_test"] = int(samples[schema.DONOR].iloc[test_rows].nunique())

    # Clients: the pooled training rows, or the split across hospitals.
    if config.train_type == "centralized":
        parts, names = [train_rows], ["pooled"]
        info["client_lines"] = []
    else:
        parts = partition(
            config.split_type,
            samples,
            labels,
            train_rows,
            config.no_of_clients,
            config.seed,
            classes=classes,
            alpha=config.alpha,
            column=config.site_column,
        )
        names = [f"h{i + 1}" for i in range(len(parts))]
        info["client_lines"] = describe_partitions(parts, labels, classes)

    # Preprocessor: pooled fit when centralized, client summaries when federated.
    custom = (
        read_custom_genes(config.custom_gene_path) if config.custom_gene_path else None
    )
    preprocessor = Preprocessor(
        n_genes=config.n_genes,
        min_expressed_fraction=config.min_expressed_fraction,
        custom_gene_ids=custom,
        covariates=config.covariates,
    )
    if config.train_type == "centralized":
        preprocessor.fit(
            expression[train_rows], data.gene_ids, samples.iloc[train_rows]
        )
    else:
        summaries = [
            summarize(expression[p], samples.iloc[p], config.covariates) for p in parts
        ]
        preprocessor.fit_summaries(summaries, data.gene_ids)

    # Model inputs for every client and for the held-out donors.
    def features_of(part: np.ndarray) -> torch.Tensor:
        matrix = preprocessor.transform(expression[part], samples.iloc[part])
        return torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))

    clients = [
        ClientData(name, features_of(part), torch.from_numpy(labels[part].copy()))
        for name, part in zip(names, parts, strict=True)
    ]
    federation = Federation(
        clients=clients,
        test_features=features_of(test_rows),
        test_labels=torch.from_numpy(labels[test_rows].copy()),
        classes=list(classes),
        feature_names=list(preprocessor.feature_names),
    )
    info.update(
        classes=list(classes),
        preprocessor=preprocessor.to_dict(),
        data_sha256={
            "samples": file_sha256(samples_path),
            "expressions": file_sha256(expressions_path),
        },
        preprocess_seconds=time.perf_counter() - started,
    )
    return federation, info


def train(
    federation: Federation, config: TrainConfig, on_round: Callback | None = None
) -> RunResult:
    """Train on a prepared federation with the engine of ``config.engine``.

    ``"inprocess"`` runs here (centralized or the batched federated engine);
    ``"nvflare"`` and ``"docker"`` call ``hrc.engines.<name>.run(config,
    federation)``.

    Raises
    ------
    EngineError
        If the engine's module cannot be imported.
    """
    from hrc.training.centralized import train_centralized
    from hrc.training.federated import train_federated

    if config.train_type == "centralized":
        if config.engine != "inprocess":
            logger.warning(
                "--engine %s applies to federated training; centralized "
                "training runs in this process",
                config.engine,
            )
        return train_centralized(federation, config, on_epoch=on_round)
    if config.engine == "inprocess":
        return train_federated(
            federation, config, on_round=on_round, client_eval=config.client_eval
        )

    # Node engines live in their own modules, written against the same types.
    try:
        engine = importlib.import_module(f"hrc.engines.{config.engine}")
    except ImportError as exc:
        raise EngineError(
            f"--engine {config.engine}: not available ({exc}); accepted here: inprocess"
        ) from exc
    return engine.run(config, federation)


def run(
    config: TrainConfig,
    on_round: Callback | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> RunResult:
    """Run a whole training: data, training, outputs.

    Parameters
    ----------
    config : TrainConfig
        Every option of the run.
    on_round : callable, optional
        Called as ``on_round(round, row)`` after every epoch or round.
    on_stage : callable, optional
        Called with each line of the 2020-style report: the stage headers
        (data preprocessing, training, saving metrics) and one line per
        client describing its partition. Defaults to the logger.

    Returns
    -------
    RunResult
        The trainer's result; ``info["outputs"]`` lists the files written.
    """
    from hrc.training.outputs import write_outputs

    started = time.perf_counter()
    stage = on_stage or (lambda message: logger.info("%s", message))

    stage("Data preprocessing...")
    federation, info = prepare_federation(config)
    for line in info["client_lines"]:
        stage(line)

    fashion = "centralized" if config.train_type == "centralized" else "federated"
    stage(f"Training in a {fashion} fashion...")
    result = train(federation, config, on_round=on_round)
    result.info = {**info, **result.info}

    stage("Saving metrics...")
    result.metrics["train_seconds"] = result.metrics.get("runtime_seconds")
    result.metrics["preprocess_seconds"] = info["preprocess_seconds"]
    result.metrics["runtime_seconds"] = time.perf_counter() - started
    result.info["outputs"] = [str(p) for p in write_outputs(config, result)]
    return result
