"""IID partition: donors dealt uniformly at random to the clients."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hrc.splits._donors import check_clients, finish, group_donors


def iid(
    samples: pd.DataFrame,
    labels: np.ndarray,
    indices: np.ndarray,
    n_clients: int,
    seed: int,
) -> list[np.ndarray]:
    """Deal donors to clients in a seeded random order.

    Every client receives the same number of donors, give or take one, so
    sample counts and label mixes differ only by chance.

    Parameters
    ----------
    samples : pandas.DataFrame
        Samples table with a ``Donor`` column.
    labels : numpy.ndarray
        Class of every row.
    indices : numpy.ndarray
        Training rows to partition.
    n_clients : int
        Number of clients (hospitals).
    seed : int
        Seed of the random donor order.

    Returns
    -------
    list of numpy.ndarray
        Sorted int64 row indices of each client.
    """
    donors = group_donors(samples, labels, indices)
    check_clients(n_clients, len(donors))

    # Shuffle the donors and cut the order into n_clients near-equal runs.
    order = np.random.default_rng(seed).permutation(len(donors))
    assignment = np.empty(len(donors), dtype=np.int64)
    for client, run in enumerate(np.array_split(order, n_clients)):
        assignment[run] = client
    return finish(donors, assignment, n_clients)
