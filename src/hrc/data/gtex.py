"""Import the GTEx v8 files into the prepared pair of parquet files.

Inputs, as downloaded from the GTEx portal (open-access tier):

- an expression matrix in GCT 1.2, plain or gzipped, such as
  ``GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz``;
- the subject phenotypes ``GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt``
  (``SUBJID``, ``SEX`` 1 male / 2 female, ``AGE`` bracket, ``DTHHRDY`` Hardy
  scale, blank when unknown);
- optionally a sample table giving each sample its tissue: either the sample
  attributes ``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt`` (tab
  separated, ``SAMPID``, ``SMTS``, ``SMTSD``, ``SMAFRZE``, ``SMCENTER``) or a
  portal export of tissue samples (CSV, ``Tissue Sample ID``, ``Tissue``,
  ``Hardy Scale``, ...). The kind is told from the header line.

A sample belongs to the donor named by the first two dash fields of its id.
Samples whose donor is not in the subject table are dropped with a warning;
samples without tissue information keep ``Tissue`` and ``Subtissue`` empty.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from hrc.data import schema
from hrc.data.dataset import write_prepared
from hrc.data.gct import read_gct, read_gct_header
from hrc.data.tissues import DETAILED_TO_BROAD
from hrc.errors import DataError, UsageError
from hrc.preprocess import read_custom_genes

logger = logging.getLogger(__name__)

ATTRIBUTES_ID = "SAMPID"
PORTAL_ID = "Tissue Sample ID"
SUBJECT_COLUMNS = ("SUBJID", "SEX", "AGE", "DTHHRDY")
GTEX_SEX = {1: "male", 2: "female"}

# Hardy scale as the portal spells it, lower-cased; two spellings each.
HARDY_TEXT = {
    "ventilator case": 0,
    "fast death - violent": 1,
    "violent and fast death": 1,
    "fast death - natural causes": 2,
    "fast death of natural causes": 2,
    "intermediate death": 3,
    "slow death": 4,
}


def import_gtex(
    expression: str | os.PathLike,
    subjects: str | os.PathLike,
    samples: str | os.PathLike | None = None,
    out_dir: str | os.PathLike = Path("data") / "gtex",
    genes: int | None = None,
    custom_gene_path: str | os.PathLike | None = None,
    progress: bool = True,
) -> tuple[Path, Path]:
    """Build ``v8_samples.parquet`` and ``v8_expressions.parquet`` from GTEx files.

    Parameters
    ----------
    expression : path-like
        GCT 1.2 matrix (TPM or read counts), plain or gzipped.
    subjects : path-like
        Subject phenotype table (``SUBJID``, ``SEX``, ``AGE``, ``DTHHRDY``).
    samples : path-like, optional
        Sample attributes (``SAMPID`` ...) or portal sample CSV
        (``Tissue Sample ID`` ...), for tissue, site and Hardy scale.
    out_dir : path-like
        Folder receiving the prepared pair; nothing is written on error.
    genes : int, optional
        Keep the ``genes`` genes with the highest variance of ``log2(x + 1)``.
    custom_gene_path : path-like, optional
        CSV with an ``ids`` column of Ensembl ids to keep (with or without
        version suffix). Not together with ``genes``.
    progress : bool
        Show progress bars while the matrix streams.

    Returns
    -------
    tuple of Path
        Paths of the samples and the expressions files.

    Raises
    ------
    UsageError
        If ``genes`` is not a positive integer or is given with
        ``custom_gene_path``.
    DataError
        If an input file is missing or malformed, or nothing matches.
    """
    # Options first, then every file is read before anything is written.
    if genes is not None and custom_gene_path is not None:
        raise UsageError("--genes and --custom_gene_path exclude each other; give one")
    if genes is not None and (isinstance(genes, bool) or int(genes) < 1):
        raise UsageError(f"--genes: {genes!r} is not accepted; give an integer >= 1")
    if samples is not None:
        detect_samples_kind(samples)
    gene_ids = read_custom_genes(custom_gene_path) if custom_gene_path else None
    subject_table = read_subjects(subjects)
    sample_ids = read_gct_header(expression)

    # One row per sample of the matrix, dropping samples of unknown donors.
    table = build_samples_table(sample_ids, subject_table, expression, subjects)
    if samples is not None:
        table = attach_sample_info(table, samples)
    matrix = read_gct(
        expression,
        sample_ids=table[schema.NAME].tolist(),
        gene_ids=gene_ids,
        top_variance=genes,
        progress=progress,
    )
    return write_prepared(
        out_dir, table, matrix.expression, matrix.gene_ids, matrix.gene_symbols
    )


def read_subjects(path: str | os.PathLike) -> pd.DataFrame:
    """Read the subject phenotype table, indexed by donor id.

    Returns
    -------
    pandas.DataFrame
        Index ``SUBJID``; columns ``Sex`` (``"male"``/``"female"``), ``Age``
        (bracket) and ``Death`` (nullable Hardy scale 0-4).

    Raises
    ------
    DataError
        If the file is missing, lacks a column, or holds an unknown value.
    """
    table = _read_table(path, "--subjects", sep="\t", dtype=str)
    _require_columns(table, SUBJECT_COLUMNS, path, "--subjects")
    table = table.dropna(subset=["SUBJID"]).drop_duplicates("SUBJID")

    # Sex coded 1/2, age a known bracket, Hardy scale 0-4 or blank.
    sex = pd.to_numeric(table["SEX"], errors="coerce").map(GTEX_SEX)
    _reject_unknown(table["SEX"], sex.isna(), path, "SEX", "1 (male), 2 (female)")
    age = table["AGE"].str.strip()
    bad_age = ~age.isin(schema.AGE_BRACKETS)
    _reject_unknown(table["AGE"], bad_age, path, "AGE", ", ".join(schema.AGE_BRACKETS))
    death = pd.to_numeric(table["DTHHRDY"], errors="coerce").astype("Int64")
    bad_death = table["DTHHRDY"].notna() & ~death.isin(schema.HARDY_SCALE)
    _reject_unknown(table["DTHHRDY"], bad_death, path, "DTHHRDY", "0-4 or blank")
    return pd.DataFrame(
        {
            schema.SEX: sex.to_numpy(),
            schema.AGE: age.to_numpy(),
            schema.DEATH: death.array,
        },
        index=pd.Index(table["SUBJID"].str.strip(), name="SUBJID"),
    ).astype({schema.DEATH: "Int64"})


def build_samples_table(
    sample_ids: list[str],
    subjects: pd.DataFrame,
    expression: str | os.PathLike = "expression file",
    subjects_path: str | os.PathLike = "subject table",
) -> pd.DataFrame:
    """Return the samples table for ``sample_ids`` from the subject phenotypes.

    Samples whose donor is not in ``subjects`` are dropped with a warning;
    the others keep the order of ``sample_ids``. ``Tissue``, ``Subtissue``
    and ``Site`` are left empty for :func:`attach_sample_info`.

    Raises
    ------
    DataError
        If no sample belongs to a donor of ``subjects``.
    """
    donors = pd.Series([_donor(s, expression) for s in sample_ids])
    known = donors.isin(subjects.index).to_numpy()
    if not known.any():
        raise DataError(
            f"--expression: no sample id of {expression} (e.g. {sample_ids[0]!r}) "
            f"belongs to a donor of {subjects_path}"
        )
    if not known.all():
        logger.warning(
            "%s of %s samples belong to no donor of %s and are dropped (e.g. %s)",
            int((~known).sum()),
            len(sample_ids),
            subjects_path,
            np.asarray(sample_ids)[~known][0],
        )

    # Phenotypes come from the donor; tissue and site are filled in later.
    names = np.asarray(sample_ids, dtype=object)[known]
    donor_rows = subjects.loc[donors[known]]
    table = pd.DataFrame(
        {
            schema.NAME: names,
            schema.TISSUE: pd.Series([None] * len(names), dtype=object),
            schema.SUBTISSUE: pd.Series([None] * len(names), dtype=object),
            schema.SEX: donor_rows[schema.SEX].to_numpy(),
            schema.AGE: donor_rows[schema.AGE].to_numpy(),
            schema.DEATH: donor_rows[schema.DEATH].to_numpy(),
            schema.AVG_AGE: donor_rows[schema.AGE].map(schema.age_midpoint).to_numpy(),
            schema.DONOR: donors[known].to_numpy(),
            schema.SITE: pd.Series([None] * len(names), dtype=object),
        }
    )
    logger.info("%s samples from %s donors", len(table), table[schema.DONOR].nunique())
    return table.astype({schema.DEATH: "Int64", schema.AVG_AGE: "float64"})


def attach_sample_info(table: pd.DataFrame, path: str | os.PathLike) -> pd.DataFrame:
    """Fill tissue, site and missing Hardy scale from a sample table.

    ``path`` is either the GTEx sample attributes (``SAMPID`` ...) or a portal
    export (``Tissue Sample ID`` ...); the header line tells which.

    Raises
    ------
    DataError
        If the file is missing or has neither header.
    """
    kind = detect_samples_kind(path)
    table = table.copy()
    if kind == "attributes":
        info = read_sample_attributes(path).reindex(table[schema.NAME])
        table[schema.SITE] = info[schema.SITE].to_numpy()
    else:
        keys = table[schema.NAME].map(schema.tissue_sample_of)
        info = read_portal_samples(path).reindex(keys)
        _fill_death(table, info["portal_death"].to_numpy(), path)
    table[schema.TISSUE] = info[schema.TISSUE].to_numpy()
    table[schema.SUBTISSUE] = info[schema.SUBTISSUE].to_numpy()
    logger.info(
        "tissue known for %s of %s samples (from %s)",
        int(table[schema.SUBTISSUE].notna().sum()),
        len(table),
        path,
    )
    return table


def detect_samples_kind(path: str | os.PathLike) -> str:
    """Return ``"attributes"`` or ``"portal"`` from the header of ``path``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--samples: file not found: {path}")
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    if header.split("\t")[0].strip() == ATTRIBUTES_ID:
        return "attributes"
    first = next(csv.reader([header]), [""])
    if first and first[0].strip().lstrip("\ufeff") == PORTAL_ID:
        return "portal"
    raise DataError(
        f"--samples: {path} is neither GTEx sample attributes (first column "
        f"{ATTRIBUTES_ID!r}) nor a portal sample CSV (first column {PORTAL_ID!r})"
    )


def read_sample_attributes(path: str | os.PathLike) -> pd.DataFrame:
    """Read the GTEx sample attributes of the RNA-seq samples.

    Keeps ``SMAFRZE == "RNASEQ"`` and drops rows whose id has no donor part
    (cell lines such as K-562).

    Returns
    -------
    pandas.DataFrame
        Index sample id; columns ``Tissue`` (``SMTS``), ``Subtissue``
        (``SMTSD``) and ``Site`` (``SMCENTER``).
    """
    columns = (ATTRIBUTES_ID, "SMTS", "SMTSD", "SMAFRZE", "SMCENTER")
    table = _read_table(path, "--samples", sep="\t", dtype=str)
    _require_columns(table, columns, path, "--samples")
    table = table.loc[table["SMAFRZE"].str.strip() == "RNASEQ"]

    # Cell lines (K-562 ...) have ids with no donor part: no phenotype to join.
    has_donor = table[ATTRIBUTES_ID].str.match(r"^[^-]+-[^-]+-")
    if (~has_donor).any():
        logger.debug("%s sample rows without a donor dropped", int((~has_donor).sum()))
    table = table.loc[has_donor].drop_duplicates(ATTRIBUTES_ID)
    return pd.DataFrame(
        {
            schema.TISSUE: table["SMTS"].str.strip().to_numpy(),
            schema.SUBTISSUE: table["SMTSD"].str.strip().to_numpy(),
            schema.SITE: table["SMCENTER"].str.strip().to_numpy(),
        },
        index=pd.Index(table[ATTRIBUTES_ID].str.strip(), name=ATTRIBUTES_ID),
    )


def read_portal_samples(path: str | os.PathLike) -> pd.DataFrame:
    """Read a GTEx portal sample export, indexed by tissue-sample id.

    The broad tissue comes from :data:`hrc.data.tissues.DETAILED_TO_BROAD`;
    the Hardy scale text becomes 0-4 (ventilator case 0, violent and fast 1,
    fast of natural causes 2, intermediate 3, slow 4).

    Returns
    -------
    pandas.DataFrame
        Index tissue-sample id; columns ``Tissue``, ``Subtissue`` and
        ``portal_death`` (nullable Hardy scale).
    """
    columns = (PORTAL_ID, "Tissue", "Hardy Scale")
    table = _read_table(path, "--samples", usecols=list(columns), dtype=str)
    table = table.dropna(subset=[PORTAL_ID]).drop_duplicates(PORTAL_ID)

    # Detailed tissue -> broad tissue; unknown names keep no broad tissue.
    detailed = table["Tissue"].str.strip()
    broad = detailed.map(DETAILED_TO_BROAD)
    unknown = detailed.notna() & broad.isna()
    if unknown.any():
        logger.warning(
            "%s portal samples have a tissue outside the v8 catalogue (e.g. %r); "
            "their broad tissue is left empty",
            int(unknown.sum()),
            detailed[unknown].iloc[0],
        )

    # Hardy scale text -> 0-4; unknown wording is left empty with a warning.
    hardy_text = table["Hardy Scale"].str.strip().str.lower()
    death = hardy_text.map(HARDY_TEXT).astype("Int64")
    odd = hardy_text.notna() & death.isna()
    if odd.any():
        logger.warning(
            "%s portal samples have an unknown Hardy Scale (e.g. %r); left empty",
            int(odd.sum()),
            table["Hardy Scale"][odd].iloc[0],
        )
    return pd.DataFrame(
        {
            schema.TISSUE: broad.to_numpy(),
            schema.SUBTISSUE: detailed.to_numpy(),
            "portal_death": death.to_numpy(),
        },
        index=pd.Index(table[PORTAL_ID].str.strip(), name=PORTAL_ID),
    )


def _fill_death(
    table: pd.DataFrame, portal: np.ndarray, path: str | os.PathLike
) -> None:
    """Fill blank Hardy scales from the portal; the subject table wins otherwise."""
    portal = pd.array(portal, dtype="Int64")
    subject = table[schema.DEATH].array
    both = ~pd.isna(subject) & ~pd.isna(portal)
    disagree = int((both & (subject != portal)).sum())
    if disagree:
        logger.warning(
            "%s samples have a Hardy scale in %s that differs from the subject "
            "table; the subject table is kept",
            disagree,
            path,
        )
    filled = pd.isna(subject) & ~pd.isna(portal)
    if filled.any():
        logger.info(
            "Hardy scale filled from %s for %s samples", path, int(filled.sum())
        )
    table[schema.DEATH] = pd.array(np.where(filled, portal, subject), dtype="Int64")


def _donor(sample_id: str, expression: str | os.PathLike) -> str:
    """Return the donor of a sample id, as a DataError for malformed ids."""
    try:
        return schema.donor_of(sample_id)
    except UsageError as exc:
        raise DataError(f"--expression: {expression}: {exc}") from exc


def _read_table(path: str | os.PathLike, option: str, **kwargs) -> pd.DataFrame:
    """Read a delimited text file, turning read failures into DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{option}: file not found: {path}")
    try:
        return pd.read_csv(path, **kwargs)
    except ValueError as exc:  # parser errors, missing usecols, bad encoding
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{option}: cannot read {path}: {reason}") from exc


def _require_columns(
    table: pd.DataFrame, columns: tuple[str, ...], path: str | os.PathLike, option: str
) -> None:
    """Raise DataError naming the columns of ``columns`` missing from ``table``."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"{option}: {path} lacks column(s) {', '.join(missing)}; "
            f"expected {', '.join(columns)}"
        )


def _reject_unknown(
    raw: pd.Series, bad: pd.Series, path: str | os.PathLike, column: str, accepted: str
) -> None:
    """Raise DataError for the first value of ``raw`` flagged by ``bad``."""
    if bad.any():
        raise DataError(
            f"--subjects: {path} column {column} holds {raw[bad].iloc[0]!r}; "
            f"accepted: {accepted}"
        )
