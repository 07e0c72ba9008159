"""Non-IID partition: label skew from a Dirichlet draw per class."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hrc.errors import UsageError
from hrc.splits._donors import check_clients, finish, group_donors

logger = logging.getLogger(__name__)


def non_iid(
    samples: pd.DataFrame,
    labels: np.ndarray,
    indices: np.ndarray,
    n_clients: int,
    seed: int,
    alpha: float = 0.5,
    min_partition_size: int = 10,
    max_redraws: int = 10,
) -> list[np.ndarray]:
    """Label skew: each class spread over clients by a Dirichlet draw.

    Each donor counts for its majority class. For every class, client shares
    ``p ~ Dirichlet(alpha, ..., alpha)`` are drawn and the class's donors, in
    seeded random order, are cut at the cumulative shares of its samples
    (Hsu et al., 2019). Small ``alpha`` gives clients few classes; large
    ``alpha`` approaches IID. When a client ends with fewer than
    ``min_partition_size`` samples the shares are drawn again, at most
    ``max_redraws`` times, the safeguard Flower's ``DirichletPartitioner``
    also applies.

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
        Seed of the draws.
    alpha : float
        Dirichlet concentration (``--alpha``), above 0.
    min_partition_size : int
        Fewest samples a client may hold.
    max_redraws : int
        Draws tried after the first before giving up.

    Returns
    -------
    list of numpy.ndarray
        Sorted int64 row indices of each client.

    References
    ----------
    Hsu, T.-M. H., Qi, H., Brown, M. (2019). Measuring the effects of
    non-identical data distribution for federated visual classification.
    arXiv:1909.06335.
    """
    if not float(alpha) > 0:
        raise UsageError(f"--alpha: {alpha} is not above 0; give e.g. 0.5")
    donors = group_donors(samples, labels, indices)
    check_clients(n_clients, len(donors))
    majority = donors.majority
    sizes = donors.sizes
    rng = np.random.default_rng(seed)

    # Draw until every client holds enough samples, or give up.
    for attempt in range(max_redraws + 1):
        assignment = np.empty(len(donors), dtype=np.int64)
        for code in range(len(donors.classes)):
            members = rng.permutation(np.flatnonzero(majority == code))
            shares = rng.dirichlet(np.full(n_clients, float(alpha)))
            assignment[members] = _cut(sizes[members], shares)
        held = np.bincount(assignment, weights=sizes, minlength=n_clients)
        if held.min() >= min_partition_size:
            logger.debug("non_iid split: accepted draw %s", attempt + 1)
            return finish(donors, assignment, n_clients)
    raise UsageError(
        f"--alpha: {alpha} left a client with fewer than {min_partition_size} "
        f"samples in {max_redraws + 1} draws; raise --alpha or lower "
        "--no_of_clients"
    )


def _cut(donor_sizes: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Client of each donor: where its middle sample falls in the cumulative shares."""
    if donor_sizes.size == 0:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(donor_sizes)
    middle = (ends - donor_sizes / 2) / ends[-1]
    bounds = np.cumsum(shares)[:-1]
    return np.searchsorted(bounds, middle, side="right").astype(np.int64)
