"""Cap the dataset and hold out test donors, keeping label proportions.

Both functions move whole donors where they can, so no donor's samples end up
on both sides of a train/test split.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hrc.errors import UsageError
from hrc.splits._donors import all_rows, group_donors

logger = logging.getLogger(__name__)


def cap_dataset(
    samples: pd.DataFrame,
    labels: np.ndarray,
    dataset_size: int | None,
    seed: int,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """Draw at most ``dataset_size`` samples, stratified by label.

    Each class keeps its share of the samples (largest remainders decide the
    rounding). Whole donors are drawn first, in a seeded random order, as long
    as all their samples fit the class quotas; the quotas left are then filled
    with single samples of the remaining donors.

    Parameters
    ----------
    samples : pandas.DataFrame
        Samples table.
    labels : numpy.ndarray
        Class of every row; negative values mark a missing label and those rows
        are never drawn.
    dataset_size : int or None
        Cap on the number of samples (``--dataset_size``). ``None``, or a cap
        at or above the number of labelled samples, keeps them all.
    seed : int
        Seed of the random donor order.
    indices : numpy.ndarray, optional
        Rows to draw from; all rows by default.

    Returns
    -------
    numpy.ndarray
        Sorted int64 row indices.
    """
    rows = all_rows(samples, indices)
    rows = rows[np.asarray(labels)[rows] >= 0]
    if dataset_size is None:
        return rows
    if int(dataset_size) < 1:
        raise UsageError(
            f"--dataset_size: {dataset_size} is below 1; give a positive number of "
            "samples or leave it unset to use all"
        )
    if dataset_size >= rows.size:
        return rows
    donors = group_donors(samples, labels, rows)

    # Quota per class: its share of dataset_size, largest remainders round up.
    class_totals = donors.counts.sum(axis=0)
    exact = class_totals * dataset_size / class_totals.sum()
    quota = np.floor(exact).astype(np.int64)
    short = dataset_size - quota.sum()
    quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1

    # Whole donors first, in random order, while they fit the quotas.
    order = np.random.default_rng(seed).permutation(len(donors))
    taken: list[np.ndarray] = []
    partial: list[int] = []
    for d in order:
        if np.all(donors.counts[d] <= quota):
            quota -= donors.counts[d]
            taken.append(donors.members[d])
        else:
            partial.append(d)

    # Fill what is left with single samples, donor by donor.
    for d in partial:
        for row in donors.members[d]:
            code = np.searchsorted(donors.classes, labels[row])
            if quota[code] > 0:
                quota[code] -= 1
                taken.append(np.array([row]))
    chosen = np.sort(np.concatenate(taken)).astype(np.int64)
    logger.info(
        "--dataset_size %s: %s of %s samples", dataset_size, chosen.size, rows.size
    )
    return chosen


def train_test_split_by_donor(
    samples: pd.DataFrame,
    labels: np.ndarray,
    train_fraction: float,
    seed: int,
    indices: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split donors into training and test sets, stratified by label.

    ``round(train_fraction * n_donors)`` donors go to training (at least one
    on each side). Donors are taken largest first (ties in a seeded random
    order) and each goes to the side that keeps every class's share of
    training samples, and the share of training donors, closest to
    ``train_fraction``: the greedy rule of scikit-learn's
    ``StratifiedGroupKFold`` applied to two unequal folds, with the donor count
    as one more class so the donor fraction is met without a lopsided tail.

    Parameters
    ----------
    samples : pandas.DataFrame
        Samples table with a ``Donor`` column.
    labels : numpy.ndarray
        Class of every row.
    train_fraction : float
        Share of donors used for training (``--split_size``), in (0, 1).
    seed : int
        Seed of the random donor order.
    indices : numpy.ndarray, optional
        Rows to split; all rows by default.

    Returns
    -------
    train, test : numpy.ndarray
        Sorted int64 row indices; no donor appears in both.
    """
    if not 0.0 < float(train_fraction) < 1.0:
        raise UsageError(
            f"--split_size: {train_fraction} is outside (0, 1); give the training "
            "fraction of donors, e.g. 0.8"
        )
    rows = all_rows(samples, indices)
    donors = group_donors(samples, labels, rows)
    if len(donors) < 2:
        raise UsageError(
            f"--split_size: {len(donors)} donor cannot be split into training and "
            "test donors; the data need at least 2 donors"
        )
    n_train = min(max(round(train_fraction * len(donors)), 1), len(donors) - 1)
    n_test = len(donors) - n_train

    # Random order, then the largest donors first; small ones fine-tune.
    order = np.random.default_rng(seed).permutation(len(donors))
    order = order[np.argsort(-donors.sizes[order], kind="stable")]

    # Greedy: each donor to the side that keeps class shares most even. The
    # donor count is one more "class", so both sides fill at the same pace.
    counts = np.column_stack([donors.counts, np.ones(len(donors))])
    totals = counts.sum(axis=0)
    target = np.array([train_fraction, 1.0 - train_fraction])
    side_counts = np.zeros((2, counts.shape[1]))
    side_donors = np.zeros(2, dtype=np.int64)
    side_of = np.zeros(len(donors), dtype=np.int64)
    for d in order:
        side = _pick_side(counts[d], side_counts, totals, target)
        if side_donors[0] == n_train:
            side = 1
        elif side_donors[1] == n_test:
            side = 0
        side_counts[side] += counts[d]
        side_donors[side] += 1
        side_of[d] = side

    train = donors.rows(np.flatnonzero(side_of == 0))
    test = donors.rows(np.flatnonzero(side_of == 1))
    logger.info(
        "train/test split: %s donors (%s samples) / %s donors (%s samples)",
        n_train,
        train.size,
        n_test,
        test.size,
    )
    return train, test


def _pick_side(
    donor_counts: np.ndarray,
    side_counts: np.ndarray,
    class_totals: np.ndarray,
    target: np.ndarray,
) -> int:
    """Side (0 train, 1 test) whose choice leaves class shares most even.

    For each class the share of its samples on a side, divided by the side's
    target share, should be 1; the cost is the mean over classes of the spread
    of that ratio across the two sides. Ties go to the side furthest below
    its target sample count.
    """
    costs = []
    for side in (0, 1):
        trial = side_counts.copy()
        trial[side] += donor_counts
        ratio = trial / class_totals[None, :] / target[:, None]
        costs.append(float(ratio.std(axis=0).mean()))
    if np.isclose(costs[0], costs[1]):
        filled = side_counts.sum(axis=1) / (target * class_totals.sum())
        return int(np.argmin(filled))
    return int(np.argmin(costs))
