"""Strategies checked against aggregates worked out by hand.

Every test uses a model of two tensors, ``a`` of shape (2,) and ``b`` of shape
(1,), and two or three clients, so each expected number can be followed on
paper in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hrc import strategies
from hrc.config import TrainConfig
from hrc.errors import UsageError
from hrc.strategies.base import ClientUpdate


def _params(a: list[float], b: list[float]) -> list[torch.Tensor]:
    return [torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)]


def _update(ids, clients, n_samples, n_steps=None) -> ClientUpdate:
    """Stack per-client ``(a, b)`` lists into a ClientUpdate."""
    stacked = [
        torch.stack([torch.tensor(c[k], dtype=torch.float64) for c in clients])
        for k in range(2)
    ]
    steps = n_steps if n_steps is not None else [1.0] * len(ids)
    return ClientUpdate(
        client_ids=np.asarray(ids),
        params=stacked,
        n_samples=torch.tensor(n_samples, dtype=torch.float64),
        n_steps=torch.tensor(steps, dtype=torch.float64),
    )


def _flat(params: list[torch.Tensor]) -> list[float]:
    return [float(v) for t in params for v in t.reshape(-1)]


# --- registry ---------------------------------------------------------------


def test_registry_lists_every_strategy_of_this_family():
    names = strategies.available()
    for name in ("fedavg", "fedadam", "fedyogi", "fedadagrad", "scaffold"):
        assert name in names


def test_create_takes_train_config_fields_by_name():
    config = TrainConfig(eta=0.5, beta1=0.3, beta2=0.6, tau=0.2, lr=0.05)
    options = config.to_dict()
    adam = strategies.create("fedadam", **options)
    assert (adam.eta, adam.beta1, adam.beta2, adam.tau) == (0.5, 0.3, 0.6, 0.2)
    scaffold = strategies.create("scaffold", **options)
    assert scaffold.lr == 0.05
    assert scaffold.global_lr == 1.0


def test_unknown_strategy_lists_the_accepted_names():
    with pytest.raises(UsageError) as info:
        strategies.create("fedbogus")
    accepted = ", ".join(strategies.available())
    assert (
        str(info.value) == f"--strategy: unknown value 'fedbogus'; accepted: {accepted}"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tau": 0.0}, "--tau: 0.0 must be > 0; try 1e-3"),
        ({"eta": -1.0}, "--eta: -1.0 must be > 0 (server learning rate)"),
        ({"beta1": 1.0}, "--beta1: 1.0 is outside [0, 1)"),
        ({"beta2": -0.1}, "--beta2: -0.1 is outside [0, 1)"),
    ],
)
def test_adaptive_options_are_checked(options, message):
    with pytest.raises(UsageError) as info:
        strategies.create("fedyogi", **options)
    assert str(info.value) == message


def test_scaffold_rejects_non_positive_lr():
    with pytest.raises(UsageError) as info:
        strategies.create("scaffold", lr=0.0)
    assert str(info.value) == "--lr: 0.0 must be > 0"


def test_scaffold_warns_when_local_optimizer_is_not_sgd(caplog):
    with caplog.at_level("WARNING", logger="hrc.strategies.scaffold"):
        strategies.create("scaffold", optimizer="adam")
        strategies.create("scaffold", optimizer="sgd")
    warnings = [r for r in caplog.records if r.name == "hrc.strategies.scaffold"]
    assert len(warnings) == 1
    assert "use --optimizer sgd" in warnings[0].getMessage()


# --- client sampling (base.configure_fit) -----------------------------------


@pytest.mark.parametrize(
    ("fraction_fit", "min_clients", "n_clients", "expected"),
    [
        (1.0, 1, 10, 10),  # everyone
        (0.5, 1, 10, 5),  # ceil(0.5 * 10)
        (0.25, 1, 10, 3),  # ceil(2.5)
        (0.1, 4, 10, 4),  # ceil(1) raised to min_clients
        (0.1, 20, 10, 10),  # min_clients capped at the federation size
    ],
)
def test_configure_fit_samples_fraction_with_a_floor(
    fraction_fit, min_clients, n_clients, expected
):
    strategy = strategies.create(
        "fedavg", fraction_fit=fraction_fit, min_clients=min_clients
    )
    strategy.initialize(_params([0, 0], [0]), n_clients)
    chosen = strategy.configure_fit(1, np.random.default_rng(0))
    assert len(chosen) == expected
    assert len(set(chosen.tolist())) == expected
    assert list(chosen) == sorted(chosen)
    assert chosen.min() >= 0 and chosen.max() < n_clients


def test_configure_fit_is_reproducible_for_a_seed():
    strategy = strategies.create("fedavg", fraction_fit=0.3)
    strategy.initialize(_params([0, 0], [0]), 20)
    first = strategy.configure_fit(1, np.random.default_rng(7))
    again = strategy.configure_fit(1, np.random.default_rng(7))
    assert first.tolist() == again.tolist()


def test_fraction_fit_outside_range_is_rejected():
    with pytest.raises(UsageError) as info:
        strategies.create("fedadam", fraction_fit=0.0)
    assert str(info.value) == (
        "--fraction_fit: 0.0 is outside (0, 1]; use 1.0 to train every client "
        "in every round"
    )


# --- FedAvg ---------------------------------------------------------------

# Two clients from x = (a=[0, 0], b=[0]):
#   client 1, 1 sample:  a=[4, -1], b=[2]
#   client 2, 3 samples: a=[0, -1], b=[0]
# Weighted mean: a=[(4 + 0) / 4, (-1 - 3) / 4] = [1, -1], b=[2 / 4] = [0.5],
# so the pseudo-gradient of round 1 is delta = (a=[1, -1], b=[0.5]).
X0 = ([0.0, 0.0], [0.0])
ROUND1 = ([0, 1], [([4.0, -1.0], [2.0]), ([0.0, -1.0], [0.0])], [1.0, 3.0])


def test_fedavg_is_the_sample_weighted_mean():
    strategy = strategies.create("fedavg")
    strategy.initialize(_params(*X0), 2)
    new = strategy.aggregate_fit(1, _params(*X0), _update(*ROUND1))
    assert _flat(new) == pytest.approx([1.0, -1.0, 0.5])


# --- FedAdagrad, FedAdam, FedYogi: two rounds ------------------------------

# eta = 0.1, beta1 = 0.5, beta2 = 0.75, tau = 0.5, so v starts at tau^2 = 0.25.
# Round 1: delta1 = [1, -1 | 0.5];  m1 = 0.5 * delta1 = [0.5, -0.5 | 0.25].
# Round 2: both clients reply x1 + [-1, 0 | 0.5], so delta2 = [-1, 0 | 0.5];
#          m2 = 0.5 * m1 + 0.5 * delta2 = [-0.25, -0.25 | 0.375].
# Second moments, coordinate by coordinate [a0, a1 | b]:
#   fedadagrad  v1 = 0.25 + delta1^2          = [1.25, 1.25 | 0.5]
#               v2 = v1 + delta2^2            = [2.25, 1.25 | 0.75]
#   fedadam     v1 = 0.75*0.25 + 0.25*delta1^2 = [0.4375, 0.4375 | 0.25]
#               v2 = 0.75*v1 + 0.25*delta2^2   = [0.578125, 0.328125 | 0.25]
#   fedyogi     v1: 0.25 < 1 so +0.25*1; b: 0.25 = 0.25 so sign 0
#                                              = [0.5, 0.5 | 0.25]
#               v2: a0 0.5 < 1 so +0.25; a1 delta 0; b sign 0
#                                              = [0.75, 0.5 | 0.25]
M1 = [0.5, -0.5, 0.25]
M2 = [-0.25, -0.25, 0.375]
SECOND_MOMENTS = {
    "fedadagrad": ([1.25, 1.25, 0.5], [2.25, 1.25, 0.75]),
    "fedadam": ([0.4375, 0.4375, 0.25], [0.578125, 0.328125, 0.25]),
    "fedyogi": ([0.5, 0.5, 0.25], [0.75, 0.5, 0.25]),
}


def _step(x: list[float], m: list[float], v: list[float]) -> list[float]:
    """``x + eta * m / (sqrt(v) + tau)`` with eta 0.1 and tau 0.5."""
    return [
        xi + 0.1 * mi / (math.sqrt(vi) + 0.5)
        for xi, mi, vi in zip(x, m, v, strict=True)
    ]


@pytest.mark.parametrize("name", sorted(SECOND_MOMENTS))
def test_adaptive_strategies_over_two_rounds(name):
    strategy = strategies.create(name, eta=0.1, beta1=0.5, beta2=0.75, tau=0.5)
    strategy.initialize(_params(*X0), 2)
    v1, v2 = SECOND_MOMENTS[name]

    # Round 1
    x1 = strategy.aggregate_fit(1, _params(*X0), _update(*ROUND1))
    expected_x1 = _step([0.0, 0.0, 0.0], M1, v1)
    assert _flat(x1) == pytest.approx(expected_x1, abs=1e-12)
    assert _flat(strategy.m) == pytest.approx(M1)
    assert _flat(strategy.v) == pytest.approx(v1)

    # Round 2: both clients move by [-1, 0 | 0.5] from x1
    a, b = x1[0].tolist(), x1[1].tolist()
    reply = ([a[0] - 1.0, a[1]], [b[0] + 0.5])
    x2 = strategy.aggregate_fit(2, x1, _update([0, 1], [reply, reply], [1.0, 3.0]))
    assert _flat(strategy.m) == pytest.approx(M2)
    assert _flat(strategy.v) == pytest.approx(v2)
    assert _flat(x2) == pytest.approx(_step(expected_x1, M2, v2), abs=1e-12)


def test_adagrad_round_two_first_coordinate_by_hand():
    # 0.05 / (sqrt(1.25) + 0.5) - 0.025 / (1.5 + 0.5), written out once in full
    strategy = strategies.create("fedadagrad", eta=0.1, beta1=0.5, tau=0.5)
    strategy.initialize(_params(*X0), 2)
    x1 = strategy.aggregate_fit(1, _params(*X0), _update(*ROUND1))
    a, b = x1[0].tolist(), x1[1].tolist()
    reply = ([a[0] - 1.0, a[1]], [b[0] + 0.5])
    x2 = strategy.aggregate_fit(2, x1, _update([0, 1], [reply, reply], [1.0, 3.0]))
    assert float(x2[0][0]) == pytest.approx(0.05 / (math.sqrt(1.25) + 0.5) - 0.0125)


def test_adaptive_does_not_modify_its_inputs():
    strategy = strategies.create("fedadam")
    strategy.initialize(_params(*X0), 2)
    x0, update = _params(*X0), _update(*ROUND1)
    before = [t.clone() for t in update.params]
    strategy.aggregate_fit(1, x0, update)
    assert _flat(x0) == [0.0, 0.0, 0.0]
    assert all(torch.equal(a, b) for a, b in zip(before, update.params, strict=True))


# --- SCAFFOLD: two rounds, three clients ----------------------------------

# lr = 0.5, global_lr = 1, N = 3 clients, x0 = [0, 0 | 1].
# Round 1, clients 0 and 2 (c = c_i = 0, so corrections are 0):
#   y0 = [-1, 2 | 0], K0 = 2:  c0+ = (x0 - y0) / (2 * 0.5) = [1, -2 | 1]
#   y2 = [1, 0 | 3],  K2 = 4:  c2+ = (x0 - y2) / (4 * 0.5) = [-0.5, 0 | -1]
#   x1 = x0 + mean(y - x0) = [0, 1 | 1.5]
#   c1 = 0 + 2/3 * mean(c+ - 0) = 2/3 * [0.25, -1 | 0] = [1/6, -2/3 | 0]
# Round 2, clients 0 and 1:
#   corrections c - c_i: client 0 [1/6 - 1, -2/3 + 2 | -1] = [-5/6, 4/3 | -1]
#                        client 1 [1/6, -2/3 | 0]
#   y0 = [0, 0 | 1.5], K0 = 1: c0++ = c0+ - c1 + (x1 - y0) / 0.5
#                              = [1 - 1/6, -2 + 2/3 + 2 | 1] = [5/6, 2/3 | 1]
#   y1 = [1, 1 | 0.5], K1 = 2: c1+ = 0 - c1 + (x1 - y1) / 1
#                              = [-1/6 - 1, 2/3 | 1] = [-7/6, 2/3 | 1]
#   x2 = x1 + mean(y - x1) = [0.5, 0.5 | 1]
#   c2 = c1 + 2/3 * mean([-1/6, 8/3 | 0], [-7/6, 2/3 | 1])
#      = [1/6 - 4/9, -2/3 + 10/9 | 1/3] = [-5/18, 4/9 | 1/3]


def test_scaffold_over_two_rounds():
    strategy = strategies.create("scaffold", lr=0.5)
    x0 = _params([0.0, 0.0], [1.0])
    strategy.initialize(x0, 3)

    # Round 1: zero corrections
    local = strategy.configure_local(1, np.array([0, 2]), x0)
    assert [tuple(t.shape) for t in local.gradient_correction] == [(2, 2), (2, 1)]
    assert all(float(t.abs().sum()) == 0.0 for t in local.gradient_correction)
    replies = [([-1.0, 2.0], [0.0]), ([1.0, 0.0], [3.0])]
    x1 = strategy.aggregate_fit(1, x0, _update([0, 2], replies, [10, 30], [2, 4]))
    assert _flat(x1) == pytest.approx([0.0, 1.0, 1.5])
    assert _flat(strategy.server_control) == pytest.approx([1 / 6, -2 / 3, 0.0])

    # Round 2: corrections c - c_i for clients 0 and 1
    local = strategy.configure_local(2, np.array([0, 1]), x1)
    correction_a, correction_b = local.gradient_correction
    assert correction_a.flatten().tolist() == pytest.approx(
        [-5 / 6, 4 / 3, 1 / 6, -2 / 3]
    )
    assert correction_b.flatten().tolist() == pytest.approx([-1.0, 0.0])
    replies = [([0.0, 0.0], [1.5]), ([1.0, 1.0], [0.5])]
    x2 = strategy.aggregate_fit(2, x1, _update([0, 1], replies, [10, 20], [1, 2]))
    assert _flat(x2) == pytest.approx([0.5, 0.5, 1.0])
    assert _flat(strategy.server_control) == pytest.approx([-5 / 18, 4 / 9, 1 / 3])

    # Every client's control variate, including client 2 untouched in round 2
    controls_a, controls_b = strategy.client_controls
    assert controls_a.flatten().tolist() == pytest.approx(
        [5 / 6, 2 / 3, -7 / 6, 2 / 3, -0.5, 0.0]
    )
    assert controls_b.flatten().tolist() == pytest.approx([1.0, 1.0, -1.0])


def test_scaffold_with_zero_steps_keeps_the_model_and_resets_c_i():
    # A client that took no step returns x; clamping K to 1 gives c_i+ = c_i - c.
    strategy = strategies.create("scaffold", lr=0.1)
    x0 = _params([1.0, 2.0], [3.0])
    strategy.initialize(x0, 1)
    reply = ([1.0, 2.0], [3.0])
    x1 = strategy.aggregate_fit(1, x0, _update([0], [reply], [5], [0]))
    assert _flat(x1) == [1.0, 2.0, 3.0]
    assert not any(math.isnan(v) for v in _flat(strategy.server_control))
