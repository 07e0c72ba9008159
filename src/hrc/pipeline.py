"""Glue between the DVC pipeline (``dvc.yaml``, ``params.yaml``) and HRC.

The training stages call ``python src/initializer.py`` directly. Only the data
stage needs a switch that ``dvc.yaml`` cannot express: build the prepared pair
from the offline synthetic cohort, or import real GTEx files, depending on
``data.source`` in ``params.yaml``. :func:`prepare_data` makes that switch;
``hrc data prepare`` is its command-line face.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hrc.errors import DataError, UsageError, choice_error

logger = logging.getLogger(__name__)

SOURCES = ("synthetic", "gtex")


def load_params(path: str | Path, section: str) -> dict[str, Any]:
    """Read one top-level section of a ``params.yaml`` file.

    Parameters
    ----------
    path : path-like
        The parameters file.
    section : str
        Top-level key to return, e.g. ``"data"``.

    Returns
    -------
    dict
        The section's values.

    Raises
    ------
    DataError
        If the file is missing, is not YAML, or lacks the section.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--params: file not found: {path}")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"--params: {path} is not valid YAML ({exc})") from exc
    if not isinstance(params, dict) or not isinstance(params.get(section), dict):
        found = ", ".join(params) if isinstance(params, dict) else "none"
        raise DataError(
            f"--section: {path} has no section {section!r}; sections found: {found}"
        )
    return params[section]


def prepare_data(
    params: Mapping[str, Any],
    out_dir: str | Path,
    base_dir: str | Path = ".",
    section: str = "data",
    progress: bool = True,
) -> tuple[Path, Path]:
    """Build the prepared pair in ``out_dir`` as a ``params.yaml`` section says.

    Parameters
    ----------
    params : mapping
        The section: ``source`` (``"synthetic"`` or ``"gtex"``), a
        ``synthetic`` mapping (``samples``, ``genes``, ``seed``) and a ``gtex``
        mapping (``expression``, ``subjects``, ``samples``, ``genes``,
        ``custom_gene_path``).
    out_dir : path-like
        Folder that receives ``v8_samples.parquet`` and
        ``v8_expressions.parquet``.
    base_dir : path-like
        Folder that relative GTEx file paths are read from (the folder of
        ``params.yaml``).
    section : str
        Name of the section, used in error messages (``data.source``).
    progress : bool
        Show progress bars.

    Returns
    -------
    tuple of Path
        Paths of the samples and expressions files.

    Raises
    ------
    UsageError
        If the source is unknown or a value has the wrong type.
    DataError
        If a GTEx file is not given or does not exist.
    """
    source = params.get("source", "synthetic")
    if source not in SOURCES:
        raise choice_error(f"{section}.source", source, SOURCES)
    options = params.get(source) or {}
    if not isinstance(options, Mapping):
        raise UsageError(
            f"{section}.{source}: expected a mapping of options, got {options!r}"
        )
    if source == "synthetic":
        return _prepare_synthetic(options, Path(out_dir), section, progress)
    return _prepare_gtex(options, Path(out_dir), Path(base_dir), section, progress)


def _prepare_synthetic(
    options: Mapping[str, Any], out_dir: Path, section: str, progress: bool
) -> tuple[Path, Path]:
    """Write the synthetic cohort that ``options`` describes."""
    from hrc.data import schema
    from hrc.data.synth import write_cohort

    n_samples = _positive_int(options, "samples", f"{section}.synthetic", 17382)
    n_genes = _positive_int(options, "genes", f"{section}.synthetic", 2000)
    seed = _int(options, "seed", f"{section}.synthetic", 0)
    logger.info(
        "preparing the synthetic cohort: %s samples x %s genes, seed %s",
        n_samples,
        n_genes,
        seed,
    )
    write_cohort(out_dir, n_samples, n_genes, seed, progress=progress)
    return out_dir / schema.SAMPLES_FILE, out_dir / schema.EXPRESSIONS_FILE


def _prepare_gtex(
    options: Mapping[str, Any],
    out_dir: Path,
    base_dir: Path,
    section: str,
    progress: bool,
) -> tuple[Path, Path]:
    """Import the real GTEx files that ``options`` names."""
    from hrc.data.gtex import import_gtex

    # Files: the matrix and the subject table are required, the sample table not.
    prefix = f"{section}.gtex"
    expression = _file(options, "expression", prefix, base_dir, required=True)
    subjects = _file(options, "subjects", prefix, base_dir, required=True)
    samples = _file(options, "samples", prefix, base_dir, required=False)
    custom_genes = _file(options, "custom_gene_path", prefix, base_dir, False)

    # Genes: a custom list wins over the top-variance count.
    genes = None if custom_genes else options.get("genes")
    if genes is not None:
        genes = _positive_int(options, "genes", prefix, None)
    logger.info("importing GTEx files: %s with subjects %s", expression, subjects)
    return import_gtex(
        expression=expression,
        subjects=subjects,
        samples=samples,
        out_dir=out_dir,
        genes=genes,
        custom_gene_path=custom_genes,
        progress=progress,
    )


def _file(
    options: Mapping[str, Any],
    key: str,
    prefix: str,
    base_dir: Path,
    required: bool,
) -> Path | None:
    """Return the existing file named by ``options[key]``, or None if unset."""
    value = options.get(key)
    if value in (None, ""):
        if required:
            raise DataError(
                f"{prefix}.{key}: no file given; set it in params.yaml or run "
                f"`dvc exp run -S {prefix}.{key}=PATH`"
            )
        return None
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise DataError(f"{prefix}.{key}: file not found: {path}")
    return path


def _int(options: Mapping[str, Any], key: str, prefix: str, default: int) -> int:
    """Return ``options[key]`` as an int, naming the key if it is not one."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{prefix}.{key}: expected an integer, got {value!r}")
    return value


def _positive_int(
    options: Mapping[str, Any], key: str, prefix: str, default: int | None
) -> int:
    """Return ``options[key]`` as an int of at least 1."""
    value = _int(options, key, prefix, default)
    if value < 1:
        raise UsageError(f"{prefix}.{key}: expected an integer >= 1, got {value}")
    return value
