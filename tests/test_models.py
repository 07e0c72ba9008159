"""The classifiers and their stacked (one network per client) evaluation."""

from __future__ import annotations

import pytest
import torch

from hrc.errors import UsageError
from hrc.models import build_model, get_params, hash_uniform, stacked_forward


def test_mlp_layer_shapes_follow_hidden_widths():
    model = build_model("mlp", n_features=5, n_classes=3, hidden=(8, 4))
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(8, 5), (8,), (4, 8), (4,), (3, 4), (3,)]


def test_logreg_is_one_linear_layer():
    model = build_model("logreg", n_features=5, n_classes=3, hidden=(8, 4), dropout=0.5)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(3, 5), (3,)]


def test_model_returns_logits_not_probabilities():
    torch.manual_seed(0)
    model = build_model("mlp", 4, 3, hidden=(6,))
    logits = model(torch.randn(10, 4) * 5)
    assert logits.shape == (10, 3)
    assert not torch.allclose(logits.sum(dim=1), torch.ones(10))


def test_unknown_model_lists_choices():
    with pytest.raises(UsageError) as error:
        build_model("svm", 4, 2)
    assert str(error.value) == "--model: unknown value 'svm'; accepted: mlp, logreg"


def test_bad_hidden_width_is_rejected():
    with pytest.raises(UsageError, match="--hidden: 8,0 holds a width below 1"):
        build_model("mlp", 4, 2, hidden=(8, 0))


def test_stacked_forward_equals_each_client_model():
    torch.manual_seed(1)
    models = [build_model("mlp", 4, 3, hidden=(5, 2)) for _ in range(3)]
    stacked = [
        torch.stack(ps) for ps in zip(*(get_params(m) for m in models), strict=True)
    ]
    features = torch.randn(3, 7, 4)
    logits = stacked_forward(stacked, features)
    for k, model in enumerate(models):
        model.eval()
        expected = model(features[k]).detach()
        torch.testing.assert_close(logits[k], expected, rtol=0, atol=1e-6)


def test_dropout_mask_of_a_row_does_not_depend_on_batch_width():
    torch.manual_seed(2)
    params = [p.unsqueeze(0) for p in get_params(build_model("mlp", 4, 3, (32,)))]
    features = torch.randn(1, 6, 4)
    keys = torch.tensor([12345])
    wide = stacked_forward(params, features, dropout=0.5, mask_keys=keys)
    narrow = stacked_forward(params, features[:, :2], dropout=0.5, mask_keys=keys)
    torch.testing.assert_close(wide[:, :2], narrow, rtol=0, atol=1e-6)


def test_hash_uniform_is_uniform_and_deterministic():
    values = hash_uniform(torch.arange(100_000))
    assert float(values.min()) >= 0.0 and float(values.max()) < 1.0
    assert abs(float(values.mean()) - 0.5) < 0.01
    assert abs(float((values < 0.1).float().mean()) - 0.1) < 0.01
    torch.testing.assert_close(values[:10], hash_uniform(torch.arange(10)))
