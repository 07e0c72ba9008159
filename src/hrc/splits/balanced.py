"""Balanced partition: every client gets an even share of every class."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hrc.splits._donors import check_clients, finish, group_donors

logger = logging.getLogger(__name__)


def balanced(
    samples: pd.DataFrame,
    labels: np.ndarray,
    indices: np.ndarray,
    n_clients: int,
    seed: int,
) -> list[np.ndarray]:
    """Give each client about ``1 / n_clients`` of the samples of each class.

    Donors are taken in a seeded random order, largest first, and each goes to
    the client whose class counts it brings closest to the even share (least
    squares; ties go to the client with fewest samples, then the first). No
    sample is duplicated, so a class with fewer donors than clients cannot
    reach every client: a warning names it.

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

    # Classes too rare to reach every client.
    holders = (donors.counts > 0).sum(axis=0)
    for code in np.flatnonzero(holders < n_clients):
        logger.warning(
            "balanced split: class %s has %s samples from %s donors, too few for "
            "an even share over %s clients",
            donors.classes[code],
            int(donors.counts[:, code].sum()),
            int(holders[code]),
            n_clients,
        )

    # Random order, then largest donors first (they are the hardest to place).
    order = np.random.default_rng(seed).permutation(len(donors))
    order = order[np.argsort(-donors.sizes[order], kind="stable")]

    # Greedy least squares against the even share of each class.
    share = donors.counts.sum(axis=0) / n_clients
    held = np.zeros((n_clients, donors.counts.shape[1]), dtype=np.float64)
    assignment = np.empty(len(donors), dtype=np.int64)
    for d in order:
        bring = donors.counts[d]
        growth = (bring * (2 * (held - share) + bring)).sum(axis=1)
        client = np.lexsort((np.arange(n_clients), held.sum(axis=1), growth))[0]
        held[client] += bring
        assignment[d] = client
    return finish(donors, assignment, n_clients)
