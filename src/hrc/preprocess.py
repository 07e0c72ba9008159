"""Turn TPM expression into model inputs, fitted on training samples only.

The steps follow the usual GTEx recipe:

1. scale expression as ``log2(TPM + 1)``;
2. keep genes expressed (TPM above ``expression_threshold``, 0.1 by default,
   the threshold of the GTEx eQTL analysis) in at least
   ``min_expressed_fraction`` of the training samples (GTEx eQTL asks for 20%;
   HRC's default is 10% because a classifier can use rarely expressed genes);
3. select the ``n_genes`` genes of highest variance of ``log2(TPM + 1)``, or
   the genes of a custom list instead;
4. standardise each selected gene by its training mean and standard deviation
   (a standard deviation of 0 is replaced by 1);
5. optionally append tissue and sex as one-hot columns.

Everything the preprocessor learns comes from per-client sufficient
statistics (:class:`GeneSummary`: sample count, expressed counts, sums and
sums of squares per gene, category counts), added up at the server. A pooled
fit is the same computation with one summary, so a federated fit equals the
pooled fit up to float rounding and no client ever shares a sample.

References
----------
GTEx Consortium (2020). The GTEx Consortium atlas of genetic regulatory
effects across human tissues. Science 369(6509), 1318-1330.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hrc.data import schema
from hrc.errors import DataError, UsageError, choice_error

logger = logging.getLogger(__name__)

DEFAULT_EXPRESSION_THRESHOLD = 0.1  # TPM, as in the GTEx eQTL gene filter
COVARIATES: dict[str, str] = {"tissue": schema.TISSUE, "sex": schema.SEX}
CUSTOM_GENES_COLUMN = "ids"
_CHUNK_VALUES = 1 << 22  # matrix entries log-scaled at a time (32 MB in float64)
_MIN_SCALE = 1e-8  # a standard deviation below this counts as 0


@dataclass
class GeneSummary:
    """Sufficient statistics of one client's samples (or of pooled samples).

    Summaries add up with ``+``; the sum of the clients' summaries equals the
    summary of their pooled samples.

    Attributes
    ----------
    n_samples : int
        Number of samples summarised.
    expressed : numpy.ndarray
        ``(n_genes,)`` int64, samples with TPM above the threshold, per gene.
    total : numpy.ndarray
        ``(n_genes,)`` float64, sum of ``log2(TPM + 1)`` per gene.
    total_sq : numpy.ndarray
        ``(n_genes,)`` float64, sum of squares of ``log2(TPM + 1)`` per gene.
    categories : dict
        Covariate name -> category -> number of samples.
    """

    n_samples: int
    expressed: np.ndarray
    total: np.ndarray
    total_sq: np.ndarray
    categories: dict[str, dict[str, int]] = field(default_factory=dict)

    def __add__(self, other: GeneSummary) -> GeneSummary:
        if not isinstance(other, GeneSummary):
            return NotImplemented
        if self.total.shape != other.total.shape:
            raise DataError(
                f"cannot add summaries of {self.total.shape[0]} and "
                f"{other.total.shape[0]} genes; every client must hold the same genes"
            )
        categories: dict[str, dict[str, int]] = {}
        for name in sorted(set(self.categories) | set(other.categories)):
            mine, theirs = self.categories.get(name, {}), other.categories.get(name, {})
            categories[name] = {
                key: int(mine.get(key, 0)) + int(theirs.get(key, 0))
                for key in sorted(set(mine) | set(theirs))
            }
        return GeneSummary(
            n_samples=self.n_samples + other.n_samples,
            expressed=self.expressed + other.expressed,
            total=self.total + other.total,
            total_sq=self.total_sq + other.total_sq,
            categories=categories,
        )

    def __radd__(self, other: object) -> GeneSummary:
        # Lets sum() start from 0.
        if other == 0:
            return self
        return NotImplemented


def summarize(
    expression: np.ndarray,
    samples: pd.DataFrame | None = None,
    covariates: Sequence[str] = (),
    expression_threshold: float = DEFAULT_EXPRESSION_THRESHOLD,
) -> GeneSummary:
    """Compute the sufficient statistics of a block of samples.

    Parameters
    ----------
    expression : numpy.ndarray
        ``(n_samples, n_genes)`` TPM, not log-scaled.
    samples : pandas.DataFrame, optional
        Samples table aligned with ``expression``; needed for covariates.
    covariates : sequence of str
        Any of ``"tissue"``, ``"sex"``; their category counts are recorded.
    expression_threshold : float
        TPM above which a gene counts as expressed in a sample.

    Returns
    -------
    GeneSummary
        Float64 sums of ``log2(TPM + 1)`` and of its square, and counts.

    Raises
    ------
    DataError
        If the matrix holds negative or NaN values, or ``samples`` does not
        match it.
    """
    expression = np.asarray(expression)
    if expression.ndim != 2:
        raise DataError(
            f"expression must be a 2-D matrix, got shape {expression.shape}"
        )
    n_samples, n_genes = expression.shape
    columns = _covariate_columns(covariates)

    # Accumulate per gene in float64, a block of rows at a time.
    expressed = np.zeros(n_genes, dtype=np.int64)
    total = np.zeros(n_genes, dtype=np.float64)
    total_sq = np.zeros(n_genes, dtype=np.float64)
    step = _rows_per_chunk(n_genes)
    for start in range(0, n_samples, step):
        block = expression[start : start + step]
        expressed += (block > expression_threshold).sum(axis=0)
        logged = _log_tpm(block)
        total += logged.sum(axis=0)
        total_sq += np.square(logged).sum(axis=0)

    # Category counts of the covariates.
    categories: dict[str, dict[str, int]] = {}
    if columns:
        _check_samples(samples, n_samples, columns)
        for name, column in columns.items():
            counts = samples[column].dropna().astype(str).value_counts()
            categories[name] = {str(k): int(counts[k]) for k in sorted(counts.index)}
    return GeneSummary(n_samples, expressed, total, total_sq, categories)


def read_custom_genes(path: str | Path) -> list[str]:
    """Read a custom gene list: a CSV file with an ``ids`` column.

    Parameters
    ----------
    path : path-like
        CSV file; the ``ids`` column holds Ensembl gene ids, with or without
        version suffix (``ENSG00000012048.20`` or ``ENSG00000012048``).

    Returns
    -------
    list of str
        The ids in file order, blanks and duplicates removed.

    Raises
    ------
    DataError
        If the file is missing, unreadable, has no ``ids`` column or no id.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--custom_gene_path: file not found: {path}")
    try:
        table = pd.read_csv(path, dtype=str)
    except Exception as exc:  # pandas raises several parser error types
        raise DataError(
            f"--custom_gene_path: cannot read {path} as CSV: {exc}"
        ) from exc
    if CUSTOM_GENES_COLUMN not in table.columns:
        found = ", ".join(map(str, table.columns)) or "none"
        raise DataError(
            f"--custom_gene_path: {path} has no {CUSTOM_GENES_COLUMN!r} column "
            f"(columns: {found}); put one Ensembl id per row under 'ids'"
        )
    ids = [s.strip() for s in table[CUSTOM_GENES_COLUMN].dropna() if s.strip()]
    if not ids:
        raise DataError(f"--custom_gene_path: {path} lists no gene id")
    return list(dict.fromkeys(ids))


class Preprocessor:
    """Gene filter, gene selection, standard scaling and covariates.

    Parameters
    ----------
    n_genes : int
        Number of genes kept, by variance of ``log2(TPM + 1)``; ignored when
        ``custom_gene_ids`` is given.
    min_expressed_fraction : float
        A gene must be expressed in at least this share of training samples.
    expression_threshold : float
        TPM above which a gene counts as expressed.
    custom_gene_ids : list of str, optional
        Use these genes instead of the variance selection (no expression
        filter). Ids match the data with or without version suffix.
    covariates : sequence of str
        Any of ``"tissue"``, ``"sex"``, appended as one-hot columns.

    Attributes
    ----------
    selected_gene_ids : list of str
        Versioned ids of the selected genes, in the data's column order.
    feature_names : list of str
        Selected gene ids, then ``"Tissue=<value>"`` / ``"Sex=<value>"``.
    mean_, scale_ : numpy.ndarray
        Training mean and standard deviation of each selected gene.
    categories_ : dict
        Covariate -> fitted category list (sorted).

    Examples
    --------
    >>> import numpy as np
    >>> tpm = np.array([[0.0, 3.0, 1.0], [1.0, 15.0, 1.0]])
    >>> prep = Preprocessor(n_genes=1).fit(tpm, ["g1", "g2", "g3"])
    >>> prep.selected_gene_ids
    ['g2']
    >>> prep.transform(tpm).ravel().tolist()
    [-1.0, 1.0]
    """

    def __init__(
        self,
        n_genes: int = 1000,
        min_expressed_fraction: float = 0.1,
        expression_threshold: float = DEFAULT_EXPRESSION_THRESHOLD,
        custom_gene_ids: Sequence[str] | None = None,
        covariates: Sequence[str] = (),
    ) -> None:
        if int(n_genes) < 1:
            raise UsageError(f"--n_genes: {n_genes} is below 1; give a positive count")
        if not 0.0 <= float(min_expressed_fraction) <= 1.0:
            raise UsageError(
                f"--min_expressed_fraction: {min_expressed_fraction} is outside "
                "[0, 1]; give a share of samples such as 0.1"
            )
        if float(expression_threshold) < 0:
            raise UsageError(
                f"expression_threshold: {expression_threshold} is negative; "
                "give a TPM value such as 0.1"
            )
        self.n_genes = int(n_genes)
        self.min_expressed_fraction = float(min_expressed_fraction)
        self.expression_threshold = float(expression_threshold)
        self.custom_gene_ids = list(custom_gene_ids) if custom_gene_ids else None
        self.covariates = tuple(_covariate_columns(covariates))
        self.gene_ids_: list[str] = []
        self.selected_index_: np.ndarray = np.empty(0, dtype=np.int64)
        self.selected_gene_ids: list[str] = []
        self.mean_: np.ndarray = np.empty(0)
        self.scale_: np.ndarray = np.empty(0)
        self.categories_: dict[str, list[str]] = {}
        self.n_fit_samples_: int = 0

    # Fitting ---------------------------------------------------------------

    def fit(
        self,
        expression: np.ndarray,
        gene_ids: Sequence[str],
        samples: pd.DataFrame | None = None,
    ) -> Preprocessor:
        """Fit on pooled training samples (centralized training).

        This is :meth:`fit_summaries` applied to one summary of all samples.
        """
        summary = summarize(
            expression, samples, self.covariates, self.expression_threshold
        )
        return self.fit_summaries([summary], gene_ids)

    def fit_summaries(
        self, summaries: Iterable[GeneSummary], gene_ids: Sequence[str]
    ) -> Preprocessor:
        """Fit from the clients' sufficient statistics (federated training).

        Parameters
        ----------
        summaries : iterable of GeneSummary
            One summary per client, from :func:`summarize` on its training
            samples.
        gene_ids : sequence of str
            Ids of the expression columns the summaries were computed on.

        Returns
        -------
        Preprocessor
            ``self``, fitted.
        """
        summaries = list(summaries)
        if not summaries:
            raise DataError("no client summary to fit the preprocessor on")
        combined = sum(summaries[1:], summaries[0])
        n = combined.n_samples
        if n < 1:
            raise DataError("the preprocessor needs at least one training sample")
        if len(gene_ids) != combined.total.shape[0]:
            raise DataError(
                f"{len(gene_ids)} gene ids given for summaries of "
                f"{combined.total.shape[0]} genes"
            )
        self.gene_ids_ = [str(g) for g in gene_ids]

        # Mean and (population) variance of log2(TPM + 1) from the sums.
        mean = combined.total / n
        variance = np.maximum(combined.total_sq / n - np.square(mean), 0.0)

        # Gene selection: custom list, or expressed genes of top variance.
        if self.custom_gene_ids is not None:
            index = _match_gene_ids(self.custom_gene_ids, self.gene_ids_)
        else:
            index = self._select_by_variance(combined, variance)
        self.selected_index_ = np.sort(index).astype(np.int64)
        self.selected_gene_ids = [self.gene_ids_[i] for i in self.selected_index_]

        # Standard scaling; a constant gene keeps scale 1.
        self.mean_ = mean[self.selected_index_]
        scale = np.sqrt(variance[self.selected_index_])
        self.scale_ = np.where(scale < _MIN_SCALE, 1.0, scale)

        # Covariate categories seen in training, sorted.
        self.categories_ = {
            name: sorted(k for k, v in combined.categories.get(name, {}).items() if v)
            for name in self.covariates
        }
        self.n_fit_samples_ = n
        logger.info(
            "preprocessor fitted on %s samples: %s genes selected of %s%s",
            n,
            len(self.selected_gene_ids),
            len(self.gene_ids_),
            f", covariates {', '.join(self.covariates)}" if self.covariates else "",
        )
        return self

    def _select_by_variance(
        self, combined: GeneSummary, variance: np.ndarray
    ) -> np.ndarray:
        """Indices of the expressed genes of highest variance."""
        needed = self.min_expressed_fraction * combined.n_samples
        kept = np.flatnonzero(combined.expressed >= needed - 1e-9)
        if kept.size == 0:
            raise DataError(
                f"no gene has TPM > {self.expression_threshold} in at least "
                f"{self.min_expressed_fraction:.0%} of the {combined.n_samples} "
                "training samples; lower --min_expressed_fraction"
            )
        logger.debug(
            "%s of %s genes pass the expression filter", kept.size, variance.size
        )
        if self.n_genes >= kept.size:
            if self.n_genes > kept.size:
                logger.info(
                    "--n_genes %s: only %s genes pass the expression filter; "
                    "using all of them",
                    self.n_genes,
                    kept.size,
                )
            return kept
        # Highest variance first; ties broken by column order.
        order = np.lexsort((kept, -variance[kept]))
        return kept[order[: self.n_genes]]

    # Applying --------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` or :meth:`fit_summaries` has run."""
        return bool(self.gene_ids_)

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns: genes, then one-hot covariates."""
        names = list(self.selected_gene_ids)
        for name in self.covariates:
            column = COVARIATES[name]
            names += [f"{column}={value}" for value in self.categories_.get(name, [])]
        return names

    @property
    def n_features(self) -> int:
        """Number of output columns."""
        return len(self.feature_names)

    def transform(
        self,
        expression: np.ndarray,
        samples: pd.DataFrame | None = None,
        gene_ids: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Apply the fitted steps to any samples (training or test).

        Parameters
        ----------
        expression : numpy.ndarray
            ``(n_samples, n_genes)`` TPM with the columns of the fit.
        samples : pandas.DataFrame, optional
            Samples table aligned with ``expression``; needed for covariates.
        gene_ids : sequence of str, optional
            Column ids of ``expression`` when they differ from the fit's
            (a node's own file); the selected genes are looked up by id.

        Returns
        -------
        numpy.ndarray
            ``(n_samples, n_features)`` float32. A covariate category not seen
            in training gives a row of zeros in that covariate's columns.
        """
        if not self.is_fitted:
            raise DataError("the preprocessor is not fitted; call fit() first")
        expression = np.asarray(expression)
        columns = self._columns_for(expression, gene_ids)

        # Selected genes: log-scale and standardise, a block of rows at a time.
        genes = np.empty((expression.shape[0], len(columns)), dtype=np.float32)
        step = _rows_per_chunk(len(columns))
        for start in range(0, expression.shape[0], step):
            block = _log_tpm(expression[start : start + step][:, columns])
            genes[start : start + step] = (block - self.mean_) / self.scale_
        if not self.covariates:
            return genes

        # One-hot covariates with the fitted category lists.
        covariate_columns = _covariate_columns(self.covariates)
        _check_samples(samples, expression.shape[0], covariate_columns)
        blocks = [genes]
        for name, column in covariate_columns.items():
            values = samples[column].astype("string").fillna("").to_numpy(str)
            categories = self.categories_.get(name, [])
            blocks.append(
                np.stack([values == c for c in categories], axis=1).astype(np.float32)
                if categories
                else np.zeros((len(values), 0), dtype=np.float32)
            )
        return np.concatenate(blocks, axis=1)

    def _columns_for(
        self, expression: np.ndarray, gene_ids: Sequence[str] | None
    ) -> np.ndarray:
        """Column positions of the selected genes in ``expression``."""
        if gene_ids is None:
            if expression.ndim != 2 or expression.shape[1] != len(self.gene_ids_):
                raise DataError(
                    f"expression has shape {expression.shape}; the preprocessor "
                    f"was fitted on {len(self.gene_ids_)} genes"
                )
            return self.selected_index_
        position = {str(g): i for i, g in enumerate(gene_ids)}
        missing = [g for g in self.selected_gene_ids if g not in position]
        if missing:
            raise DataError(
                f"{len(missing)} selected genes are missing from the expression "
                f"data, e.g. {', '.join(missing[:3])}"
            )
        return np.array([position[g] for g in self.selected_gene_ids], dtype=np.int64)

    def fit_transform(
        self,
        expression: np.ndarray,
        gene_ids: Sequence[str],
        samples: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Fit on ``expression`` and return it transformed."""
        return self.fit(expression, gene_ids, samples).transform(expression, samples)

    # Fitted state ----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the options and fitted state as JSON-able values."""
        return {
            "n_genes": self.n_genes,
            "min_expressed_fraction": self.min_expressed_fraction,
            "expression_threshold": self.expression_threshold,
            "custom_gene_ids": self.custom_gene_ids,
            "covariates": list(self.covariates),
            "n_fit_samples": self.n_fit_samples_,
            "n_input_genes": len(self.gene_ids_),
            "selected_gene_ids": list(self.selected_gene_ids),
            "mean": [float(v) for v in self.mean_],
            "scale": [float(v) for v in self.scale_],
            "categories": {k: list(v) for k, v in self.categories_.items()},
            "feature_names": self.feature_names,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output.

        The rebuilt object transforms data given with ``gene_ids`` (its input
        columns are known only by the selected ids).
        """
        prep = cls(
            n_genes=state["n_genes"],
            min_expressed_fraction=state["min_expressed_fraction"],
            expression_threshold=state["expression_threshold"],
            custom_gene_ids=state.get("custom_gene_ids"),
            covariates=state.get("covariates", ()),
        )
        prep.selected_gene_ids = list(state["selected_gene_ids"])
        prep.gene_ids_ = list(prep.selected_gene_ids)
        prep.selected_index_ = np.arange(len(prep.gene_ids_), dtype=np.int64)
        prep.mean_ = np.asarray(state["mean"], dtype=np.float64)
        prep.scale_ = np.asarray(state["scale"], dtype=np.float64)
        prep.categories_ = {k: list(v) for k, v in state["categories"].items()}
        prep.n_fit_samples_ = int(state.get("n_fit_samples", 0))
        return prep


def encode_labels(samples: pd.DataFrame, label: str) -> tuple[np.ndarray, list[str]]:
    """Encode the ``label`` column as class indices.

    Parameters
    ----------
    samples : pandas.DataFrame
        Samples table.
    label : str
        One of :data:`hrc.data.schema.LABELS`: ``age``, ``tissue``, ``sex``,
        ``death``.

    Returns
    -------
    y : numpy.ndarray
        ``(n_samples,)`` int64 class indices aligned with the rows, ``-1``
        where the label is missing; the caller drops those rows.
    classes : list of str
        Class names; ``y == k`` means ``classes[k]``. Age brackets are in
        bracket order, Hardy scale values ``"0"`` to ``"4"`` in numeric order,
        other labels alphabetical.

    Raises
    ------
    UsageError
        If ``label`` is unknown or the data hold fewer than two classes.
    DataError
        If the samples table has no column for the label.
    """
    column = schema.label_column(label)
    if column not in samples.columns:
        raise DataError(f"--label {label}: the samples table has no {column!r} column")

    # Label values as strings; Hardy values as integers ("3", not "3.0").
    raw = samples[column]
    present = raw.notna().to_numpy()
    if label == "death":
        raw = pd.to_numeric(raw, errors="coerce").round().astype("Int64")
    values = raw.astype("string").fillna("").to_numpy(dtype=object)

    # Classes in their natural order.
    found = set(values[present].tolist())
    if label == "age":
        known = [b for b in schema.AGE_BRACKETS if b in found]
        classes = known + sorted(found - set(known))
    elif label == "death":
        classes = sorted(found, key=lambda v: (int(v), v))
    else:
        classes = sorted(found)
    if len(classes) < 2:
        shown = f"({classes[0]!r})" if classes else "(none)"
        raise UsageError(
            f"--label: {label!r} has a single class {shown} in the data; "
            "need at least 2"
        )

    # Indices, -1 for missing.
    code = {name: k for k, name in enumerate(classes)}
    y = np.array([code.get(v, -1) for v in values], dtype=np.int64)
    y[~present] = -1
    n_missing = int((~present).sum())
    if n_missing:
        logger.info("%s samples have no %s label", n_missing, label)
    return y.astype(np.int64), classes


def _rows_per_chunk(n_columns: int) -> int:
    """Rows per block so that a float64 block stays near 32 MB."""
    return max(1, _CHUNK_VALUES // max(1, n_columns))


def _log_tpm(block: np.ndarray) -> np.ndarray:
    """``log2(TPM + 1)`` in float64; rejects negative and NaN values."""
    block = np.asarray(block, dtype=np.float64)
    bad = ~(block >= 0)
    if bad.any():
        raise DataError(
            f"expression holds {int(bad.sum())} negative or NaN TPM values; "
            "TPM must be 0 or more"
        )
    return np.log2(block + 1.0)


def _covariate_columns(covariates: Sequence[str]) -> dict[str, str]:
    """Map covariate names to sample columns, rejecting unknown names."""
    columns: dict[str, str] = {}
    for name in covariates or ():
        key = str(name).lower()
        if key not in COVARIATES:
            raise choice_error("--covariates", name, list(COVARIATES))
        columns[key] = COVARIATES[key]
    return columns


def _check_samples(
    samples: pd.DataFrame | None, n_rows: int, columns: dict[str, str]
) -> None:
    """Check that ``samples`` has the covariate columns and the right rows."""
    if samples is None:
        raise DataError(
            f"covariates {', '.join(columns)} need the samples table; pass samples="
        )
    if len(samples) != n_rows:
        raise DataError(
            f"samples table has {len(samples)} rows for {n_rows} expression rows"
        )
    missing = [c for c in columns.values() if c not in samples.columns]
    if missing:
        raise DataError(f"samples table has no column {', '.join(missing)}")


def _strip_version(gene_id: str) -> str:
    """``ENSG00000012048.20`` -> ``ENSG00000012048``."""
    return str(gene_id).split(".", 1)[0]


def _match_gene_ids(wanted: Sequence[str], gene_ids: Sequence[str]) -> np.ndarray:
    """Column positions of ``wanted`` ids, matched with or without version."""
    exact = {g: i for i, g in enumerate(gene_ids)}
    unversioned: dict[str, int] = {}
    for i, g in enumerate(gene_ids):
        unversioned.setdefault(_strip_version(g), i)

    # An exact match first, then a match on the id without version suffix.
    found: dict[int, None] = {}
    unknown: list[str] = []
    for gene in wanted:
        index = exact.get(gene, unversioned.get(_strip_version(gene)))
        if index is None:
            unknown.append(gene)
        else:
            found[index] = None
    if not found:
        raise DataError(
            f"--custom_gene_path: none of the {len(wanted)} listed genes is in the "
            f"expression data (e.g. {', '.join(unknown[:3])}); list Ensembl ids "
            "such as ENSG00000012048"
        )
    if unknown:
        logger.warning(
            "--custom_gene_path: %s of %s listed genes are not in the expression "
            "data and are skipped, e.g. %s",
            len(unknown),
            len(wanted),
            ", ".join(unknown[:3]),
        )
    return np.fromiter(found, dtype=np.int64)
