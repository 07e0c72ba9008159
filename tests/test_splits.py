"""Donor-safe splits: dataset cap, train/test hold-out and the partitioners,
checked against counts worked out by hand on a 12-donor table."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from hrc.errors import UsageError
from hrc.splits import (
    PARTITIONERS,
    cap_dataset,
    describe_partitions,
    partition,
    train_test_split_by_donor,
)

CLASSES = ["A", "B"]


def tiny_table() -> tuple[pd.DataFrame, np.ndarray]:
    """12 donors, 30 samples.

    D01-D06 hold 2 samples of class A (12 samples), D07-D12 hold 3 samples of
    class B (18 samples). Site: D01-D04 'S1' (8 samples), D05-D08 'S2'
    (2 + 2 + 3 + 3 = 10), D09-D12 'S3' (12).
    """
    rows = []
    for d in range(1, 13):
        label, n = (0, 2) if d <= 6 else (1, 3)
        site = "S1" if d <= 4 else "S2" if d <= 8 else "S3"
        for s in range(n):
            name = f"GTEX-D{d:02d}-{s:04d}"
            rows.append((name, f"GTEX-D{d:02d}", site, label))
    samples = pd.DataFrame(rows, columns=["Name", "Donor", "Site", "label"])
    return samples.drop(columns="label"), samples["label"].to_numpy(np.int64)


def names_of(samples, partitions):
    return [frozenset(samples["Name"].to_numpy()[p]) for p in partitions]


def donors_of(samples, rows):
    return set(samples["Donor"].to_numpy()[rows])


def class_counts(labels, partitions):
    return [np.bincount(labels[p], minlength=2).tolist() for p in partitions]


ALL = np.arange(30)
OPTIONS = {"min_partition_size": 1, "column": "Site"}


# Dataset cap ---------------------------------------------------------------


def test_cap_draws_whole_donors_in_label_proportion():
    samples, labels = tiny_table()
    # 15 of 30: quotas A 6 (3 donors of 2), B 9 (3 donors of 3).
    chosen = cap_dataset(samples, labels, 15, seed=3)
    assert np.bincount(labels[chosen]).tolist() == [6, 9]
    for donor in donors_of(samples, chosen):
        assert (samples["Donor"].to_numpy()[chosen] == donor).sum() == (
            samples["Donor"] == donor
        ).sum()


def test_cap_fills_quotas_with_single_samples_when_donors_do_not_fit():
    samples, labels = tiny_table()
    # 7 of 30: A 2.8 -> 3 (largest remainder), B 4.2 -> 4. One A donor (2) and
    # one B donor (3) fit whole; one more sample of each class fills the rest.
    chosen = cap_dataset(samples, labels, 7, seed=0)
    assert np.bincount(labels[chosen]).tolist() == [3, 4]
    per_donor = sorted(pd.Series(samples["Donor"].to_numpy()[chosen]).value_counts())
    assert per_donor == [1, 1, 2, 3]


def test_cap_none_or_large_keeps_all_labelled_rows():
    samples, labels = tiny_table()
    labels = labels.copy()
    labels[0] = -1
    assert cap_dataset(samples, labels, None, seed=0).tolist() == list(range(1, 30))
    assert cap_dataset(samples, labels, 500, seed=0).size == 29


def test_cap_below_one_is_a_usage_error():
    samples, labels = tiny_table()
    with pytest.raises(UsageError) as info:
        cap_dataset(samples, labels, 0, seed=0)
    assert str(info.value) == (
        "--dataset_size: 0 is below 1; give a positive number of samples or leave "
        "it unset to use all"
    )


# Train/test split -----------------------------------------------------------


def test_train_test_split_keeps_donors_whole_and_labels_stratified():
    samples, labels = tiny_table()
    train, test = train_test_split_by_donor(samples, labels, 0.5, seed=7)
    assert not donors_of(samples, train) & donors_of(samples, test)
    assert len(donors_of(samples, train)) == 6
    # 3 of the 6 A donors and 3 of the 6 B donors on each side.
    assert np.bincount(labels[train]).tolist() == [6, 9]
    assert np.bincount(labels[test]).tolist() == [6, 9]


def test_train_test_split_donor_fraction():
    samples, labels = tiny_table()
    train, test = train_test_split_by_donor(samples, labels, 0.75, seed=1)
    assert (len(donors_of(samples, train)), len(donors_of(samples, test))) == (9, 3)
    assert np.union1d(train, test).tolist() == list(range(30))


def test_train_test_split_keeps_class_shares_with_uneven_donors():
    # 200 donors of 1 to 39 samples, one of 6 classes each.
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 40, size=200)
    donor = np.repeat([f"GTEX-{d:04d}" for d in range(200)], sizes)
    labels = np.repeat(rng.integers(0, 6, size=200), sizes)
    names = [f"{d}-{k:04d}" for k, d in enumerate(donor)]
    samples = pd.DataFrame({"Name": names, "Donor": donor})
    train, _ = train_test_split_by_donor(samples, labels, 0.8, seed=3)
    assert len(donors_of(samples, train)) == 160
    share = np.bincount(labels[train]) / np.bincount(labels)
    assert share.min() > 0.77 and share.max() < 0.83


@pytest.mark.parametrize("value", [1.5, 0.0, 1.0, -0.2])
def test_split_size_outside_unit_interval(value):
    samples, labels = tiny_table()
    with pytest.raises(UsageError) as info:
        train_test_split_by_donor(samples, labels, value, seed=0)
    assert str(info.value) == (
        f"--split_size: {value} is outside (0, 1); give the training fraction of "
        "donors, e.g. 0.8"
    )


# Partitioners: hand-worked counts ------------------------------------------


def test_iid_gives_equal_donor_counts():
    samples, labels = tiny_table()
    parts = partition("iid", samples, labels, ALL, 3, seed=0)
    assert [len(donors_of(samples, p)) for p in parts] == [4, 4, 4]
    parts = partition("iid", samples, labels, ALL, 5, seed=0)
    assert [len(donors_of(samples, p)) for p in parts] == [3, 3, 2, 2, 2]


def test_balanced_gives_each_client_an_even_share_of_each_class():
    samples, labels = tiny_table()
    for seed in range(5):
        parts = partition("balanced", samples, labels, ALL, 2, seed=seed)
        assert class_counts(labels, parts) == [[6, 9], [6, 9]]


def test_balanced_warns_about_a_class_too_rare(caplog):
    samples, labels = tiny_table()
    labels = labels.copy()
    labels[:2] = 1  # D01 becomes class B: class A keeps 5 donors, 10 samples
    with caplog.at_level(logging.WARNING, logger="hrc.splits"):
        partition("balanced", samples, labels, ALL, 6, seed=0)
    assert (
        "class 0 has 10 samples from 5 donors, too few for an even share over "
        "6 clients" in caplog.text
    )


def test_unbalanced_with_no_spread_fills_equal_targets():
    samples, labels = tiny_table()
    # sigma 0: targets 10, 10, 10; two B donors and two A donors each.
    parts = partition("unbalanced", samples, labels, ALL, 3, seed=0, sigma=0.0)
    assert [p.size for p in parts] == [10, 10, 10]
    assert class_counts(labels, parts) == [[4, 6]] * 3


def test_unbalanced_skews_sizes_above_the_minimum():
    samples, labels = tiny_table()
    parts = partition(
        "unbalanced", samples, labels, ALL, 3, seed=4, sigma=2.0, min_samples=3
    )
    sizes = sorted(p.size for p in parts)
    assert sum(sizes) == 30 and sizes[0] >= 3 and sizes[0] < sizes[-1]


def test_non_iid_large_alpha_halves_each_class():
    samples, labels = tiny_table()
    # Shares near 1/2: each class's first 3 donors (by draw order) per client.
    parts = partition("non_iid", samples, labels, ALL, 2, seed=0, alpha=1e6)
    assert class_counts(labels, parts) == [[6, 9], [6, 9]]


def test_non_iid_small_alpha_gives_each_client_one_class():
    samples, labels = tiny_table()
    parts = partition(
        "non_iid", samples, labels, ALL, 2, seed=0, alpha=1e-3, min_partition_size=1
    )
    assert sorted(map(sorted, class_counts(labels, parts))) == [[0, 12], [0, 18]]


def test_non_iid_gives_up_after_bounded_redraws():
    samples, labels = tiny_table()
    with pytest.raises(UsageError) as info:
        partition(
            "non_iid", samples, labels, ALL, 2, seed=0, alpha=0.5, min_partition_size=20
        )
    assert str(info.value) == (
        "--alpha: 0.5 left a client with fewer than 20 samples in 11 draws; raise "
        "--alpha or lower --no_of_clients"
    )


def test_site_one_client_per_value_largest_first():
    samples, labels = tiny_table()
    parts = partition("site", samples, labels, ALL, 3, seed=0, column="Site")
    assert [p.size for p in parts] == [12, 10, 8]
    assert [set(samples["Site"].to_numpy()[p]) for p in parts] == [
        {"S3"},
        {"S2"},
        {"S1"},
    ]


def test_site_merges_values_onto_the_smallest_client():
    samples, labels = tiny_table()
    # S3 (12) -> h1, S2 (10) -> h2, S1 (8) -> h2 (10 < 12).
    parts = partition("site", samples, labels, ALL, 2, seed=0, column="Site")
    assert [p.size for p in parts] == [12, 18]


def test_site_donor_spanning_values_follows_its_majority():
    samples, labels = tiny_table()
    samples.loc[samples["Name"] == "GTEX-D09-0000", "Site"] = "S1"
    parts = partition("site", samples, labels, ALL, 3, seed=0, column="Site")
    assert "GTEX-D09" in donors_of(samples, parts[0])  # with S3, two of three


def test_site_more_clients_than_values():
    samples, labels = tiny_table()
    with pytest.raises(UsageError) as info:
        partition("site", samples, labels, ALL, 4, seed=0, column="Site")
    assert str(info.value) == (
        "--no_of_clients: 4 exceeds the 3 values of column 'Site'; lower "
        "--no_of_clients or pick another --site_column"
    )


# Properties shared by every partitioner -------------------------------------


@pytest.mark.parametrize("split_type", sorted(PARTITIONERS))
def test_partition_keeps_donors_whole_and_covers_every_row(split_type):
    samples, labels = tiny_table()
    parts = partition(split_type, samples, labels, ALL, 3, seed=2, **OPTIONS)
    assert np.concatenate(parts).size == 30
    assert np.union1d(np.concatenate(parts), []).tolist() == list(range(30))
    donor_sets = [donors_of(samples, p) for p in parts]
    assert sum(len(s) for s in donor_sets) == 12
    for p in parts:
        assert p.dtype == np.int64 and np.all(np.diff(p) > 0)


@pytest.mark.parametrize("split_type", sorted(PARTITIONERS))
def test_partition_does_not_depend_on_row_order(split_type):
    samples, labels = tiny_table()
    order = np.random.default_rng(11).permutation(30)
    shuffled, shuffled_labels = (
        samples.iloc[order].reset_index(drop=True),
        labels[order],
    )
    first = partition(split_type, samples, labels, ALL, 3, seed=5, **OPTIONS)
    second = partition(split_type, shuffled, shuffled_labels, ALL, 3, seed=5, **OPTIONS)
    assert names_of(samples, first) == names_of(shuffled, second)


def test_holdout_and_cap_do_not_depend_on_row_order():
    samples, labels = tiny_table()
    order = np.random.default_rng(12).permutation(30)
    shuffled, shuffled_labels = (
        samples.iloc[order].reset_index(drop=True),
        labels[order],
    )
    assert names_of(samples, train_test_split_by_donor(samples, labels, 0.6, 9)) == (
        names_of(shuffled, train_test_split_by_donor(shuffled, shuffled_labels, 0.6, 9))
    )
    assert names_of(samples, [cap_dataset(samples, labels, 11, 9)]) == names_of(
        shuffled, [cap_dataset(shuffled, shuffled_labels, 11, 9)]
    )


def test_partition_only_uses_the_given_rows():
    samples, labels = tiny_table()
    train, _ = train_test_split_by_donor(samples, labels, 0.5, seed=0)
    parts = partition("iid", samples, labels, train, 2, seed=0)
    assert np.concatenate(parts).tolist() != []
    assert set(np.concatenate(parts)) == set(train)


# Checks and warnings ---------------------------------------------------------


def test_unknown_split_type():
    samples, labels = tiny_table()
    with pytest.raises(UsageError) as info:
        partition("random", samples, labels, ALL, 2, seed=0)
    assert str(info.value) == (
        "--split_type: unknown value 'random'; accepted: iid, balanced, "
        "unbalanced, non_iid, site"
    )


def test_more_clients_than_training_donors():
    samples, labels = tiny_table()
    with pytest.raises(UsageError) as info:
        partition("iid", samples, labels, ALL, 13, seed=0)
    assert str(info.value) == (
        "--no_of_clients: 13 exceeds the 12 training donors; a donor is never "
        "split across clients, so lower --no_of_clients or raise --split_size"
    )


def test_fewer_than_one_client():
    samples, labels = tiny_table()
    with pytest.raises(UsageError) as info:
        partition("balanced", samples, labels, ALL, 0, seed=0)
    assert str(info.value) == "--no_of_clients: 0 is below 1; give at least one client"


def test_single_client_and_absent_class_warn(caplog):
    samples, labels = tiny_table()
    labels = labels.copy()
    labels[-3:] = 2  # class C only on D12, left out of training
    with caplog.at_level(logging.WARNING, logger="hrc.splits"):
        parts = partition(
            "iid", samples, labels, np.arange(27), 1, seed=0, classes=["A", "B", "C"]
        )
    assert [p.size for p in parts] == [27]
    assert "a federation of one client is centralized training" in caplog.text
    assert "class C has no training sample on any client" in caplog.text


def test_describe_partitions_2020_lines():
    labels = np.array([0, 1, 1, 0, 1])
    lines = describe_partitions(
        [np.array([0, 1, 2]), np.array([3, 4])], labels, ["20-29", "30-39"]
    )
    assert lines == [
        "client_h1: 3 ; Label Count: {'20-29': 1, '30-39': 2}",
        "client_h2: 2 ; Label Count: {'20-29': 1, '30-39': 1}",
    ]


@pytest.mark.parametrize("split_type", ["iid", "balanced", "unbalanced", "non_iid"])
def test_partition_changes_with_the_seed(split_type):
    samples, labels = tiny_table()
    draws = {
        tuple(
            names_of(
                samples, partition(split_type, samples, labels, ALL, 3, s, **OPTIONS)
            )
        )
        for s in range(6)
    }
    assert len(draws) > 1
