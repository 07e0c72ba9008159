"""The offline synthetic cohort: GTEx v8 shaped data without downloading GTEx.

The cohort copies the parts of GTEx v8 that matter for training and for
splitting data across hospitals: 948 donors with the real age-bracket, sex and
Hardy-scale counts, the real per-tissue sample counts of
:data:`hrc.data.tissues.TISSUES` (sex-specific tissues only in the right sex,
at most one sample of a detailed tissue per donor), three collection sites and
a TPM matrix whose log2(TPM + 1) values follow the shape of real bulk RNA-seq.

Expression is built gene by gene in log2(TPM + 1) space as a sum of effects::

    x = gene mean + tissue profile + module factors + donor + site + sex
        + age + noise

About half the genes are "off" (mostly zero, on in one tissue at most); the
expressed ones have means drawn from a gamma law with mean 4.6 and standard
deviation 2.7. docs/synthetic.md states every target and where it comes from.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hrc.data import schema
from hrc.data.dataset import PreparedData, write_prepared
from hrc.data.tissues import N_SAMPLES_V8, TISSUES
from hrc.errors import DataError, UsageError

logger = logging.getLogger(__name__)

DEFAULT_SAMPLES = N_SAMPLES_V8  # 17,382 RNA-seq samples, as in GTEx v8
DEFAULT_GENES = 2_000  # keeps the default data light; GTEx has 56,200 genes

# Donors of GTEx v8 with RNA-seq (948), by age bracket and by sex.
DONORS_V8 = 948
DONORS_BY_AGE = {
    "20-29": 81,
    "30-39": 76,
    "40-49": 146,
    "50-59": 304,
    "60-69": 309,
    "70-79": 32,
}
DONORS_BY_SEX = {"male": 636, "female": 312}

# Hardy scale over the 980 donors of the subject phenotype file; None = blank.
HARDY_V8 = {0: 511, 1: 35, 2: 239, 3: 57, 4: 119, None: 19}

# Samples per age bracket in v8; younger donors gave fewer samples each.
SAMPLES_BY_AGE = {
    "20-29": 1_320,
    "30-39": 1_323,
    "40-49": 2_702,
    "50-59": 5_615,
    "60-69": 5_821,
    "70-79": 601,
}
# Samples per donor: median 19 (5th-95th percentile 7-29), range 1-39.
SAMPLES_PER_DONOR_SD = 6.6
SAMPLES_PER_DONOR_MAX = 39

# Collection sites (SMCENTER codes) and the share of donors each collected.
SITES = {"B1": 0.40, "C1": 0.35, "D1": 0.25}

# Expression model, log2(TPM + 1) scale.
OFF_FRACTION = 0.5  # genes off or mostly zero
EXPRESSED_MEAN, EXPRESSED_SD = 4.6, 2.7  # spread of expressed-gene means
N_FACTORS = 10  # latent factors behind correlated gene modules
TISSUE_SPECIFIC_FRACTION = 0.15  # genes raised in one tissue ...
TISSUE_SPECIFIC_RAISE = (2.0, 4.0)  # ... by this many log2 units
AGE_GENE_FRACTION = 0.035  # genes with an age effect ...
AGE_R2 = (0.01, 0.03)  # ... explaining this share of their within-tissue variance
SEX_GENE_FRACTION = 0.03  # genes with a mild sex difference
SITE_GENE_FRACTION = 0.10  # genes shifted by the collection site
N_SEX_LINKED = 5  # one XIST-like gene high in females, four Y genes in males

GENE_CHUNK = 512  # genes generated per step; fixed so output depends on seed only
_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


@dataclass
class _Genes:
    """Per-gene parameters of the expression model (one entry per gene)."""

    off: np.ndarray  # bool: gene is off or mostly zero
    mean: np.ndarray  # baseline log2(TPM + 1)
    profile: np.ndarray  # (n_tissues, n_genes) tissue shift, raise included
    raised: np.ndarray  # (n_tissues, n_genes) bool: gene raised in that tissue
    module: np.ndarray  # latent factor each gene loads on
    loading: np.ndarray
    donor_sd: np.ndarray
    noise_sd: np.ndarray
    site_shift: np.ndarray  # (n_sites, n_genes)
    female_shift: np.ndarray
    age_slope: np.ndarray  # per standard deviation of donor age
    on_rate: np.ndarray  # off genes: share of samples with a non-zero value
    on_level: np.ndarray  # off genes: log level when non-zero
    ids: list[str]
    symbols: list[str]


def generate_cohort(
    n_samples: int = DEFAULT_SAMPLES,
    n_genes: int = DEFAULT_GENES,
    seed: int = 0,
    progress: bool = False,
) -> PreparedData:
    """Generate a synthetic GTEx v8 cohort in memory.

    Parameters
    ----------
    n_samples : int
        Number of RNA-seq samples. At 17,382 (GTEx v8) the donor, tissue and
        Hardy counts are the real ones; other sizes scale them proportionally.
    n_genes : int
        Number of genes (columns of the expression matrix).
    seed : int
        Seed of :func:`numpy.random.default_rng`; equal seeds give equal cohorts.
    progress : bool
        Show a progress bar while the expression matrix is generated.

    Returns
    -------
    PreparedData
        Samples table, TPM matrix (float32, C order), gene ids and symbols.

    Raises
    ------
    UsageError
        If ``n_samples`` or ``n_genes`` is below 1.

    Examples
    --------
    >>> cohort = generate_cohort(n_samples=500, n_genes=50, seed=1)
    >>> cohort.expression.shape
    (500, 50)
    """
    cohort = _generate(n_samples, n_genes, seed, progress)
    cohort.expression = np.ascontiguousarray(cohort.expression)
    return cohort


def write_cohort(
    out_dir: str | Path,
    n_samples: int = DEFAULT_SAMPLES,
    n_genes: int = DEFAULT_GENES,
    seed: int = 0,
    gtex_files: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Generate a synthetic cohort and write it into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Destination folder, created if needed.
    n_samples, n_genes, seed : int
        As in :func:`generate_cohort`.
    gtex_files : bool
        Also write the three GTEx v8 files (TPM GCT, sample attributes,
        subject phenotypes) so the GTEx importer can be run on them.
    progress : bool
        Show progress bars for the long steps.

    Returns
    -------
    list of Path
        Every file written: the prepared pair first, then the GTEx files.
    """
    started = time.perf_counter()
    cohort = _generate(n_samples, n_genes, seed, progress)
    logger.info(
        "generated %s samples x %s genes in %.1f s",
        cohort.n_samples,
        cohort.n_genes,
        time.perf_counter() - started,
    )

    # The prepared pair, then optionally the GTEx files.
    written = list(
        write_prepared(
            out_dir,
            cohort.samples,
            cohort.expression,
            cohort.gene_ids,
            cohort.gene_symbols,
        )
    )
    if gtex_files:
        from hrc.data.gtex_writers import write_gtex_files

        written += write_gtex_files(out_dir, cohort, seed=seed, progress=progress)
    logger.info("cohort written in %.1f s", time.perf_counter() - started)
    return written


def ensure_default_data(
    samples_path: str | Path, expressions_path: str | Path, seed: int = 0
) -> bool:
    """Generate the default synthetic cohort where no prepared pair exists.

    Parameters
    ----------
    samples_path, expressions_path : path-like
        The prepared pair a command is about to read.
    seed : int
        Seed of the generated cohort.

    Returns
    -------
    bool
        True if the cohort was generated, False if both files already existed.

    Raises
    ------
    DataError
        If exactly one of the two files exists: the pair is incomplete and
        generating would overwrite real data.
    """
    samples_path, expressions_path = Path(samples_path), Path(expressions_path)
    present = [p for p in (samples_path, expressions_path) if p.exists()]
    if len(present) == 2:
        return False
    if len(present) == 1:
        missing = expressions_path if present[0] == samples_path else samples_path
        raise DataError(
            f"{present[0]} exists but {missing} does not; restore the missing "
            "file, or delete both to use the synthetic cohort"
        )

    # Generate into a hidden folder beside the samples file, then move in place.
    logger.info(
        "no data at %s: generating the synthetic GTEx v8 cohort "
        "(%s samples x %s genes, seed %s)",
        samples_path,
        DEFAULT_SAMPLES,
        DEFAULT_GENES,
        seed,
    )
    samples_path.parent.mkdir(parents=True, exist_ok=True)
    expressions_path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".synth.", dir=samples_path.parent))
    try:
        write_cohort(staging, DEFAULT_SAMPLES, DEFAULT_GENES, seed=seed, progress=False)
        shutil.move(staging / schema.EXPRESSIONS_FILE, expressions_path)
        os.replace(staging / schema.SAMPLES_FILE, samples_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def _generate(n_samples: int, n_genes: int, seed: int, progress: bool) -> PreparedData:
    """Build the cohort; the matrix is column-major (fast per-gene writes)."""
    for name, value in (("n_samples", n_samples), ("n_genes", n_genes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise UsageError(f"{name}: expected a whole number, got {value!r}")
        if value < 1:
            raise UsageError(f"{name}: got {value}; it must be at least 1")
    donor_seed, tissue_seed, gene_seed, expr_seed = np.random.SeedSequence(seed).spawn(
        4
    )

    # Donors, then their samples, then genes, then the expression matrix.
    donors = _make_donors(n_samples, np.random.default_rng(donor_seed))
    samples = _make_samples(donors, n_samples, np.random.default_rng(tissue_seed))
    genes = _make_genes(n_genes, len(SITES), np.random.default_rng(gene_seed))
    expression = _make_expression(samples, donors, genes, expr_seed, progress)
    return PreparedData(samples, expression, genes.ids, genes.symbols)


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (Hamilton)."""
    weights = np.asarray(weights, dtype=float)
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(int)
    short = total - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def _capped_allocation(weights: np.ndarray, caps: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` in proportion to ``weights`` with no share above its cap."""
    counts = np.zeros(len(weights), dtype=int)
    free = (weights > 0) & (caps > 0)
    while total > 0 and free.any():
        share = np.zeros(len(weights), dtype=int)
        share[free] = _largest_remainder(weights[free], total)
        over = free & (counts + share > caps)
        if not over.any():
            return counts + share
        # Fill the capped tissues to their caps and split the rest again.
        total -= int((caps[over] - counts[over]).sum())
        counts[over] = caps[over]
        free &= ~over
    return counts


def _make_donors(n_samples: int, rng: np.random.Generator) -> pd.DataFrame:
    """Donors with ids, sex, age bracket, Hardy scale, site and sample budget."""
    n_donors = max(1, round(DONORS_V8 * n_samples / N_SAMPLES_V8))
    n_donors = min(n_donors, n_samples)

    # Exact age, sex and Hardy counts (scaled), shuffled independently.
    ages = np.repeat(
        list(DONORS_BY_AGE),
        _largest_remainder(np.array(list(DONORS_BY_AGE.values())), n_donors),
    )
    sexes = np.repeat(
        list(DONORS_BY_SEX),
        _largest_remainder(np.array(list(DONORS_BY_SEX.values())), n_donors),
    )
    hardy_counts = _largest_remainder(np.array(list(HARDY_V8.values())), n_donors)
    hardy = np.repeat(
        np.array([-1 if k is None else k for k in HARDY_V8]), hardy_counts
    )
    sites = np.repeat(
        list(SITES), _largest_remainder(np.array(list(SITES.values())), n_donors)
    )
    for column in (ages, sexes, hardy, sites):
        rng.shuffle(column)

    # Sample budget per donor: a clipped normal around the mean of its age
    # bracket, nudged to sum to n_samples.
    mean = np.array([SAMPLES_BY_AGE[a] / DONORS_BY_AGE[a] for a in ages])
    budget = np.rint(rng.normal(mean, SAMPLES_PER_DONOR_SD)).astype(int)
    budget = np.clip(budget, 1, SAMPLES_PER_DONOR_MAX)
    budget = _match_total(budget, n_samples, rng)

    donors = pd.DataFrame(
        {
            "donor": _donor_ids(n_donors, rng),
            "sex": sexes,
            "age": ages,
            "hardy": pd.array(np.where(hardy < 0, pd.NA, hardy), dtype="Int64"),
            "site": sites,
            "budget": budget,
        }
    )
    return donors.sort_values("donor", kind="stable").reset_index(drop=True)


def _match_total(
    budget: np.ndarray, total: int, rng: np.random.Generator
) -> np.ndarray:
    """Add or remove single samples at random donors until the sum is ``total``."""
    budget = budget.copy()
    while budget.sum() != total:
        gap = total - int(budget.sum())
        room = budget < SAMPLES_PER_DONOR_MAX if gap > 0 else budget > 1
        if not room.any():  # only when total > 39 per donor, which cannot happen
            break
        chosen = rng.choice(
            np.flatnonzero(room), size=min(abs(gap), int(room.sum())), replace=False
        )
        budget[chosen] += np.sign(gap)
    return budget


def _random_codes(n: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct upper-case alphanumeric codes of ``width`` characters."""
    numbers = rng.choice(len(_ALPHABET) ** width, size=n, replace=False)
    digits = (numbers[:, None] // len(_ALPHABET) ** np.arange(width)[::-1]) % len(
        _ALPHABET
    )
    return np.array(["".join(row) for row in _ALPHABET[digits]])


def _donor_ids(n_donors: int, rng: np.random.Generator) -> np.ndarray:
    """Donor ids ``GTEX-`` plus 4 (a third of donors) or 5 characters."""
    n_short = n_donors // 3
    codes = np.concatenate(
        [_random_codes(n_short, 4, rng), _random_codes(n_donors - n_short, 5, rng)]
    )
    rng.shuffle(codes)
    return np.array([f"GTEX-{code}" for code in codes])


def _tissue_counts(n_samples: int, donors: pd.DataFrame) -> np.ndarray:
    """Samples per detailed tissue: the real counts, scaled to ``n_samples``."""
    real = np.array([t.n_samples for t in TISSUES])
    if n_samples == N_SAMPLES_V8 and len(donors) == DONORS_V8:
        return real
    n_by_sex = donors["sex"].value_counts()
    caps = np.array([n_by_sex.get(t.sex, 0) if t.sex else len(donors) for t in TISSUES])
    counts = _capped_allocation(real, caps, n_samples)
    if counts.sum() != n_samples:
        raise DataError(
            f"cannot place {n_samples} samples on {len(donors)} donors with at "
            "most one sample per tissue; use a larger --samples"
        )
    return counts


def _make_samples(
    donors: pd.DataFrame, n_samples: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Place tissue samples on donors and build the samples table.

    Tissues are placed one at a time, largest first after the sex-specific
    ones, on distinct donors drawn with weights equal to their unused sample
    budget (Efraimidis and Spirakis weighted sampling without replacement), so
    no donor gets a detailed tissue twice and budgets are followed closely.

    References
    ----------
    P. S. Efraimidis and P. G. Spirakis, "Weighted random sampling with a
    reservoir", Information Processing Letters 97(5), 181-185, 2006.
    """
    counts = _tissue_counts(n_samples, donors)
    n_donors, n_tissues = len(donors), len(TISSUES)
    sex = donors["sex"].to_numpy()
    remaining = donors["budget"].to_numpy().astype(float)
    has = np.zeros((n_donors, n_tissues), dtype=bool)

    # Sex-specific tissues first (few eligible donors), then by decreasing size.
    order = sorted(range(n_tissues), key=lambda t: (TISSUES[t].sex is None, -counts[t]))
    for t in order:
        eligible = np.flatnonzero(sex == TISSUES[t].sex) if TISSUES[t].sex else None
        eligible = np.arange(n_donors) if eligible is None else eligible
        weight = np.maximum(remaining[eligible], 0.0) + 1e-3
        keys = np.log(rng.random(len(eligible))) / weight
        chosen = eligible[np.argsort(-keys, kind="stable")[: counts[t]]]
        has[chosen, t] = True
        remaining[chosen] -= 1
    _repair_empty_donors(has, sex, rng)

    # One row per (donor, tissue) pair, named like real GTEx sample ids.
    donor_idx, tissue_idx = np.nonzero(has)
    aliquots = _random_codes(len(donor_idx), 5, rng)
    donor_ids = donors["donor"].to_numpy()[donor_idx]
    names = [
        f"{d}-{t + 1:02d}26-SM-{a}"
        for d, t, a in zip(donor_ids, tissue_idx, aliquots, strict=True)
    ]
    ages = donors["age"].to_numpy()[donor_idx]
    samples = pd.DataFrame(
        {
            schema.NAME: names,
            schema.TISSUE: [TISSUES[t].broad for t in tissue_idx],
            schema.SUBTISSUE: [TISSUES[t].detailed for t in tissue_idx],
            schema.SEX: sex[donor_idx],
            schema.AGE: ages,
            schema.DEATH: donors["hardy"].array[donor_idx],
            schema.AVG_AGE: [schema.age_midpoint(a) for a in ages],
            schema.DONOR: donor_ids,
            schema.SITE: donors["site"].to_numpy()[donor_idx],
        }
    )
    return samples.sort_values(schema.NAME, kind="stable").reset_index(drop=True)


def _repair_empty_donors(
    has: np.ndarray, sex: np.ndarray, rng: np.random.Generator
) -> None:
    """Give every donor without a sample one, taken from a donor with several."""
    for donor in np.flatnonzero(~has.any(axis=1)):
        per_donor = has.sum(axis=1)
        for t in rng.permutation(has.shape[1]):
            if TISSUES[t].sex not in (None, sex[donor]):
                continue
            givers = np.flatnonzero(has[:, t] & (per_donor > 1))
            if len(givers):
                giver = givers[np.argmax(per_donor[givers])]
                has[giver, t], has[donor, t] = False, True
                break


def _make_genes(n_genes: int, n_sites: int, rng: np.random.Generator) -> _Genes:
    """Draw the per-gene parameters of the expression model."""
    n_tissues = len(TISSUES)
    broad_names = sorted({t.broad for t in TISSUES})
    broad_of = np.array([broad_names.index(t.broad) for t in TISSUES])
    off = np.zeros(n_genes, dtype=bool)
    off[rng.permutation(n_genes)[: round(OFF_FRACTION * n_genes)]] = True

    # Gene means: a gamma law with the target mean and spread across genes.
    shape = (EXPRESSED_MEAN / EXPRESSED_SD) ** 2
    mean = rng.gamma(shape, EXPRESSED_SD**2 / EXPRESSED_MEAN, n_genes)
    mean[off] = 0.0
    if (~off).any():  # rescale so the expressed genes average exactly the target
        mean[~off] *= EXPRESSED_MEAN / mean[~off].mean()

    # Tissue profile: a broad-tissue shift, a detailed-tissue shift, one raise.
    broad_shift = rng.normal(0.0, 0.8, (len(broad_names), n_genes))
    profile = broad_shift[broad_of] + rng.normal(0.0, 0.3, (n_tissues, n_genes))
    profile[:, off] = 0.0
    raised = np.zeros((n_tissues, n_genes), dtype=bool)
    specific = np.flatnonzero(rng.random(n_genes) < TISSUE_SPECIFIC_FRACTION)
    raised[rng.integers(0, n_tissues, len(specific)), specific] = True
    profile[raised] += rng.uniform(*TISSUE_SPECIFIC_RAISE, int(raised.sum()))

    # Within-tissue variation: modules, donor, noise, site.
    loading = rng.normal(0.3, 0.08, n_genes) * rng.choice([-1.0, 1.0], n_genes)
    donor_sd = rng.uniform(0.1, 0.3, n_genes)
    noise_sd = rng.uniform(0.25, 0.45, n_genes)
    site_genes = rng.random(n_genes) < SITE_GENE_FRACTION
    site_shift = rng.normal(0.0, 0.35, (n_sites, n_genes)) * site_genes
    within_var = loading**2 + donor_sd**2 + noise_sd**2 + site_shift.var(axis=0)

    # Weak age effect: slope giving R^2 in AGE_R2 within a tissue.
    age_genes = _pick(
        np.flatnonzero(~off), round(AGE_GENE_FRACTION * n_genes), n_genes, rng
    )
    r2 = rng.uniform(*AGE_R2, n_genes)
    age_slope = np.sqrt(r2 / (1 - r2) * within_var) * rng.choice([-1.0, 1.0], n_genes)
    age_slope[~age_genes] = 0.0
    female_shift = rng.normal(0.0, 0.4, n_genes) * _pick(
        np.flatnonzero(~off), round(SEX_GENE_FRACTION * n_genes), n_genes, rng
    )

    # Sex-linked genes: XIST-like (female only) and Y genes (male only).
    symbols = [f"SYN{j + 1}" for j in range(n_genes)]
    n_linked = N_SEX_LINKED if n_genes >= 20 * N_SEX_LINKED else 0
    for k, j in enumerate(rng.choice(n_genes, n_linked, replace=False)):
        off[j], raised[:, j] = False, False
        profile[:, j] = rng.normal(0.0, 0.3, n_tissues)
        if k == 0:
            mean[j], female_shift[j], symbols[j] = 0.0, 7.5, "SYNXIST"
        else:
            mean[j], female_shift[j], symbols[j] = 5.0, -5.0, f"SYNY{k}"

    # Off genes: a share of samples with a low non-zero value.
    on_rate = rng.beta(1.2, 6.0, n_genes)
    on_level = 0.3 + np.abs(rng.normal(0.0, 0.5, n_genes))
    ids = [f"ENSG{j + 1:011d}.{v}" for j, v in enumerate(rng.integers(1, 20, n_genes))]
    return _Genes(
        off=off,
        mean=mean,
        profile=profile,
        raised=raised,
        module=rng.integers(0, N_FACTORS, n_genes),
        loading=loading,
        donor_sd=donor_sd,
        noise_sd=noise_sd,
        site_shift=site_shift,
        female_shift=female_shift,
        age_slope=age_slope,
        on_rate=on_rate,
        on_level=on_level,
        ids=ids,
        symbols=symbols,
    )


def _pick(
    candidates: np.ndarray, count: int, n_genes: int, rng: np.random.Generator
) -> np.ndarray:
    """Mask over ``n_genes`` genes with ``count`` of ``candidates`` chosen."""
    mask = np.zeros(n_genes, dtype=bool)
    mask[rng.permutation(candidates)[:count]] = True
    return mask


def _make_expression(
    samples: pd.DataFrame,
    donors: pd.DataFrame,
    genes: _Genes,
    seed: np.random.SeedSequence,
    progress: bool,
) -> np.ndarray:
    """Build the TPM matrix in gene blocks; returns a column-major float32 array.

    Each block is computed genes x samples, so it is written to memory in one
    contiguous run and every gene's column is contiguous for the parquet write.
    """
    n_samples, n_genes = len(samples), len(genes.ids)
    detailed = [t.detailed for t in TISSUES]
    tissue_idx = pd.Categorical(samples[schema.SUBTISSUE], categories=detailed).codes
    donor_idx = pd.Categorical(samples[schema.DONOR], categories=donors["donor"]).codes
    site_idx = pd.Categorical(samples[schema.SITE], categories=list(SITES)).codes
    female = (samples[schema.SEX] == "female").to_numpy(np.float32)
    age = samples[schema.AVG_AGE].to_numpy(np.float64)
    age_z = ((age - age.mean()) / (age.std() or 1.0)).astype(np.float32)
    design = _Design(tissue_idx, donor_idx, len(donors), site_idx, female, age_z)

    # Sample-level latent factors shared by every block.
    factor_rng, *block_rngs = (
        np.random.default_rng(s) for s in seed.spawn(1 + -(-n_genes // GENE_CHUNK))
    )
    factors = factor_rng.standard_normal((N_FACTORS, n_samples), dtype=np.float32)
    by_gene = np.empty((n_genes, n_samples), dtype=np.float32)
    starts = range(0, n_genes, GENE_CHUNK)
    if progress:
        from rich.progress import track

        starts = track(starts, description="generating expression")
    for start, rng in zip(starts, block_rngs, strict=True):
        rows = slice(start, min(start + GENE_CHUNK, n_genes))
        by_gene[rows] = _expression_block(genes, rows, rng, design, factors)
    return by_gene.T


@dataclass
class _Design:
    """What each sample is: indices into tissues, donors and sites, covariates."""

    tissue: np.ndarray
    donor: np.ndarray
    n_donors: int
    site: np.ndarray
    female: np.ndarray  # 1.0 for female samples
    age_z: np.ndarray  # standardised bracket midpoint


def _expression_block(
    genes: _Genes,
    rows: slice,
    rng: np.random.Generator,
    design: _Design,
    factors: np.ndarray,
) -> np.ndarray:
    """TPM of one block of genes (rows) for every sample (columns)."""
    f32 = np.float32
    width, n_samples = rows.stop - rows.start, len(design.tissue)

    def column(values: np.ndarray) -> np.ndarray:
        return values[rows].astype(f32)[:, None]

    # Fixed effects: gene mean, tissue profile, site, sex and age.
    log = np.take(genes.profile[:, rows].T.astype(f32), design.tissue, axis=1)
    log += column(genes.mean)
    log += np.take(genes.site_shift[:, rows].T.astype(f32), design.site, axis=1)
    log += column(genes.female_shift) * design.female
    log += column(genes.age_slope) * design.age_z

    # Random effects: module factor, donor, residual noise.
    loadings = np.zeros((width, factors.shape[0]), dtype=f32)
    loadings[np.arange(width), genes.module[rows]] = genes.loading[rows]
    log += loadings @ factors
    donor = rng.standard_normal((width, design.n_donors), dtype=f32)
    log += np.take(donor * column(genes.donor_sd), design.donor, axis=1)
    noise = rng.standard_normal((width, n_samples), dtype=f32)
    log += noise * column(genes.noise_sd)

    # Off genes: zero or a low level, except in the tissue that raises them.
    off = np.flatnonzero(genes.off[rows])
    if len(off):
        on = rng.random((len(off), n_samples), dtype=f32) < column(genes.on_rate)[off]
        low = on * (column(genes.on_level)[off] + 0.3 * noise[off])
        in_raised = np.take(genes.raised[:, rows][:, off].T, design.tissue, axis=1)
        log[off] = np.where(in_raised, log[off], low)

    # log2(TPM + 1) -> TPM, clipped at zero.
    np.maximum(log, 0.0, out=log)
    np.exp2(log, out=log)
    log -= 1.0
    return log
