"""Read and write the prepared pair of sample and expression parquet files.

Both the GTEx importer and the synthetic cohort end in :func:`write_prepared`;
every trainer starts from :func:`load_prepared`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hrc.data import schema
from hrc.errors import DataError
from hrc.io import atomic_path

logger = logging.getLogger(__name__)


@dataclass
class PreparedData:
    """The prepared pair held in memory.

    Attributes
    ----------
    samples : pandas.DataFrame
        One row per sample, columns of :data:`hrc.data.schema.SAMPLE_COLUMNS`,
        in the same order as the rows of ``expression``.
    expression : numpy.ndarray
        ``(n_samples, n_genes)`` float32 matrix of TPM (not yet log-scaled).
    gene_ids : list of str
        Versioned Ensembl ids, one per column of ``expression``.
    gene_symbols : list of str
        Gene symbols (GCT ``Description``), empty strings where unknown.
    """

    samples: pd.DataFrame
    expression: np.ndarray
    gene_ids: list[str]
    gene_symbols: list[str]

    @property
    def n_samples(self) -> int:
        """Number of samples (rows)."""
        return int(self.expression.shape[0])

    @property
    def n_genes(self) -> int:
        """Number of genes (columns)."""
        return int(self.expression.shape[1])


def write_prepared(
    out_dir: str | Path,
    samples: pd.DataFrame,
    expression: np.ndarray,
    gene_ids: list[str],
    gene_symbols: list[str] | None = None,
) -> tuple[Path, Path]:
    """Write the prepared pair into ``out_dir`` atomically.

    Parameters
    ----------
    out_dir : path-like
        Destination folder, created if needed.
    samples : pandas.DataFrame
        Samples table; must hold a ``Name`` column aligned with ``expression``.
    expression : numpy.ndarray
        ``(n_samples, n_genes)`` matrix, stored as float32.
    gene_ids : list of str
        Column names of the expression table.
    gene_symbols : list of str, optional
        Gene symbols, kept in the parquet schema metadata.

    Returns
    -------
    tuple of Path
        Paths of the samples and expressions files.
    """
    out_dir = Path(out_dir)
    if expression.shape != (len(samples), len(gene_ids)):
        raise DataError(
            f"expression matrix has shape {expression.shape}, expected "
            f"({len(samples)}, {len(gene_ids)}) for the samples and genes given"
        )
    samples_path = out_dir / schema.SAMPLES_FILE
    expressions_path = out_dir / schema.EXPRESSIONS_FILE

    # Expressions: one float32 column per gene, symbols in schema metadata.
    columns = {schema.NAME: pa.array(samples[schema.NAME].astype(str).to_numpy())}
    matrix = np.asarray(expression, dtype=np.float32)
    for j, gene in enumerate(gene_ids):
        columns[gene] = pa.array(matrix[:, j])
    table = pa.table(columns)
    symbols = list(gene_symbols) if gene_symbols is not None else [""] * len(gene_ids)
    metadata = {schema.SYMBOLS_METADATA_KEY: json.dumps(symbols).encode()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})

    # Write both files through temporary names so neither is ever half-written.
    with atomic_path(expressions_path) as tmp_expr, atomic_path(samples_path) as tmp_s:
        pq.write_table(table, tmp_expr, compression="zstd")
        samples.reset_index(drop=True).to_parquet(tmp_s, index=False)
    logger.info(
        "wrote %s samples x %s genes to %s", len(samples), len(gene_ids), out_dir
    )
    return samples_path, expressions_path


def load_prepared(
    samples_path: str | Path, expressions_path: str | Path
) -> PreparedData:
    """Load the prepared pair and align the expression rows to the samples.

    Samples present in only one of the two files are dropped with a warning.

    Raises
    ------
    DataError
        If a file is missing, unreadable, or the two files share no sample.
    """
    samples_path, expressions_path = Path(samples_path), Path(expressions_path)
    for option, path in (
        ("--samples_path", samples_path),
        ("--expressions_path", expressions_path),
    ):
        if not path.is_file():
            raise DataError(
                f"{option}: file not found: {path}; give the prepared pair made "
                "by 'hrc data synth' or 'hrc data import-gtex'"
            )
    try:
        samples = pd.read_parquet(samples_path)
        table = pq.read_table(expressions_path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise DataError(f"cannot read parquet file: {exc}") from exc
    if schema.NAME not in samples.columns or schema.NAME not in table.column_names:
        raise DataError(
            f"column {schema.NAME!r} missing from {samples_path} or {expressions_path}"
        )

    # Expression matrix as float32, columns in file order.
    gene_ids = [c for c in table.column_names if c != schema.NAME]
    names = table.column(schema.NAME).to_numpy(zero_copy_only=False).astype(str)
    matrix = np.empty((table.num_rows, len(gene_ids)), dtype=np.float32)
    for j, gene in enumerate(gene_ids):
        matrix[:, j] = table.column(gene).to_numpy(zero_copy_only=False)
    raw_symbols = (table.schema.metadata or {}).get(schema.SYMBOLS_METADATA_KEY)
    symbols = json.loads(raw_symbols) if raw_symbols else [""] * len(gene_ids)

    # Align rows on sample name.
    position = pd.Series(np.arange(len(names)), index=names)
    shared = samples[schema.NAME].astype(str).isin(position.index)
    if not shared.any():
        raise DataError(f"no sample of {samples_path} appears in {expressions_path}")
    if (~shared).any() or shared.sum() != len(names):
        logger.warning(
            "%s samples appear in only one of the two files and are dropped",
            int((~shared).sum()) + len(names) - int(shared.sum()),
        )
    samples = samples.loc[shared].reset_index(drop=True)
    rows = position.loc[samples[schema.NAME].astype(str)].to_numpy()
    return PreparedData(samples, matrix[rows], gene_ids, symbols)
