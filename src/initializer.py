"""Train a model on GTEx v8 expression data, centralized or federated.

The 2020 entry point, kept: ``python src/initializer.py --train_type
decentralized --no_of_clients 4``. Every option is shared with ``hrc train``
(see ``hrc/cli/_train_options.py``); without options it trains on the
synthetic cohort, generated under ``data/gtex`` on first use.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Let ``import hrc`` work from a checkout where hrc is not installed.
_SOURCE = Path(__file__).resolve().parent
if str(_SOURCE) not in sys.path:
    sys.path.insert(0, str(_SOURCE))

import click  # noqa: E402

from hrc.cli._base import handle_errors, verbosity_option  # noqa: E402
from hrc.cli._train_options import config_from_options, train_options  # noqa: E402
from hrc.cli.train import run_training  # noqa: E402


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@train_options
@verbosity_option
@handle_errors
def main(**options) -> None:
    """Train a classifier, centralized or federated, on GTEx v8 expression."""
    run_training(config_from_options(**options))


if __name__ == "__main__":
    main()
