"""Site partition: one client per value of a sample column (a hospital)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hrc.data import schema
from hrc.errors import UsageError
from hrc.splits._donors import check_clients, finish, group_donors

logger = logging.getLogger(__name__)

MISSING_VALUE = "unknown"


def site(
    samples: pd.DataFrame,
    labels: np.ndarray,
    indices: np.ndarray,
    n_clients: int,
    seed: int,
    column: str = schema.SITE,
) -> list[np.ndarray]:
    """Natural partition: the values of ``column`` are the hospitals.

    Each donor belongs to the value holding most of its samples (ties to the
    first value in sorted order). With more values than clients, values are
    merged: largest first, each onto the client holding fewest samples so
    far. Samples with no value count as the value ``"unknown"``. No random
    draw is involved; ``seed`` is accepted for a uniform signature.

    Parameters
    ----------
    samples : pandas.DataFrame
        Samples table with a ``Donor`` column and ``column``.
    labels : numpy.ndarray
        Class of every row.
    indices : numpy.ndarray
        Training rows to partition.
    n_clients : int
        Number of clients; at most the number of distinct values.
    seed : int
        Unused.
    column : str
        Sample column naming the site (``--site_column``): ``Site`` for the
        collection site, or ``Tissue``.

    Returns
    -------
    list of numpy.ndarray
        Sorted int64 row indices of each client.
    """
    if column not in samples.columns:
        raise UsageError(
            f"--site_column: {column!r} is not a column of the samples table; "
            f"accepted: {', '.join(map(str, samples.columns))}"
        )
    donors = group_donors(samples, labels, indices)
    check_clients(n_clients, len(donors))

    # Each donor's value: the one most of its samples carry.
    values = samples[column].astype("string").fillna(MISSING_VALUE).to_numpy()
    names = np.unique(values[np.concatenate(donors.members)])
    if names.tolist() == [MISSING_VALUE]:
        raise UsageError(
            f"--site_column: column {column!r} holds no value for the training "
            "samples; pick another column, e.g. Tissue"
        )
    per_donor = np.zeros((len(donors), len(names)), dtype=np.int64)
    for d, rows in enumerate(donors.members):
        per_donor[d] = [(values[rows] == name).sum() for name in names]
    value_of = np.argmax(per_donor, axis=1)
    if MISSING_VALUE in names[value_of]:
        logger.warning(
            "site split: %s donors have no %s and form the client '%s'",
            int((names[value_of] == MISSING_VALUE).sum()),
            column,
            MISSING_VALUE,
        )

    # Values actually holding donors; too few is an error.
    used = np.unique(value_of)
    if n_clients > used.size:
        raise UsageError(
            f"--no_of_clients: {n_clients} exceeds the {used.size} values of "
            f"column {column!r}; lower --no_of_clients or pick another --site_column"
        )

    # Merge values: largest first onto the client holding fewest samples.
    value_sizes = np.bincount(value_of, weights=donors.sizes, minlength=len(names))
    order = used[np.lexsort((used, -value_sizes[used]))]
    held = np.zeros(n_clients, dtype=np.float64)
    client_of_value = np.empty(len(names), dtype=np.int64)
    groups: list[list[str]] = [[] for _ in range(n_clients)]
    for v in order:
        client = int(np.argmin(held))
        held[client] += value_sizes[v]
        client_of_value[v] = client
        groups[client].append(str(names[v]))
    for client, group in enumerate(groups):
        logger.info("site split: client h%s holds %s", client + 1, ", ".join(group))
    return finish(donors, client_of_value[value_of], n_clients)
