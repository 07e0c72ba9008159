"""Write a cohort as the three GTEx v8 files a user downloads from the portal.

The synthetic cohort uses these writers so the GTEx importer can be run end to
end without real data. The layouts are those of the v8 release:

``GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz``
    GCT 1.2: line 1 ``#1.2``, line 2 ``<n_genes>\\t<n_samples>``, line 3
    ``Name\\tDescription\\t<sample ids>``, then one row per gene (versioned
    Ensembl id, symbol, one value per sample); gzipped when the name ends
    ``.gz``.
``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt``
    Tab-separated, one row per sample (``SAMPID``, ``SMTS``, ``SMTSD``,
    ``SMCENTER``, ``SMAFRZE`` ...). As in the real file, it also holds rows
    that are not in the expression matrix (DNA sequencing aliquots and a K-562
    cell-line control), whose ``SMAFRZE`` is not ``RNASEQ``.
``GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt``
    Tab-separated ``SUBJID``, ``SEX`` (1 male, 2 female), ``AGE`` (bracket),
    ``DTHHRDY`` (Hardy scale 0-4, blank when unknown).
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hrc.data import schema
from hrc.data.dataset import PreparedData
from hrc.io import atomic_path

logger = logging.getLogger(__name__)

GCT_FILE = "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz"
ATTRIBUTES_FILE = "GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt"
SUBJECTS_FILE = "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt"

# Columns of the sample attributes file, in the order of the v8 release.
ATTRIBUTE_COLUMNS = (
    "SAMPID",
    "SMATSSCR",
    "SMCENTER",
    "SMPTHNTS",
    "SMRIN",
    "SMTS",
    "SMTSD",
    "SMUBRID",
    "SMTSISCH",
    "SMTSPAX",
    "SMNABTCH",
    "SMNABTCHT",
    "SMNABTCHD",
    "SMGEBTCH",
    "SMGEBTCHD",
    "SMGEBTCHT",
    "SMAFRZE",
)
SUBJECT_COLUMNS = ("SUBJID", "SEX", "AGE", "DTHHRDY")
GTEX_SEX_CODE = {"male": 1, "female": 2}
GCT_DECIMALS = 3  # TPM written with three decimals
GCT_ROWS_PER_BLOCK = 256  # genes formatted per step


def write_gtex_files(
    out_dir: str | Path,
    cohort: PreparedData,
    seed: int = 0,
    progress: bool = False,
) -> list[Path]:
    """Write the GCT matrix, sample attributes and subject phenotypes.

    Parameters
    ----------
    out_dir : path-like
        Destination folder, created if needed.
    cohort : PreparedData
        Samples table (with ``Donor`` and ``Site``), TPM matrix, gene ids and
        symbols.
    seed : int
        Seed of the made-up sample details (RIN, ischemic time, batches).
    progress : bool
        Show a progress bar while the GCT matrix is written.

    Returns
    -------
    list of Path
        The GCT, sample attributes and subject phenotype files.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(5)[4])
    gct = write_gct(
        out_dir / GCT_FILE,
        cohort.samples[schema.NAME].tolist(),
        cohort.gene_ids,
        cohort.gene_symbols,
        cohort.expression,
        progress=progress,
    )
    attributes = write_sample_attributes(out_dir / ATTRIBUTES_FILE, cohort.samples, rng)
    subjects = write_subject_phenotypes(out_dir / SUBJECTS_FILE, cohort.samples)
    logger.info("wrote GTEx-format files to %s", out_dir)
    return [gct, attributes, subjects]


def write_gct(
    path: str | Path,
    sample_ids: list[str],
    gene_ids: list[str],
    gene_symbols: list[str],
    expression: np.ndarray,
    progress: bool = False,
) -> Path:
    """Write a GCT 1.2 matrix, genes as rows, gzipped if ``path`` ends ``.gz``.

    Parameters
    ----------
    path : path-like
        Output file.
    sample_ids : list of str
        Column names, one per row of ``expression``.
    gene_ids, gene_symbols : list of str
        ``Name`` and ``Description`` of each gene row.
    expression : numpy.ndarray
        ``(n_samples, n_genes)`` matrix; written transposed, rounded to
        :data:`GCT_DECIMALS` decimals.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    n_samples, n_genes = expression.shape
    header = (
        f"#1.2\n{n_genes}\t{n_samples}\n"
        + "\t".join(["Name", "Description", *sample_ids])
        + "\n"
    )
    starts = range(0, n_genes, GCT_ROWS_PER_BLOCK)
    if progress:
        from rich.progress import track

        starts = track(starts, description="writing GCT")

    # Header by hand, then blocks of gene rows formatted by Arrow compute.
    with atomic_path(path) as tmp, _open_output(tmp, path.name) as stream:
        stream.write(header.encode())
        for start in starts:
            rows = slice(start, min(start + GCT_ROWS_PER_BLOCK, n_genes))
            stream.write(
                _gct_rows(gene_ids[rows], gene_symbols[rows], expression[:, rows])
            )
    return path


def _open_output(tmp: Path, name: str) -> BinaryIO:
    """Open ``tmp`` for writing, gzipped (level 6) when ``name`` ends ``.gz``."""
    if name.endswith(".gz"):
        return gzip.open(tmp, "wb", compresslevel=6)
    return open(tmp, "wb")


def _gct_rows(ids: list[str], symbols: list[str], block: np.ndarray) -> bytes:
    """Text of GCT rows: id, symbol and the rounded values of each gene column."""
    values = np.round(block.T.astype(np.float64), GCT_DECIMALS)
    text = pc.cast(pa.array(values.ravel()), pa.string())
    offsets = pa.array(np.arange(0, values.size + 1, values.shape[1], dtype=np.int32))
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, text), "\t")
    lines = pc.binary_join_element_wise(pa.array(ids), pa.array(symbols), joined, "\t")
    return ("\n".join(lines.to_pylist()) + "\n").encode()


def write_sample_attributes(
    path: str | Path, samples: pd.DataFrame, rng: np.random.Generator
) -> Path:
    """Write the sample attributes table of ``samples``.

    Tissue (``SMTS``, ``SMTSD``) and site (``SMCENTER``) come from the samples
    table; RIN, autolysis score, ischemic and fixative times and batch ids are
    drawn at random in plausible ranges; ``SMUBRID`` and ``SMPTHNTS`` are
    left blank. Each donor also gets a DNA aliquot (``SMAFRZE`` ``WGS``) and
    one K-562 control row is added, neither of them in the GCT matrix.
    """
    n = len(samples)
    n_batches = max(1, n // 60)
    batch_of = rng.integers(0, n_batches, n)
    batch_days = np.sort(rng.integers(0, 6 * 365, n_batches))
    attributes = pd.DataFrame(
        {
            "SAMPID": samples[schema.NAME].to_numpy(),
            "SMATSSCR": rng.choice([0, 1, 2, 3], n, p=[0.25, 0.5, 0.2, 0.05]),
            "SMCENTER": samples[schema.SITE].to_numpy(),
            "SMPTHNTS": "",
            "SMRIN": np.round(np.clip(rng.normal(7.3, 0.9, n), 3.0, 10.0), 1),
            "SMTS": samples[schema.TISSUE].to_numpy(),
            "SMTSD": samples[schema.SUBTISSUE].to_numpy(),
            "SMUBRID": "",
            "SMTSISCH": rng.integers(30, 1_500, n),
            "SMTSPAX": rng.integers(250, 1_400, n),
            "SMNABTCH": [f"BP-{40_000 + b}" for b in batch_of],
            "SMNABTCHT": "RNA isolation_PAXgene Tissue miRNA",
            "SMNABTCHD": _dates(batch_of, batch_days, 0),
            "SMGEBTCH": [f"LCSET-{4_000 + b}" for b in batch_of],
            "SMGEBTCHD": _dates(batch_of, batch_days, 21),
            "SMGEBTCHT": "TruSeq.v1",
            "SMAFRZE": "RNASEQ",
        }
    )

    # Rows the expression matrix does not hold: DNA aliquots and a cell line.
    donors = samples[schema.DONOR].drop_duplicates().to_numpy()
    extra = pd.DataFrame(
        {
            "SAMPID": [f"{d}-0001-SM-D{i:05d}" for i, d in enumerate(donors)]
            + ["K-562-SM-D99999"],
            "SMCENTER": list(samples.drop_duplicates(schema.DONOR)[schema.SITE])
            + ["B1"],
            "SMTS": ["Blood"] * len(donors) + ["Bone Marrow"],
            "SMTSD": ["Whole Blood"] * len(donors)
            + ["Cells - Leukemia cell line (CML)"],
            "SMNABTCHT": "DNA isolation_Whole Blood_QIAGEN Puregene (Manual)",
            "SMAFRZE": ["WGS"] * len(donors) + ["EXCLUDE"],
        }
    )
    table = pd.concat([attributes, extra], ignore_index=True)
    table = table.reindex(columns=list(ATTRIBUTE_COLUMNS))
    for column in ("SMATSSCR", "SMTSISCH", "SMTSPAX"):
        table[column] = table[column].astype("Int64")
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return Path(path)


def write_subject_phenotypes(path: str | Path, samples: pd.DataFrame) -> Path:
    """Write one row per donor: id, sex code, age bracket, Hardy scale."""
    donors = samples.drop_duplicates(schema.DONOR).sort_values(schema.DONOR)
    death = donors[schema.DEATH].astype("Int64")
    table = pd.DataFrame(
        {
            "SUBJID": donors[schema.DONOR].to_numpy(),
            "SEX": donors[schema.SEX].map(GTEX_SEX_CODE).to_numpy(),
            "AGE": donors[schema.AGE].to_numpy(),
            "DTHHRDY": [("" if pd.isna(v) else str(int(v))) for v in death],
        }
    )
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return Path(path)


def _dates(batch: np.ndarray, days: np.ndarray, delay: int) -> list[str]:
    """``MM/DD/YYYY`` of each batch: ``days`` after 2011-01-01, plus ``delay``."""
    dates = pd.Timestamp("2011-01-01") + pd.to_timedelta(days + delay, unit="D")
    text = dates.strftime("%m/%d/%Y").to_numpy()
    return list(text[batch])
