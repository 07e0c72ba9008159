"""Donor-safe data splits: dataset cap, train/test hold-out, client partitions.

Every function takes positional row indices into the samples table and
returns sorted int64 row indices. A donor's samples always stay together, on
one side of the train/test split and inside one client, and results do not
depend on the row order of the samples table.

Partitioners share one signature (:class:`Partitioner`) and are listed in
:data:`PARTITIONERS`; :func:`partition` dispatches on the ``--split_type``
name and adds the warnings every split deserves.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from hrc.errors import choice_error
from hrc.splits.balanced import balanced
from hrc.splits.holdout import cap_dataset, train_test_split_by_donor
from hrc.splits.iid import iid
from hrc.splits.non_iid import non_iid
from hrc.splits.site import site
from hrc.splits.unbalanced import unbalanced

logger = logging.getLogger(__name__)

__all__ = [
    "PARTITIONERS",
    "Partitioner",
    "cap_dataset",
    "client_names",
    "describe_partitions",
    "partition",
    "train_test_split_by_donor",
]


class Partitioner(Protocol):
    """A way of dealing training donors to clients (hospitals)."""

    def __call__(
        self,
        samples: pd.DataFrame,
        labels: np.ndarray,
        indices: np.ndarray,
        n_clients: int,
        seed: int,
        **options: Any,
    ) -> list[np.ndarray]: ...


PARTITIONERS: dict[str, Partitioner] = {
    "iid": iid,
    "balanced": balanced,
    "unbalanced": unbalanced,
    "non_iid": non_iid,
    "site": site,
}


def partition(
    split_type: str,
    samples: pd.DataFrame,
    labels: np.ndarray,
    indices: np.ndarray,
    n_clients: int,
    seed: int,
    classes: Sequence[str] | None = None,
    **options: Any,
) -> list[np.ndarray]:
    """Partition the training rows ``indices`` into ``n_clients`` clients.

    Parameters
    ----------
    split_type : str
        A key of :data:`PARTITIONERS` (``--split_type``).
    samples : pandas.DataFrame
        Samples table with a ``Donor`` column.
    labels : numpy.ndarray
        Class index of every row of ``samples``.
    indices : numpy.ndarray
        Training rows to partition.
    n_clients : int
        Number of clients (``--no_of_clients``).
    seed : int
        Seed of every random draw.
    classes : sequence of str, optional
        Class names, used only in warnings.
    **options
        Options of the chosen partitioner (``alpha``, ``column``, ``sigma``,
        ...). Options it does not take are ignored, so a caller may pass the
        options of every split type at once.

    Returns
    -------
    list of numpy.ndarray
        Sorted int64 row indices of each client; client ``k`` is ``h{k+1}``.

    Raises
    ------
    UsageError
        Unknown split type, fewer than 1 or more clients than training donors,
        a client left without a sample, or an option value out of range.
    """
    if split_type not in PARTITIONERS:
        raise choice_error("--split_type", split_type, list(PARTITIONERS))
    partitioner = PARTITIONERS[split_type]

    # Keep the options this partitioner takes.
    accepted = inspect.signature(partitioner).parameters
    kept = {k: v for k, v in options.items() if k in accepted and v is not None}
    ignored = sorted(set(options) - set(kept))
    if ignored:
        logger.debug("%s split ignores options %s", split_type, ", ".join(ignored))
    partitions = partitioner(samples, labels, indices, n_clients, seed, **kept)

    # Warnings for legal but degenerate settings.
    if n_clients == 1:
        logger.warning(
            "--no_of_clients 1: a federation of one client is centralized training"
        )
    _warn_absent_classes(partitions, labels, classes)
    logger.info(
        "%s split: %s clients, %s samples",
        split_type,
        n_clients,
        sum(p.size for p in partitions),
    )
    return partitions


def client_names(n_clients: int) -> list[str]:
    """Client names in partition order: ``h1``, ``h2``, ..."""
    return [f"h{k + 1}" for k in range(n_clients)]


def describe_partitions(
    partitions: Sequence[np.ndarray],
    labels: np.ndarray,
    classes: Sequence[str],
) -> list[str]:
    """One line per client in the 2020 layout.

    Example: ``client_h1: 8499 ; Label Count: {'20-29': 100, '30-39': 98}``;
    every class is listed, in class order, zeros included.

    Parameters
    ----------
    partitions : sequence of numpy.ndarray
        Row indices of each client.
    labels : numpy.ndarray
        Class index of every row.
    classes : sequence of str
        Class names; label ``k`` is ``classes[k]``.
    """
    labels = np.asarray(labels)
    lines = []
    for name, rows in zip(client_names(len(partitions)), partitions, strict=True):
        counts = np.bincount(labels[rows][labels[rows] >= 0], minlength=len(classes))
        label_count = {str(c): int(n) for c, n in zip(classes, counts, strict=False)}
        lines.append(f"client_{name}: {len(rows)} ; Label Count: {label_count}")
    return lines


def _warn_absent_classes(
    partitions: Sequence[np.ndarray],
    labels: np.ndarray,
    classes: Sequence[str] | None,
) -> None:
    """Warn about classes of the data that no client holds."""
    labels = np.asarray(labels)
    known = np.unique(labels[labels >= 0])
    held = np.unique(np.concatenate([labels[p] for p in partitions]))
    for code in np.setdiff1d(known, held):
        name = (
            classes[code] if classes is not None and 0 <= code < len(classes) else code
        )
        logger.warning("class %s has no training sample on any client", name)
