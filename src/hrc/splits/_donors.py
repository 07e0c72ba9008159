"""Donor groups and the checks every partitioner shares.

Samples of one donor are correlated (same genome, same death), so every split
in HRC moves whole donors. Donors are always listed sorted by id and a donor's
samples sorted by sample name before any random draw, which makes every split
independent of the row order of the samples table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hrc.data import schema
from hrc.errors import DataError, UsageError


@dataclass
class Donors:
    """The donors behind a set of rows.

    Attributes
    ----------
    ids : numpy.ndarray
        Donor ids, sorted.
    members : list of numpy.ndarray
        Positional row indices of each donor's samples, ordered by sample name.
    counts : numpy.ndarray
        ``(n_donors, n_classes)`` int64 samples per donor and class.
    classes : numpy.ndarray
        Label values of the columns of ``counts``, sorted.
    """

    ids: np.ndarray
    members: list[np.ndarray]
    counts: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def sizes(self) -> np.ndarray:
        """Samples per donor."""
        return self.counts.sum(axis=1)

    @property
    def majority(self) -> np.ndarray:
        """Column of ``counts`` holding most of each donor's samples.

        Ties go to the first class in sorted order.
        """
        return np.argmax(self.counts, axis=1)

    def rows(self, donor_positions: np.ndarray | list[int]) -> np.ndarray:
        """Sorted row indices of the given donors (positions into ``ids``)."""
        chosen = [self.members[d] for d in donor_positions]
        if not chosen:
            return np.empty(0, dtype=np.int64)
        return np.sort(np.concatenate(chosen)).astype(np.int64)


def all_rows(samples: pd.DataFrame, indices: np.ndarray | None) -> np.ndarray:
    """``indices`` as a sorted int64 array, or every row when ``None``."""
    if indices is None:
        return np.arange(len(samples), dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= len(samples)):
        raise DataError(
            f"row indices must lie in [0, {len(samples)}) for a samples table of "
            f"{len(samples)} rows"
        )
    return np.unique(indices)


def group_donors(
    samples: pd.DataFrame, labels: np.ndarray, indices: np.ndarray
) -> Donors:
    """Group the rows ``indices`` by donor.

    Parameters
    ----------
    samples : pandas.DataFrame
        Samples table with a ``Donor`` column (or ``Name`` to derive it).
    labels : numpy.ndarray
        Class of every row of ``samples``.
    indices : numpy.ndarray
        Positional rows to group.
    """
    indices = np.asarray(indices, dtype=np.int64)
    labels = np.asarray(labels)
    if len(labels) != len(samples):
        raise DataError(
            f"labels has {len(labels)} entries for {len(samples)} sample rows"
        )
    donors = _donor_column(samples).to_numpy()[indices]
    names = _name_column(samples).to_numpy()[indices]

    # Sort rows by (donor, sample name): donors come out sorted by id.
    order = np.lexsort((names, donors))
    rows, donors = indices[order], donors[order]
    ids, starts = np.unique(donors, return_index=True)
    members = np.split(rows, starts[1:]) if len(rows) else []

    # Samples per donor and class.
    classes, codes = np.unique(labels[rows], return_inverse=True)
    counts = np.zeros((len(ids), len(classes)), dtype=np.int64)
    donor_of_row = np.repeat(np.arange(len(ids)), np.diff(np.append(starts, len(rows))))
    np.add.at(counts, (donor_of_row, codes.ravel()), 1)
    return Donors(ids, members, counts, classes)


def check_clients(n_clients: int, n_donors: int) -> None:
    """Reject a client count below 1 or above the number of training donors."""
    if int(n_clients) < 1:
        raise UsageError(
            f"--no_of_clients: {n_clients} is below 1; give at least one client"
        )
    if n_clients > n_donors:
        raise UsageError(
            f"--no_of_clients: {n_clients} exceeds the {n_donors} training donors; "
            "a donor is never split across clients, so lower --no_of_clients or "
            "raise --split_size"
        )


def finish(donors: Donors, assignment: np.ndarray, n_clients: int) -> list[np.ndarray]:
    """Turn a donor -> client assignment into sorted row arrays per client.

    Raises
    ------
    UsageError
        If a client is left with no sample.
    """
    partitions = [
        donors.rows(np.flatnonzero(assignment == client)) for client in range(n_clients)
    ]
    for client, rows in enumerate(partitions):
        if rows.size == 0:
            raise UsageError(
                f"--no_of_clients: client h{client + 1} of {n_clients} received no "
                "sample; lower --no_of_clients or change the split options"
            )
    return partitions


def shuffled_donors(n_donors: int, rng: np.random.Generator) -> np.ndarray:
    """A random order of donor positions (donors are already sorted by id)."""
    return rng.permutation(n_donors)


def _donor_column(samples: pd.DataFrame) -> pd.Series:
    """Donor id of every row, from ``Donor`` or derived from ``Name``."""
    if schema.DONOR in samples.columns:
        return samples[schema.DONOR].astype(str)
    if schema.NAME in samples.columns:
        return samples[schema.NAME].map(schema.donor_of)
    raise DataError(
        f"samples table has neither a {schema.DONOR!r} nor a {schema.NAME!r} column"
    )


def _name_column(samples: pd.DataFrame) -> pd.Series:
    """Sample name of every row; used only to order a donor's samples."""
    if schema.NAME in samples.columns:
        return samples[schema.NAME].astype(str)
    return _donor_column(samples)
