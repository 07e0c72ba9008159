"""Healthcare-Researcher-Connector: federated learning on gene-expression data."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hrc")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.1.0"

__all__ = ["__version__"]
