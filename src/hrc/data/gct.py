"""Stream GCT 1.2 expression matrices (plain or gzipped) into float32 arrays.

A GCT 1.2 file holds genes in rows and samples in columns::

    #1.2
    56200   17382
    Name    Description     GTEX-1117F-0226-SM-5GZZ7    ...
    ENSG00000223972.5   DDX11L1     0   0.0   ...

Line 2 declares the shape, but GTEx subsets keep the full matrix's shape
there, so it is read and ignored. ``Name`` holds the versioned Ensembl id and
``Description`` the gene symbol.

The file is read one line at a time and never held whole: the full GTEx v8
TPM matrix (56,200 genes x 17,382 samples) is about 7 GB of text. Rows are
parsed in chunks and copied, transposed, into a preallocated Fortran-ordered
``(n_samples, n_genes)`` float32 array, so each gene is one contiguous column
and the parquet writer can hand it over without another copy.

Two ways to choose genes while streaming:

- a set of Ensembl ids (``gene_ids``), matched on the id without its version
  suffix, so ``ENSG00000117118`` and ``ENSG00000117118.8`` both select
  ``ENSG00000117118.9``; a first, cheap pass reads only the ``Name`` field to
  count the matches, then a second pass parses the matching rows only;
- the ``top_variance`` genes with the highest variance of ``log2(x + 1)`` over
  the kept samples, found in a single pass that holds at most
  ``top_variance + chunk_rows`` rows at a time (ties go to the earlier row).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from hrc.errors import DataError

logger = logging.getLogger(__name__)

GCT_VERSION_LINE = "#1.2"
GZIP_MAGIC = b"\x1f\x8b"
CHUNK_ROWS = 256


@dataclass
class GctMatrix:
    """An expression matrix read from a GCT file, samples in rows.

    Attributes
    ----------
    sample_ids : list of str
        Sample ids, one per row of ``expression``, in the order requested.
    gene_ids : list of str
        Versioned Ensembl ids (``Name``), one per column, in file order.
    gene_symbols : list of str
        Gene symbols (``Description``), aligned with ``gene_ids``.
    expression : numpy.ndarray
        ``(n_samples, n_genes)`` float32 array in Fortran order.
    """

    sample_ids: list[str]
    gene_ids: list[str]
    gene_symbols: list[str]
    expression: np.ndarray


@dataclass
class _Source:
    """What every pass over one GCT file needs to know."""

    path: str | os.PathLike
    header: list[str]
    columns: np.ndarray | None  # file columns to keep; None keeps all
    progress: bool
    option: str

    @property
    def n_kept(self) -> int:
        """Number of sample columns kept."""
        return len(self.header) if self.columns is None else len(self.columns)


def gene_stem(gene_id: str) -> str:
    """Return an Ensembl id without its version: ``ENSG0001.9`` -> ``ENSG0001``."""
    return str(gene_id).strip().split(".", 1)[0]


def read_gct_header(path: str | os.PathLike, option: str = "--expression") -> list[str]:
    """Return the sample ids of a GCT 1.2 file, reading only its first lines.

    Parameters
    ----------
    path : path-like
        Plain or gzipped GCT file.
    option : str
        Name of the option that gave ``path``, used in error messages.

    Raises
    ------
    DataError
        If the file is missing, is not GCT 1.2, or names no sample.
    """
    with _open_gct(path, option) as (lines, _):
        return _read_header(lines, path, option)


def read_gct(
    path: str | os.PathLike,
    *,
    sample_ids: Sequence[str] | None = None,
    gene_ids: Collection[str] | None = None,
    top_variance: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: bool = False,
    option: str = "--expression",
) -> GctMatrix:
    """Stream a GCT 1.2 file into a ``(n_samples, n_genes)`` float32 matrix.

    Parameters
    ----------
    path : path-like
        Plain or gzipped GCT file (detected from its first bytes).
    sample_ids : sequence of str, optional
        Samples (columns of the file) to keep, in the order wanted. Default:
        every sample, in file order.
    gene_ids : collection of str, optional
        Ensembl ids to keep, with or without version suffix. Ids not in the
        file are logged as a warning; if none is in the file, DataError.
    top_variance : int, optional
        Keep only this many genes, those with the highest variance of
        ``log2(x + 1)`` over the kept samples (after ``gene_ids``, if given).
    chunk_rows : int
        Rows parsed between two copies into the output array.
    progress : bool
        Show a progress bar over the bytes of the file.
    option : str
        Name of the option that gave ``path``, used in error messages.

    Returns
    -------
    GctMatrix
        The kept samples and genes; genes stay in file order.

    Raises
    ------
    DataError
        If the file is missing, not GCT 1.2, truncated, holds a row that is
        not numeric or has the wrong number of values, or no gene is kept.
    """
    header = read_gct_header(path, option)
    columns = _column_positions(header, sample_ids, path, option)
    kept_samples = [header[i] for i in columns] if columns is not None else header

    # Genes asked for by id: a cheap pass over the names counts the matches.
    wanted_rows = None
    if gene_ids is not None:
        wanted_rows = _match_gene_rows(path, gene_ids, progress, option)
    source = _Source(path, header, columns, progress, option)
    if top_variance is not None:
        names, symbols, matrix = _read_top_variance(
            source, wanted_rows, top_variance, chunk_rows
        )
    else:
        names, symbols, matrix = _read_rows(source, wanted_rows, chunk_rows)
    if not names:
        raise DataError(f"{option}: {path} holds no gene row after the header")
    logger.info(
        "read %s genes x %s samples from %s", len(names), len(kept_samples), path
    )
    return GctMatrix(kept_samples, names, symbols, matrix)


@contextlib.contextmanager
def _open_gct(
    path: str | os.PathLike, option: str
) -> Iterator[tuple[Iterator[str], IO[bytes]]]:
    """Yield the text lines of a plain or gzipped file and its raw byte handle.

    Read errors of a damaged gzip stream become one-line DataErrors.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{option}: file not found: {path}")
    raw = open(path, "rb")  # closed in the finally block below
    try:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        text = _decode_lines(stream, path, option)
        yield text, raw
    finally:
        raw.close()


def _decode_lines(stream: IO[bytes], path: Path, option: str) -> Iterator[str]:
    """Yield decoded lines, turning truncation and corruption into DataError."""
    try:
        for line in stream:
            yield line.decode("utf-8")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(
            f"{option}: {path} is truncated or corrupt ({exc}); download the file again"
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{option}: {path} is not a text GCT file ({exc.reason} at byte "
            f"{exc.start} of a line)"
        ) from exc


def _read_header(
    lines: Iterator[str], path: str | os.PathLike, option: str
) -> list[str]:
    """Consume the three header lines and return the sample ids."""
    first = next(lines, "").strip().lstrip("\ufeff")
    if first != GCT_VERSION_LINE:
        shown = first if len(first) <= 40 else first[:40] + "..."
        raise DataError(
            f"{option}: {path} is not a GCT 1.2 file: line 1 is {shown!r}, "
            f"expected {GCT_VERSION_LINE!r}"
        )
    declared = next(lines, "").strip()
    logger.debug("%s declares shape %r (not trusted)", path, declared)
    fields = next(lines, "").rstrip("\r\n").split("\t")
    if fields[0] != "Name" or len(fields) < 2 or fields[1] != "Description":
        raise DataError(
            f"{option}: {path} line 3 must start with 'Name<TAB>Description', "
            f"found {fields[0][:40]!r}"
        )
    samples = [s for s in fields[2:] if s]
    if not samples or len(samples) != len(fields) - 2:
        raise DataError(
            f"{option}: {path} line 3 names no sample id (or has empty ones) "
            "after 'Name' and 'Description'"
        )
    return samples


def _column_positions(
    header: list[str],
    sample_ids: Sequence[str] | None,
    path: str | os.PathLike,
    option: str,
) -> np.ndarray | None:
    """Return the file columns of ``sample_ids``, or None to keep all."""
    if sample_ids is None:
        return None
    position = {sample: i for i, sample in enumerate(header)}
    missing = [s for s in sample_ids if s not in position]
    if missing:
        raise DataError(
            f"{option}: {len(missing)} requested samples are not in {path}, "
            f"e.g. {missing[0]!r}"
        )
    return np.fromiter((position[s] for s in sample_ids), dtype=np.intp)


def _match_gene_rows(
    path: str | os.PathLike, gene_ids: Collection[str], progress: bool, option: str
) -> np.ndarray:
    """Return the row numbers whose id matches ``gene_ids``; warn on unknown ids.

    Only the ``Name`` field of each line is looked at, so this pass costs about
    as much as decompressing the file.
    """
    wanted = {gene_stem(g) for g in gene_ids if str(g).strip()}
    found: set[str] = set()
    rows = []
    with _open_gct(path, option) as (lines, raw), _bar(raw, progress, "genes") as tick:
        _read_header(lines, path, option)
        for row, _, line in _gene_lines(lines, tick):
            stem = gene_stem(line.split("\t", 1)[0])
            if stem in wanted:
                rows.append(row)
                found.add(stem)
    unknown = sorted(wanted - found)
    if not found:
        raise DataError(
            f"{option}: none of the {len(wanted)} requested gene ids is in {path} "
            f"(e.g. {unknown[0]!r}); give Ensembl ids such as 'ENSG00000117118'"
        )
    if unknown:
        logger.warning(
            "%s of %s requested gene ids are not in %s and are skipped: %s",
            len(unknown),
            len(wanted),
            path,
            ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else ""),
        )
    return np.asarray(rows, dtype=np.int64)


def _read_rows(
    source: _Source, wanted_rows: np.ndarray | None, chunk_rows: int
) -> tuple[list[str], list[str], np.ndarray]:
    """Parse every (or every wanted) row into a preallocated Fortran array."""
    # Without a selection, count the rows first: line 2 cannot be trusted.
    if wanted_rows is None:
        n_rows = _count_rows(source.path, source.progress, source.option)
        wanted_rows = np.arange(n_rows)
    shape = (source.n_kept, len(wanted_rows))
    matrix = np.empty(shape, dtype=np.float32, order="F")

    # Each chunk is genes x samples; its transpose fills a block of columns.
    names: list[str] = []
    symbols: list[str] = []
    for chunk_names, chunk_symbols, values in _iter_chunks(
        source, wanted_rows, chunk_rows
    ):
        start = len(names)
        matrix[:, start : start + len(chunk_names)] = values.T
        names.extend(chunk_names)
        symbols.extend(chunk_symbols)
    return names, symbols, matrix[:, : len(names)]


def _read_top_variance(
    source: _Source, wanted_rows: np.ndarray | None, top_variance: int, chunk_rows: int
) -> tuple[list[str], list[str], np.ndarray]:
    """Keep the ``top_variance`` rows of highest ``log2(x + 1)`` variance."""
    kept_values = np.empty((0, source.n_kept), dtype=np.float32)
    kept_var = np.empty(0)
    kept_rows = np.empty(0, dtype=np.int64)
    kept_names: list[str] = []
    kept_symbols: list[str] = []
    row = 0
    for names, symbols, values in _iter_chunks(source, wanted_rows, chunk_rows):
        # Variance of log2(x + 1) per gene; NaN rows never win.
        variance = np.var(np.log2(values.astype(np.float64) + 1.0), axis=1)
        variance = np.nan_to_num(variance, nan=-np.inf)
        rows = np.arange(row, row + len(names))
        row += len(names)

        # Drop rows that cannot enter a full set, then keep the best.
        if len(kept_var) >= top_variance:
            enter = variance > kept_var.min()
            values, variance, rows = values[enter], variance[enter], rows[enter]
            names = [n for n, e in zip(names, enter, strict=True) if e]
            symbols = [s for s, e in zip(symbols, enter, strict=True) if e]
            if not names:
                continue
        all_var = np.concatenate([kept_var, variance])
        all_rows = np.concatenate([kept_rows, rows])
        best = np.lexsort((all_rows, -all_var))[:top_variance]
        all_values = np.concatenate([kept_values, values])
        all_names, all_symbols = kept_names + names, kept_symbols + symbols
        kept_values, kept_var, kept_rows = (
            all_values[best],
            all_var[best],
            all_rows[best],
        )
        kept_names = [all_names[i] for i in best]
        kept_symbols = [all_symbols[i] for i in best]

    # Back to file order; the transpose of a C array is a Fortran array.
    order = np.argsort(kept_rows)
    if len(kept_names) < top_variance:
        logger.warning(
            "%s top-variance genes asked for, but only %s are available; keeping all",
            top_variance,
            len(kept_names),
        )
    matrix = np.ascontiguousarray(kept_values[order]).T
    return [kept_names[i] for i in order], [kept_symbols[i] for i in order], matrix


def _iter_chunks(
    source: _Source, wanted_rows: np.ndarray | None, chunk_rows: int
) -> Iterator[tuple[list[str], list[str], np.ndarray]]:
    """Yield ``(names, symbols, values)`` for blocks of ``chunk_rows`` rows.

    ``values`` is a ``(rows, samples)`` float32 array restricted to
    ``source.columns``; rows not in ``wanted_rows`` are skipped unparsed.
    """
    path, option, columns = source.path, source.option, source.columns
    wanted = None if wanted_rows is None else set(wanted_rows.tolist())
    names: list[str] = []
    symbols: list[str] = []
    block: list[np.ndarray] = []
    with (
        _open_gct(path, option) as (lines, raw),
        _bar(raw, source.progress, "rows") as tick,
    ):
        _read_header(lines, path, option)
        for row, line_number, line in _gene_lines(lines, tick):
            if wanted is not None and row not in wanted:
                continue
            name, symbol, values = _parse_row(
                line, len(source.header), line_number, path, option
            )
            names.append(name)
            symbols.append(symbol)
            block.append(values if columns is None else values[columns])
            if len(block) == chunk_rows:
                yield names, symbols, np.stack(block)
                names, symbols, block = [], [], []
    if block:
        yield names, symbols, np.stack(block)


def _parse_row(
    line: str, n_values: int, line_number: int, path: str | os.PathLike, option: str
) -> tuple[str, str, np.ndarray]:
    """Split one GCT row into id, symbol and float32 values, checking its width."""
    parts = line.rstrip("\r\n").split("\t", 2)
    if len(parts) < 3:
        raise DataError(
            f"{option}: {path} line {line_number} has {len(parts)} fields, "
            f"expected {n_values + 2}"
        )
    try:
        values = np.fromstring(parts[2], dtype=np.float32, sep="\t")
    except (ValueError, DeprecationWarning) as exc:
        raise DataError(
            f"{option}: {path} line {line_number} holds a value that is not a number"
        ) from exc
    if values.size != n_values:
        raise DataError(
            f"{option}: {path} line {line_number} has {values.size} values, "
            f"expected {n_values} (one per sample of line 3)"
        )
    return parts[0], parts[1], values


def _count_rows(path: str | os.PathLike, progress: bool, option: str) -> int:
    """Count the gene rows after the header without parsing them."""
    with _open_gct(path, option) as (lines, raw), _bar(raw, progress, "count") as tick:
        _read_header(lines, path, option)
        n_rows = sum(1 for _ in _gene_lines(lines, tick))
    return n_rows


def _gene_lines(
    lines: Iterator[str], tick: Callable[[], None]
) -> Iterator[tuple[int, int, str]]:
    """Yield ``(row, line_number, line)`` for the non-blank lines after the header.

    ``row`` counts gene rows from 0; ``line_number`` counts file lines from 1.
    """
    row = 0
    for line_number, line in enumerate(lines, start=4):
        tick()
        if not line.strip():
            continue
        yield row, line_number, line
        row += 1


@contextlib.contextmanager
def _bar(raw: IO[bytes], enabled: bool, label: str) -> Iterator:
    """Yield a ``tick()`` that advances a bar over the bytes read from ``raw``.

    The bar follows the compressed bytes, the one size known in advance; the
    shape on line 2 is not trusted, so no row total is shown.
    """
    if not enabled:
        yield lambda: None
        return
    total = os.fstat(raw.fileno()).st_size
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        calls = 0

        def tick() -> None:
            nonlocal calls
            calls += 1
            if calls % 64 == 0:
                bar.update(task, completed=raw.tell())

        yield tick
        bar.update(task, completed=total)
