"""Names shared by every part of HRC: columns of the prepared pair, labels.

The prepared pair is the 2020 layout that training reads:

``v8_samples.parquet``
    one row per sample; columns ``Name`` (sample id), ``Tissue`` (broad,
    GTEx ``SMTS``), ``Subtissue`` (detailed, ``SMTSD``), ``Sex`` (``"male"`` or
    ``"female"``), ``Age`` (bracket such as ``"50-59"``), ``Death`` (Hardy
    scale 0-4, nullable integer), ``Avg_age`` (bracket midpoint, float),
    ``Donor`` (subject id) and ``Site`` (collection site, nullable).
``v8_expressions.parquet``
    ``Name`` plus one float32 column per gene, named by versioned Ensembl id;
    gene symbols are kept in the file's schema metadata under ``hrc.symbols``.
"""

from __future__ import annotations

from hrc.errors import UsageError, choice_error

# Columns of v8_samples.parquet.
NAME = "Name"
TISSUE = "Tissue"
SUBTISSUE = "Subtissue"
SEX = "Sex"
AGE = "Age"
DEATH = "Death"
AVG_AGE = "Avg_age"
DONOR = "Donor"
SITE = "Site"
SAMPLE_COLUMNS = (NAME, TISSUE, SUBTISSUE, SEX, AGE, DEATH, AVG_AGE, DONOR, SITE)

SAMPLES_FILE = "v8_samples.parquet"
EXPRESSIONS_FILE = "v8_expressions.parquet"
SYMBOLS_METADATA_KEY = b"hrc.symbols"

AGE_BRACKETS = ("20-29", "30-39", "40-49", "50-59", "60-69", "70-79")
SEXES = ("male", "female")
HARDY_SCALE = (0, 1, 2, 3, 4)

# Label name (as given to --label) -> column of the samples table.
LABELS: dict[str, str] = {
    "age": AGE,
    "tissue": TISSUE,
    "sex": SEX,
    "death": DEATH,
}


def label_column(label: str) -> str:
    """Return the samples-table column that holds ``label``.

    Raises
    ------
    UsageError
        If ``label`` is not one of :data:`LABELS`.
    """
    if label not in LABELS:
        raise choice_error("--label", label, list(LABELS))
    return LABELS[label]


def donor_of(sample_id: str) -> str:
    """Return the donor (subject) id of a GTEx sample id.

    The donor is the first two dash-separated fields:
    ``GTEX-1117F-0226-SM-5GZZ7`` -> ``GTEX-1117F``. Donor suffixes have four or
    five characters, so a fixed-width cut would be wrong.

    Raises
    ------
    UsageError
        If the id has fewer than two dash-separated fields.
    """
    parts = str(sample_id).split("-")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise UsageError(
            f"sample id {sample_id!r} has no donor part; expected an id such as "
            "'GTEX-1117F-0226-SM-5GZZ7'"
        )
    return f"{parts[0]}-{parts[1]}"


def tissue_sample_of(sample_id: str) -> str:
    """Return the tissue-sample id (first three dash fields) of a sample id."""
    return "-".join(str(sample_id).split("-")[:3])


def age_midpoint(bracket: str) -> float:
    """Return the midpoint of an age bracket: ``"20-29"`` -> ``24.5``."""
    low, high = (int(x) for x in str(bracket).split("-"))
    return (low + high) / 2
