"""Training options, defined once for ``src/initializer.py`` and ``hrc train``.

:func:`train_options` adds every option to a Click command and
:func:`config_from_options` turns the parsed values into a
:class:`~hrc.config.TrainConfig`. The options of the 2020 tool keep their
names, spellings (``--no_of_clients``) and meanings; ``--swarm`` and
``--no_cuda`` still take ``yes``/``no``/``true``/``false``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import click

from hrc import strategies
from hrc.config import ENGINES, MODELS, SPLIT_TYPES, TRAIN_TYPES, TrainConfig
from hrc.data.schema import LABELS

_DEFAULTS = TrainConfig()


class YesNo(click.ParamType):
    """A boolean written as yes/no/true/false (case-insensitive), as in 2020."""

    name = "yes|no"
    _VALUES = {"yes": True, "true": True, "no": False, "false": False}

    def convert(self, value: Any, param: Any, ctx: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in self._VALUES:
            self.fail(f"{value!r} is not one of yes, no, true, false.", param, ctx)
        return self._VALUES[text]


class IntList(click.ParamType):
    """Comma-separated positive widths such as ``256,128,64`` (empty for none)."""

    name = "widths"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        parts = [p.strip() for p in str(value).split(",") if p.strip()]
        try:
            widths = tuple(int(p) for p in parts)
        except ValueError:
            self.fail(
                f"{value!r} is not a list of widths such as 256,128,64.", param, ctx
            )
        if any(w < 1 for w in widths):
            self.fail(f"{value!r} holds a width below 1.", param, ctx)
        return widths


def _csv(value: str | tuple) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return value
    return tuple(p.strip() for p in str(value).split(",") if p.strip())


# (flags, keyword arguments of click.option), in --help order.
_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    # Data
    (
        ("--samples_path",),
        dict(
            type=click.Path(path_type=Path),
            default=_DEFAULTS.samples_path,
            show_default=True,
            help="Prepared samples table (parquet); generated at the default path.",
        ),
    ),
    (
        ("--expressions_path",),
        dict(
            type=click.Path(path_type=Path),
            default=_DEFAULTS.expressions_path,
            show_default=True,
            help="Prepared expression table (parquet).",
        ),
    ),
    (
        ("--label",),
        dict(
            type=click.Choice(list(LABELS)),
            default=_DEFAULTS.label,
            show_default=True,
            help="What to predict.",
        ),
    ),
    (
        ("--dataset_size",),
        dict(
            type=int,
            default=None,
            help="Use at most this many samples (stratified by label); all by default.",
        ),
    ),
    (
        ("--n_genes",),
        dict(
            type=int,
            default=_DEFAULTS.n_genes,
            show_default=True,
            help="Genes kept, by variance of log2(TPM+1).",
        ),
    ),
    (
        ("--custom_gene_path",),
        dict(
            type=click.Path(path_type=Path),
            default=None,
            help="CSV with an 'ids' column: genes used instead of the top variance.",
        ),
    ),
    # Splits
    (
        ("--train_type",),
        dict(
            type=click.Choice(TRAIN_TYPES),
            default=_DEFAULTS.train_type,
            show_default=True,
            help="Pooled or federated training.",
        ),
    ),
    (
        ("--split_type",),
        dict(
            type=click.Choice(SPLIT_TYPES),
            default=_DEFAULTS.split_type,
            show_default=True,
            help="How training donors are dealt to clients.",
        ),
    ),
    (
        ("--split_size",),
        dict(
            type=float,
            default=_DEFAULTS.split_size,
            show_default=True,
            help="Training fraction of donors, in (0, 1).",
        ),
    ),
    (
        ("--no_of_clients",),
        dict(
            type=int,
            default=_DEFAULTS.no_of_clients,
            show_default=True,
            help="Number of clients (hospitals).",
        ),
    ),
    (
        ("--alpha",),
        dict(
            type=float,
            default=_DEFAULTS.alpha,
            show_default=True,
            help="Dirichlet concentration of the non_iid split.",
        ),
    ),
    # Model and optimisation
    (
        ("--model",),
        dict(
            type=click.Choice(MODELS),
            default=_DEFAULTS.model,
            show_default=True,
            help="Perceptron or logistic regression.",
        ),
    ),
    (
        ("--hidden",),
        dict(
            type=IntList(),
            default="256,128,64",
            show_default=True,
            help="Hidden layer widths of the MLP.",
        ),
    ),
    (
        ("--dropout",),
        dict(
            type=float,
            default=_DEFAULTS.dropout,
            show_default=True,
            help="Dropout after each hidden layer.",
        ),
    ),
    (
        ("--n_epochs",),
        dict(
            type=int,
            default=_DEFAULTS.n_epochs,
            show_default=True,
            help="Epochs (centralized) or rounds (federated).",
        ),
    ),
    (
        ("--local_epochs",),
        dict(
            type=int,
            default=_DEFAULTS.local_epochs,
            show_default=True,
            help="Local epochs per round.",
        ),
    ),
    (
        ("--batch_size",),
        dict(
            type=int,
            default=_DEFAULTS.batch_size,
            show_default=True,
            help="Mini-batch size.",
        ),
    ),
    (
        ("--lr",),
        dict(
            type=float, default=_DEFAULTS.lr, show_default=True, help="Learning rate."
        ),
    ),
    (
        ("--optimizer",),
        dict(
            type=click.Choice(["adam", "sgd"]),
            default=_DEFAULTS.optimizer,
            show_default=True,
            help="Local optimizer.",
        ),
    ),
    (
        ("--seed",),
        dict(
            type=int,
            default=_DEFAULTS.seed,
            show_default=True,
            help="Seed of every random choice.",
        ),
    ),
    (
        ("--no_cuda",),
        dict(
            type=YesNo(),
            default="true",
            show_default=True,
            help="Stay on the CPU; 'false' uses CUDA when present.",
        ),
    ),
    # Federation
    (
        ("--strategy",),
        dict(
            type=click.Choice(strategies.available()),
            default=_DEFAULTS.strategy,
            show_default=True,
            help="Federated strategy.",
        ),
    ),
    (
        ("--client_eval",),
        dict(
            type=click.Choice(["every", "last"]),
            default=_DEFAULTS.client_eval,
            show_default=True,
            help="Rounds after which the global model is scored on each "
            "client's own data (per-client metrics).",
        ),
    ),
    (
        ("--mu",),
        dict(
            type=float,
            default=_DEFAULTS.mu,
            show_default=True,
            help="FedProx proximal weight.",
        ),
    ),
    (
        ("--fraction_fit",),
        dict(
            type=float,
            default=_DEFAULTS.fraction_fit,
            show_default=True,
            help="Share of clients trained each round.",
        ),
    ),
    (
        ("--min_clients",),
        dict(
            type=int,
            default=_DEFAULTS.min_clients,
            show_default=True,
            help="Fewest clients trained each round.",
        ),
    ),
    (
        ("--eta",),
        dict(
            type=float,
            default=_DEFAULTS.eta,
            show_default=True,
            help="Server learning rate (FedAdam, FedYogi, FedAdagrad).",
        ),
    ),
    (
        ("--beta1",),
        dict(
            type=float,
            default=_DEFAULTS.beta1,
            show_default=True,
            help="Server first-moment decay.",
        ),
    ),
    (
        ("--beta2",),
        dict(
            type=float,
            default=_DEFAULTS.beta2,
            show_default=True,
            help="Server second-moment decay.",
        ),
    ),
    (
        ("--tau",),
        dict(
            type=float,
            default=_DEFAULTS.tau,
            show_default=True,
            help="Server adaptivity (epsilon).",
        ),
    ),
    (
        ("--engine",),
        dict(
            type=click.Choice(ENGINES),
            default=_DEFAULTS.engine,
            show_default=True,
            help="Where federated training runs.",
        ),
    ),
    # Nodes (2020 options kept)
    (
        ("--swarm",),
        dict(
            type=YesNo(),
            default="no",
            show_default=True,
            help="Run clients as node processes.",
        ),
    ),
    (
        ("--tags",),
        dict(
            type=str,
            default=",".join(_DEFAULTS.tags),
            show_default=True,
            help="Comma-separated dataset tags.",
        ),
    ),
    (
        ("--node_start_port",),
        dict(
            type=int,
            default=_DEFAULTS.node_start_port,
            show_default=True,
            help="Port of the first node.",
        ),
    ),
    (
        ("--grid_address",),
        dict(
            type=str,
            default=_DEFAULTS.grid_address,
            show_default=True,
            help="Address of the network.",
        ),
    ),
    (
        ("--grid_port",),
        dict(
            type=int,
            default=_DEFAULTS.grid_port,
            show_default=True,
            help="Port of the network.",
        ),
    ),
    (
        ("--workspace",),
        dict(
            type=click.Path(path_type=Path),
            default=None,
            help="Working folder of node engines.",
        ),
    ),
    (
        ("--resume",),
        dict(
            is_flag=True, default=False, help="Resume an interrupted node-engine run."
        ),
    ),
    # Outputs
    (
        ("--metrics_path",),
        dict(
            type=click.Path(path_type=Path),
            default=_DEFAULTS.metrics_path,
            show_default=True,
            help="Folder of the metrics files.",
        ),
    ),
    (
        ("--model_save_path",),
        dict(
            type=click.Path(path_type=Path),
            default=_DEFAULTS.model_save_path,
            show_default=True,
            help="Folder of the model and its configuration.",
        ),
    ),
    (
        ("--metrics_file_name",),
        dict(
            type=str,
            default=None,
            help="Stem of the metrics files; default '<train_type>_metrics'.",
        ),
    ),
    (
        ("--progress/--no-progress",),
        dict(default=True, show_default=True, help="Show a progress bar."),
    ),
]


def train_options(
    func: Callable | None = None, *, exclude: Collection[str] = ()
) -> Callable:
    """Add every training option to a Click command.

    Parameters
    ----------
    func : callable, optional
        The command function; omit it to use ``@train_options(exclude=...)``.
    exclude : collection of str
        First flags of options to leave out, e.g. ``{"--engine"}``.
    """
    if func is None:
        return functools.partial(train_options, exclude=exclude)
    for flags, kwargs in reversed(_OPTIONS):
        if flags[0] not in exclude:
            func = click.option(*flags, **kwargs)(func)
    return func


def config_from_options(**options: Any) -> TrainConfig:
    """Build the run configuration from parsed option values."""
    options = dict(options)
    options["tags"] = _csv(options.get("tags", ""))
    options["hidden"] = tuple(options.get("hidden", _DEFAULTS.hidden))
    known = set(TrainConfig.__dataclass_fields__)
    extra = {k: v for k, v in options.items() if k not in known}
    config = TrainConfig(**{k: v for k, v in options.items() if k in known})
    config.extra.update(extra)
    return config
