"""Local training of federated clients, many at once or one at a time.

:func:`train_clients` trains every selected client of a round together: the
model parameters carry a leading client dimension, each step gathers one
mini-batch per client by index from a single pooled feature tensor, and Adam
or SGD is applied by hand, elementwise, to the stacked tensors. A client whose
epoch has run out of batches is masked (no update, no optimizer step), and the
last partial batch is masked per sample, so clients of unequal size train
exactly as they would alone.

:func:`local_train` trains ONE client through the same code; node engines
(NVFLARE, Docker) call it, and it returns what the batched engine returns for
that client.

Every random choice of a client (its batch order in each local epoch, its
dropout masks) comes from the triple (seed, round, client index), never from
a shared generator, which is what makes the two paths agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hrc.config import TrainConfig
from hrc.errors import UsageError
from hrc.models import Params, mix_keys, stacked_forward
from hrc.strategies.base import ClientUpdate, LocalConfig
from hrc.training.types import ClientData

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "sgd")

# Adam's defaults in torch.optim.Adam; the client optimizer is fresh every round.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

# Upper bound on the float elements a chunk of clients trained together may
# hold (gathered batch and stacked weights); more clients train in turn.
MAX_CHUNK_ELEMENTS = 1 << 26


@dataclass
class LocalSettings:
    """The options of local training, taken from a :class:`TrainConfig`."""

    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    local_epochs: int = 1
    dropout: float = 0.0

    @classmethod
    def from_config(cls, config: TrainConfig) -> LocalSettings:
        """Read the local-training options of ``config`` and check them."""
        if config.optimizer not in OPTIMIZERS:
            raise UsageError(
                f"--optimizer: unknown value {config.optimizer!r}; "
                f"accepted: {', '.join(OPTIMIZERS)}"
            )
        if config.batch_size < 1:
            raise UsageError(f"--batch_size: {config.batch_size} must be at least 1")
        if config.local_epochs < 1:
            raise UsageError(
                f"--local_epochs: {config.local_epochs} must be at least 1"
            )
        if not config.lr > 0:
            raise UsageError(f"--lr: {config.lr} must be positive")
        dropout = config.dropout if config.model == "mlp" else 0.0
        return cls(
            batch_size=config.batch_size,
            lr=config.lr,
            optimizer=config.optimizer,
            local_epochs=config.local_epochs,
            dropout=dropout,
        )


def resolve_device(config: TrainConfig) -> torch.device:
    """Return CUDA when ``--no_cuda false`` and a GPU is present, else the CPU."""
    if not config.no_cuda:
        if torch.cuda.is_available():
            return torch.device("cuda")
        logger.info("--no_cuda false: no CUDA device found, training on the CPU")
    return torch.device("cpu")


def client_key(seed: int, server_round: int, client_id: int) -> int:
    """Return the 32-bit random key of one client in one round."""
    state = np.random.SeedSequence([seed, server_round, client_id]).generate_state(1)
    return int(state[0])


def batch_order(
    n_samples: int, seed: int, server_round: int, client_id: int, local_epoch: int
) -> np.ndarray:
    """Return the shuffled sample order of one client in one local epoch.

    Parameters
    ----------
    n_samples : int
        Samples held by the client.
    seed, server_round, client_id, local_epoch : int
        The generator is seeded from these four numbers only. Centralized
        training uses ``client_id=0, local_epoch=0`` and the epoch as round.

    Returns
    -------
    numpy.ndarray
        A permutation of ``range(n_samples)``.
    """
    rng = np.random.default_rng([seed, server_round, client_id, local_epoch])
    return rng.permutation(n_samples)


def train_clients(
    start_params: Params,
    pool_features: torch.Tensor,
    pool_labels: torch.Tensor,
    client_rows: list[torch.Tensor],
    client_ids: np.ndarray,
    settings: LocalSettings,
    seed: int,
    server_round: int,
    local: LocalConfig | None = None,
    stacked_start: bool = False,
) -> ClientUpdate:
    """Train several clients from the same (or their own) starting model.

    Parameters
    ----------
    start_params : list of torch.Tensor
        The global model (unstacked), or ``(C, *shape)`` tensors when
        ``stacked_start`` is true.
    pool_features : torch.Tensor
        ``(n_pool, n_features)`` float32 rows of every client.
    pool_labels : torch.Tensor
        ``(n_pool,)`` int64 class indices.
    client_rows : list of torch.Tensor
        For each selected client, the int64 rows of the pool it holds.
    client_ids : numpy.ndarray
        ``(C,)`` federation index of each selected client (seeds its batches).
    settings : LocalSettings
        Batch size, learning rate, optimizer, local epochs, dropout.
    seed, server_round : int
        Run seed and 1-based round number.
    local : LocalConfig, optional
        FedProx weight (``proximal_mu``, around the starting model) and
        SCAFFOLD gradient correction (stacked like the selected clients).
    stacked_start : bool
        Whether ``start_params`` already holds one model per client.

    Returns
    -------
    ClientUpdate
        Stacked parameters, sample counts, steps, last-epoch loss and accuracy.
    """
    local = local or LocalConfig()
    n_clients = len(client_rows)
    sizes = np.array([len(rows) for rows in client_rows], dtype=np.int64)
    if n_clients == 0:
        raise ValueError("train_clients: no client selected")
    if (sizes == 0).any():
        empty = int(client_ids[int(np.argmax(sizes == 0))])
        raise UsageError(f"client h{empty + 1} holds no training sample")

    # Output tensors, filled chunk by chunk in the callers' client order.
    device = pool_features.device
    shapes = [
        tuple(p.shape[1:]) if stacked_start else tuple(p.shape) for p in start_params
    ]
    params = [torch.empty((n_clients, *shape), device=device) for shape in shapes]
    stats = torch.zeros((3, n_clients), dtype=torch.float64)

    # Chunks of clients of similar size (ascending), and one work space of
    # weights and Adam moments sized for the largest chunk, reused by all.
    chunks = _chunks(sizes, settings.batch_size, pool_features.shape[1], shapes)
    width = max(len(members) for members in chunks)
    n_buffers = 3 if settings.optimizer == "adam" else 1
    workspace = [
        [torch.empty((width, *shape), device=device) for shape in shapes]
        for _ in range(n_buffers)
    ]
    for members in chunks:
        chunk_params, chunk_stats = _train_chunk(
            start_params,
            pool_features,
            pool_labels,
            [client_rows[i] for i in members],
            np.asarray(client_ids)[members],
            members,
            settings,
            seed,
            server_round,
            local,
            stacked_start,
            [[b[: len(members)] for b in buffers] for buffers in workspace],
        )
        index = torch.as_tensor(members, dtype=torch.long, device=device)
        for target, trained in zip(params, chunk_params, strict=True):
            target.index_copy_(0, index, trained)
        stats[:, torch.as_tensor(members, dtype=torch.long)] = chunk_stats.cpu()

    def column(values: torch.Tensor | np.ndarray) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float32).to(device)

    return ClientUpdate(
        client_ids=np.asarray(client_ids),
        params=params,
        n_samples=column(sizes),
        n_steps=column(stats[0]),
        train_loss=column(stats[1]),
        train_accuracy=column(stats[2]),
    )


def _chunks(
    sizes: np.ndarray, batch_size: int, n_features: int, shapes: list[tuple]
) -> list[np.ndarray]:
    """Split the clients, sorted by size, into chunks trained together.

    A client costs its gathered batch plus about six copies of its weights
    (weights, gradient, Adam moments, temporaries); a chunk holds at most
    :data:`MAX_CHUNK_ELEMENTS` of them, so memory stays bounded and the
    weights of a chunk stay close to the processor's cache.
    """
    order = np.argsort(sizes, kind="stable")
    n_weights = sum(int(np.prod(shape)) for shape in shapes)
    chunks, start = [], 0
    while start < len(order):
        members = order[start:]
        for _ in range(2):  # the second pass sizes the chunk by its largest client
            width = int(min(batch_size, sizes[members[-1]]))
            per_client = width * n_features + 6 * n_weights
            members = order[start : start + max(1, MAX_CHUNK_ELEMENTS // per_client)]
        chunks.append(members)
        start += len(members)
    return chunks


def _train_chunk(
    start_params: Params,
    pool_features: torch.Tensor,
    pool_labels: torch.Tensor,
    client_rows: list[torch.Tensor],
    client_ids: np.ndarray,
    positions: np.ndarray,
    settings: LocalSettings,
    seed: int,
    server_round: int,
    local: LocalConfig,
    stacked_start: bool,
    workspace: list[Params],
) -> tuple[Params, torch.Tensor]:
    """Train one chunk of clients together; see :func:`train_clients`.

    The clients come in ascending size, so at every step the clients that
    still hold a batch are a suffix of the chunk: only that slice is run
    forward and updated, in place, and no client needs a mask. ``workspace``
    holds the chunk's weights (and Adam's two moments), overwritten here.

    Returns the stacked trained weights (views of the work space) and a
    ``(3, C)`` tensor of steps, last-epoch mean loss and last-epoch accuracy.
    """
    n_clients = len(client_rows)
    sizes = np.array([len(rows) for rows in client_rows], dtype=np.int64)
    if (np.diff(sizes) < 0).any():
        raise ValueError("_train_chunk: clients must come in ascending size")
    batch = settings.batch_size
    client_batches = -(-sizes // batch)
    n_batches = int(client_batches[-1])
    device = pool_features.device
    index_positions = torch.as_tensor(positions, dtype=torch.long, device=device)

    # Starting weights, FedProx centre and SCAFFOLD correction.
    params = workspace[0]
    for target, p in zip(params, start_params, strict=True):
        target.copy_(p[index_positions] if stacked_start else p.detach())
    mu = float(local.proximal_mu)
    centre = None
    if mu > 0:
        centre = [p.detach().clone() for p in params]
    correction = None
    if local.gradient_correction is not None:
        correction = [c[index_positions] for c in local.gradient_correction]

    # Fresh optimizer state for every client, every round.
    moments = workspace[1:]
    for buffer in moments:
        for tensor in buffer:
            tensor.zero_()
    keys = torch.tensor(
        [client_key(seed, server_round, int(c)) for c in client_ids],
        dtype=torch.int64,
        device=device,
    )
    loss_sum = torch.zeros(n_clients, dtype=torch.float64, device=device)
    correct = torch.zeros(n_clients, dtype=torch.float64, device=device)

    for local_epoch in range(settings.local_epochs):
        rows, valid = _epoch_rows(
            client_rows, client_ids, seed, server_round, local_epoch, n_batches * batch
        )
        rows, valid = rows.to(device), valid.to(device)
        last_epoch = local_epoch == settings.local_epochs - 1
        for step in range(n_batches):
            # The clients that still hold a batch (a suffix), gathered by index.
            lo = step * batch
            first = int(np.searchsorted(sizes, lo, side="right"))
            width = int(min(batch, sizes[-1] - lo))
            index = rows[first:, lo : lo + width]
            mask = valid[first:, lo : lo + width]
            features, labels = pool_features[index], pool_labels[index]
            counts = mask.sum(dim=1).clamp(min=1).to(features.dtype)

            # Per-client mean cross-entropy, and its gradient per client.
            leaves = [p[first:].detach().requires_grad_(True) for p in params]
            salt = local_epoch * 1_000_003 + step + 1
            logits = stacked_forward(
                leaves, features, settings.dropout, mix_keys(keys[first:], salt)
            )
            per_sample = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                labels.reshape(-1),
                reduction="none",
            ).view(n_clients - first, width)
            per_client = (per_sample * mask).sum(dim=1) / counts
            grads = list(torch.autograd.grad(per_client.sum(), leaves))

            # FedProx pulls towards the starting model; SCAFFOLD corrects drift.
            active = [p[first:] for p in params]
            if centre is not None:
                for g, p, c in zip(grads, active, centre, strict=True):
                    g.add_(p - c[first:], alpha=mu)
            if correction is not None:
                for g, c in zip(grads, correction, strict=True):
                    g.add_(c[first:])

            # Optimizer step, in place, on the active slice.
            steps = local_epoch * client_batches[first:] + step + 1
            _optimizer_step(settings, active, grads, moments, first, steps)
            if last_epoch:
                with torch.no_grad():
                    hits = (logits.argmax(dim=-1) == labels) & mask
                    loss_sum[first:] += (per_sample.detach() * mask).sum(dim=1)
                    correct[first:] += hits.sum(dim=1).double()

    # Steps, last-epoch loss and accuracy of every client of the chunk.
    steps = client_batches * settings.local_epochs
    counts = torch.as_tensor(sizes, dtype=torch.float64, device=device)
    stats = torch.stack(
        [torch.as_tensor(steps, device=device), loss_sum / counts, correct / counts]
    )
    return params, stats


def _epoch_rows(
    client_rows: list[torch.Tensor],
    client_ids: np.ndarray,
    seed: int,
    server_round: int,
    local_epoch: int,
    length: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(C, length)`` pool rows in each client's shuffled order and a mask."""
    rows = np.zeros((len(client_rows), length), dtype=np.int64)
    valid = np.zeros((len(client_rows), length), dtype=bool)
    for i, (held, client) in enumerate(zip(client_rows, client_ids, strict=True)):
        n = len(held)
        permutation = batch_order(n, seed, server_round, int(client), local_epoch)
        rows[i, :n] = held.cpu().numpy()[permutation]
        valid[i, :n] = True
    return torch.from_numpy(rows), torch.from_numpy(valid)


def _optimizer_step(
    settings: LocalSettings,
    params: Params,
    grads: Params,
    moments: list[Params],
    first: int,
    steps: np.ndarray,
) -> None:
    """Apply one SGD or Adam step, in place, to the active slice of a chunk.

    ``params`` and ``grads`` are the slices of clients ``first:`` of the
    chunk; ``moments`` holds Adam's first and second moments of the whole
    chunk; ``steps`` the step number of each active client. Adam (Kingma and
    Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015) runs through
    the fused kernel behind ``torch.optim.Adam(fused=True)``, one call per run
    of clients at the same step number; SGD is ``torch.optim.SGD``'s update.
    """
    if settings.optimizer == "sgd":
        torch._foreach_add_(params, grads, alpha=-settings.lr)
        return

    # Clients come in ascending size, so equal step numbers form runs; the
    # fused kernel walks memory flat, so every tensor must be contiguous.
    grads = [g.contiguous() for g in grads]
    first_moment, second_moment = moments
    bounds = np.flatnonzero(np.diff(steps)) + 1
    for lo, hi in zip([0, *bounds], [*bounds, len(steps)], strict=True):
        beta1, beta2 = ADAM_BETAS
        step = torch.tensor(float(steps[lo]), device=params[0].device)
        torch._fused_adam_(
            [p[lo:hi] for p in params],
            [g[lo:hi] for g in grads],
            [m[first + lo : first + hi] for m in first_moment],
            [v[first + lo : first + hi] for v in second_moment],
            [],
            [step] * len(params),
            lr=settings.lr,
            beta1=beta1,
            beta2=beta2,
            weight_decay=0.0,
            eps=ADAM_EPS,
            amsgrad=False,
            maximize=False,
        )


def local_train(
    params: Params,
    client: ClientData,
    config: TrainConfig,
    server_round: int,
    client_id: int,
    local: LocalConfig | None = None,
    seed: int | None = None,
) -> tuple[Params, int, float, float]:
    """Train one client's model for ``config.local_epochs`` epochs.

    This is what a node process calls; it runs the batched engine's code for a
    single client, so the result equals that client's reply in a batched round.

    Parameters
    ----------
    params : list of torch.Tensor
        Starting model (the global model), in ``model.parameters()`` order.
    client : ClientData
        The client's preprocessed training data.
    config : TrainConfig
        Run options (batch size, learning rate, optimizer, local epochs,
        model, dropout, seed).
    server_round : int
        1-based round number.
    client_id : int
        Index of the client in the federation (``h1`` is 0).
    local : LocalConfig, optional
        FedProx weight and SCAFFOLD correction for this client; a correction
        may be given with or without the leading client dimension of 1.
    seed : int, optional
        Overrides ``config.seed``.

    Returns
    -------
    tuple
        ``(params, n_steps, train_loss, train_accuracy)``: the trained
        parameters (unstacked), optimizer steps taken, and the mean loss and
        accuracy of the last local epoch.
    """
    settings = LocalSettings.from_config(config)
    local = local or LocalConfig()
    if local.gradient_correction is not None:
        correction = [
            c.unsqueeze(0) if c.dim() == p.dim() else c
            for c, p in zip(local.gradient_correction, params, strict=True)
        ]
        local = LocalConfig(local.proximal_mu, correction)
    update = train_clients(
        list(params),
        client.features,
        client.labels,
        [torch.arange(client.n_samples)],
        np.array([client_id]),
        settings,
        config.seed if seed is None else seed,
        server_round,
        local,
    )
    trained = [p[0] for p in update.params]
    return (
        trained,
        int(update.n_steps[0]),
        float(update.train_loss[0]),
        float(update.train_accuracy[0]),
    )
