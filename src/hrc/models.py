"""The classifiers: a multilayer perceptron and a logistic-regression baseline.

Both are a stack of linear layers (logistic regression is the stack with no
hidden layer), ReLU and optional dropout between them, returning logits. They
are trained with cross-entropy on the logits, so no softmax is applied here.

Besides the :class:`torch.nn.Module` used by centralized training, this module
offers :func:`stacked_forward`, the same network evaluated for many clients at
once from parameters stacked along a leading client dimension; the batched
federated engine trains every selected client of a round with it.
"""

from __future__ import annotations

import torch
from torch import nn

from hrc.config import MODELS
from hrc.errors import UsageError, choice_error

Params = list[torch.Tensor]


class MLP(nn.Module):
    """Fully connected classifier returning logits.

    Parameters
    ----------
    n_features : int
        Width of the input (genes plus covariates).
    n_classes : int
        Number of output logits.
    hidden : tuple of int
        Widths of the hidden layers; empty for logistic regression.
    dropout : float
        Dropout probability after every hidden ReLU, in ``[0, 1)``.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: tuple[int, ...] = (256, 128, 64),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        widths = [n_features, *hidden, n_classes]
        layers: list[nn.Module] = []
        for i, (width_in, width_out) in enumerate(
            zip(widths[:-1], widths[1:], strict=True)
        ):
            layers.append(nn.Linear(width_in, width_out))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)
        self.hidden = tuple(hidden)
        self.dropout = dropout

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return the ``(batch, n_classes)`` logits of ``features``."""
        return self.layers(features)


def build_model(
    kind: str,
    n_features: int,
    n_classes: int,
    hidden: tuple[int, ...] = (256, 128, 64),
    dropout: float = 0.0,
) -> MLP:
    """Build the classifier named by ``--model``.

    Parameters
    ----------
    kind : {"mlp", "logreg"}
        ``"mlp"`` for the perceptron with ``hidden`` layers, ``"logreg"`` for
        multinomial logistic regression (one linear layer).
    n_features, n_classes : int
        Input and output widths.
    hidden : tuple of int
        Hidden widths of the MLP; ignored by ``"logreg"``.
    dropout : float
        Dropout probability of the MLP, in ``[0, 1)``.

    Returns
    -------
    MLP
        The model, with PyTorch's default initialisation (seed it first).

    Raises
    ------
    UsageError
        For an unknown kind, a non-positive width or a dropout outside [0, 1).
    """
    if kind not in MODELS:
        raise choice_error("--model", kind, list(MODELS))
    if not 0.0 <= dropout < 1.0:
        raise UsageError(f"--dropout: {dropout} is outside [0, 1)")
    if any(int(width) < 1 for width in hidden):
        raise UsageError(
            f"--hidden: {','.join(str(w) for w in hidden)} holds a width below 1; "
            "give positive widths such as 256,128,64"
        )
    if kind == "logreg":
        return MLP(n_features, n_classes, hidden=(), dropout=0.0)
    return MLP(
        n_features, n_classes, hidden=tuple(int(w) for w in hidden), dropout=dropout
    )


def get_params(model: nn.Module) -> Params:
    """Return detached copies of the model's parameters, in ``parameters()`` order."""
    return [p.detach().clone() for p in model.parameters()]


def set_params(model: nn.Module, params: Params) -> None:
    """Copy ``params`` (in ``parameters()`` order) into ``model``."""
    with torch.no_grad():
        for target, value in zip(model.parameters(), params, strict=True):
            target.copy_(value)


# Dropout masks of the stacked forward pass are a hash of (key, position), so
# a client gets the same mask whether it trains alone or among a thousand.
_MASK32 = 0xFFFFFFFF


def _hash32(keys: torch.Tensor) -> torch.Tensor:
    """Mix int64 keys into int64 values uniform in ``[0, 2**32)``.

    The mixer is ``lowbias32`` of Wellons' hash prospector (2018), a two-round
    multiply-xorshift; products wrap modulo ``2**64`` and only their low 32
    bits are kept, which do not depend on the wrap.
    """
    x = keys & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK32
    return x ^ (x >> 16)


def hash_uniform(keys: torch.Tensor) -> torch.Tensor:
    """Map int64 keys to floats uniform in ``[0, 1)`` with a 32-bit mixer.

    The mixer (see :func:`_hash32`) runs elementwise, so the value for a key
    never depends on the other keys.
    """
    return _hash32(keys).to(torch.float64).div(2.0**32).to(torch.float32)


def mix_keys(base: torch.Tensor, salt: int) -> torch.Tensor:
    """Combine int64 keys with an integer ``salt`` into new 32-bit keys."""
    return _hash32(base + salt * 0x9E3779B1)


def stacked_forward(
    params: Params,
    features: torch.Tensor,
    dropout: float = 0.0,
    mask_keys: torch.Tensor | None = None,
) -> torch.Tensor:
    """Evaluate one network per client from stacked parameters.

    Activations are held feature-major, ``(C, width, batch)``, so that the
    weight gradients autograd returns are contiguous like the weights (the
    fused optimizer step of the batched engine needs that).

    Parameters
    ----------
    params : list of torch.Tensor
        ``(C, out, in)`` weights and ``(C, out)`` biases, alternating, in the
        order of :class:`MLP` parameters.
    features : torch.Tensor
        ``(C, batch, n_features)`` inputs, one batch per client.
    dropout : float
        Dropout probability after every hidden ReLU (training mode); 0 for
        evaluation.
    mask_keys : torch.Tensor, optional
        ``(C,)`` int64 keys of this step's dropout masks, one per client;
        required when ``dropout > 0``.

    Returns
    -------
    torch.Tensor
        ``(C, batch, n_classes)`` logits.
    """
    if dropout > 0 and mask_keys is None:
        raise ValueError("stacked_forward: dropout > 0 needs mask_keys")
    hidden = features.transpose(1, 2)
    n_layers = len(params) // 2
    for layer in range(n_layers):
        weight, bias = params[2 * layer], params[2 * layer + 1]
        hidden = torch.baddbmm(bias.unsqueeze(2), weight, hidden)
        if layer == n_layers - 1:
            break
        hidden = torch.relu(hidden)

        # Inverted dropout, the mask drawn from (client key, layer, row, unit):
        # position row * width + unit, whatever the batch width.
        if dropout > 0:
            width, n_rows = hidden.shape[1], hidden.shape[2]
            positions = torch.arange(n_rows * width, device=hidden.device)
            positions = positions.view(1, n_rows, width).transpose(1, 2)
            keys = mix_keys(mask_keys, layer + 1).view(-1, 1, 1) + positions
            keep = _hash32(keys) >= int(dropout * 2.0**32)
            hidden = hidden * keep.to(hidden.dtype).mul_(1.0 / (1.0 - dropout))
    return hidden.transpose(1, 2)
