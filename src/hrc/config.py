"""The resolved configuration of a training run.

:class:`TrainConfig` holds every option of ``python src/initializer.py`` and
``hrc train``. The CLI builds one, the runner uses it, and it is written next
to the metrics and the model of every run, so any result can be reproduced.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("data") / "gtex"
DEFAULT_SAMPLES = DEFAULT_DATA_DIR / "v8_samples.parquet"
DEFAULT_EXPRESSIONS = DEFAULT_DATA_DIR / "v8_expressions.parquet"

TRAIN_TYPES = ("centralized", "decentralized")
SPLIT_TYPES = ("iid", "balanced", "unbalanced", "non_iid", "site")
ENGINES = ("inprocess", "nvflare", "docker")
MODELS = ("mlp", "logreg")


@dataclass
class TrainConfig:
    """Every knob of a training run, with the defaults of the CLI.

    Attributes mirror the command-line options (``--n_epochs`` is
    ``n_epochs``). Options of the 2020 tool keep their names and meaning.
    """

    # Data
    samples_path: Path = DEFAULT_SAMPLES
    expressions_path: Path = DEFAULT_EXPRESSIONS
    dataset_size: int | None = None  # cap on samples used, stratified; None = all
    label: str = "age"
    n_genes: int = 1000  # top genes by variance after the expressed-gene filter
    min_expressed_fraction: float = 0.1  # a gene must be expressed in this share
    custom_gene_path: Path | None = None
    covariates: tuple[str, ...] = ()  # any of "tissue", "sex"

    # Splits
    split_size: float = 0.8  # training fraction of donors
    train_type: str = "centralized"
    split_type: str = "iid"
    no_of_clients: int = 2
    alpha: float = 0.5  # Dirichlet concentration for non_iid
    site_column: str = "Site"  # sample column for the site partition

    # Model and optimisation
    model: str = "mlp"
    hidden: tuple[int, ...] = (256, 128, 64)
    dropout: float = 0.1
    n_epochs: int = 10  # epochs (centralized) or rounds (federated)
    local_epochs: int = 1
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"  # "adam" or "sgd"
    seed: int = 42
    no_cuda: bool = True

    # Federation
    strategy: str = "fedavg"
    mu: float = 0.01  # FedProx proximal weight
    fraction_fit: float = 1.0
    min_clients: int = 1
    eta: float = 1e-2  # server learning rate (FedAdam, FedYogi, FedAdagrad)
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    engine: str = "inprocess"
    client_eval: str = "every"  # global model on each client's data: every|last

    # Nodes and deployment (2020 options kept)
    swarm: bool = False
    tags: tuple[str, ...] = ("#X", "#gtex_v8", "#dataset")
    node_start_port: int = 3000
    grid_address: str = "127.0.0.1"
    grid_port: int = 5000
    workspace: Path | None = None
    resume: bool = False

    # Outputs
    metrics_path: Path = Path("data") / "metrics"
    model_save_path: Path = Path("data") / "models"
    metrics_file_name: str | None = None  # default: "<train_type>_metrics"
    progress: bool = True

    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as JSON-ready values."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[item.name] = value
        return out

    @property
    def metrics_stem(self) -> str:
        """File stem of the metrics JSON (without ``.json``)."""
        return self.metrics_file_name or f"{self.train_type}_metrics"
