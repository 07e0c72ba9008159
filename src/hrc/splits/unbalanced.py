"""Unbalanced partition: client sizes skewed by a log-normal draw."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hrc.errors import UsageError
from hrc.splits._donors import check_clients, finish, group_donors

logger = logging.getLogger(__name__)


def unbalanced(
    samples: pd.DataFrame,
    labels: np.ndarray,
    indices: np.ndarray,
    n_clients: int,
    seed: int,
    sigma: float = 1.0,
    min_samples: int = 10,
) -> list[np.ndarray]:
    """Quantity skew: client sizes follow a log-normal draw.

    Each client's target size is ``min_samples`` plus its share of the rest,
    in proportion to a weight drawn from ``LogNormal(0, sigma)``, the
    quantity-skew setting of Li et al. (2022). Donors, largest first in a
    seeded random order, go to the client furthest below its target.

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
        Seed of the size draw and the donor order.
    sigma : float
        Spread of the log-normal weights; 0 gives equal targets.
    min_samples : int
        Smallest target size; lowered, with a warning, when the training
        samples cannot give every client that many.

    Returns
    -------
    list of numpy.ndarray
        Sorted int64 row indices of each client.

    References
    ----------
    Li, Q., Diao, Y., Chen, Q., He, B. (2022). Federated learning on non-IID
    data silos: an experimental study. ICDE 2022.
    """
    if float(sigma) < 0:
        raise UsageError(f"sigma: {sigma} is negative; give a spread of 0 or more")
    donors = group_donors(samples, labels, indices)
    check_clients(n_clients, len(donors))
    n_samples = int(donors.sizes.sum())
    if min_samples * n_clients > n_samples:
        lowered = n_samples // n_clients
        logger.warning(
            "unbalanced split: %s clients of at least %s samples need %s samples, "
            "only %s available; minimum lowered to %s",
            n_clients,
            min_samples,
            min_samples * n_clients,
            n_samples,
            lowered,
        )
        min_samples = lowered

    # Target sizes: the minimum plus a log-normal share of the rest.
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(mean=0.0, sigma=sigma, size=n_clients)
    target = (
        min_samples + (n_samples - min_samples * n_clients) * weights / weights.sum()
    )

    # Largest donors first, each to the client furthest below its target.
    order = rng.permutation(len(donors))
    order = order[np.argsort(-donors.sizes[order], kind="stable")]
    held = np.zeros(n_clients, dtype=np.float64)
    n_donors = np.zeros(n_clients, dtype=np.int64)
    assignment = np.empty(len(donors), dtype=np.int64)
    for d in order:
        # A client still without a donor comes first, so none stays empty.
        deficit = np.where(n_donors == 0, target + n_samples, target - held)
        client = int(np.argmax(deficit))
        held[client] += donors.sizes[d]
        n_donors[client] += 1
        assignment[d] = client
    logger.info(
        "unbalanced split: target sizes %s",
        ", ".join(str(int(round(t))) for t in target),
    )
    return finish(donors, assignment, n_clients)
