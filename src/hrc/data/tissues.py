"""The GTEx v8 tissue catalogue: detailed tissues, broad tissues, sample counts.

``TISSUES`` lists the 54 detailed tissues (GTEx ``SMTSD``) of the v8 RNA-seq
release with their broad tissue (``SMTS``), their number of RNA-seq samples in
v8, and the sex they are restricted to, if any. The synthetic cohort draws its
tissue mix from this table and the portal importer uses it to attach a broad
tissue to a detailed one.
"""

from __future__ import annotations

from typing import NamedTuple


class Tissue(NamedTuple):
    """One detailed GTEx tissue."""

    detailed: str
    broad: str
    n_samples: int
    sex: str | None  # "male", "female", or None for both


TISSUES: tuple[Tissue, ...] = (
    Tissue("Adipose - Subcutaneous", "Adipose Tissue", 663, None),
    Tissue("Adipose - Visceral (Omentum)", "Adipose Tissue", 541, None),
    Tissue("Adrenal Gland", "Adrenal Gland", 258, None),
    Tissue("Artery - Aorta", "Blood Vessel", 432, None),
    Tissue("Artery - Coronary", "Blood Vessel", 240, None),
    Tissue("Artery - Tibial", "Blood Vessel", 663, None),
    Tissue("Bladder", "Bladder", 21, None),
    Tissue("Brain - Amygdala", "Brain", 152, None),
    Tissue("Brain - Anterior cingulate cortex (BA24)", "Brain", 176, None),
    Tissue("Brain - Caudate (basal ganglia)", "Brain", 246, None),
    Tissue("Brain - Cerebellar Hemisphere", "Brain", 215, None),
    Tissue("Brain - Cerebellum", "Brain", 241, None),
    Tissue("Brain - Cortex", "Brain", 255, None),
    Tissue("Brain - Frontal Cortex (BA9)", "Brain", 209, None),
    Tissue("Brain - Hippocampus", "Brain", 197, None),
    Tissue("Brain - Hypothalamus", "Brain", 202, None),
    Tissue("Brain - Nucleus accumbens (basal ganglia)", "Brain", 246, None),
    Tissue("Brain - Putamen (basal ganglia)", "Brain", 205, None),
    Tissue("Brain - Spinal cord (cervical c-1)", "Brain", 159, None),
    Tissue("Brain - Substantia nigra", "Brain", 139, None),
    Tissue("Breast - Mammary Tissue", "Breast", 459, None),
    Tissue("Cells - Cultured fibroblasts", "Skin", 504, None),
    Tissue("Cells - EBV-transformed lymphocytes", "Blood", 174, None),
    Tissue("Cervix - Ectocervix", "Cervix Uteri", 9, "female"),
    Tissue("Cervix - Endocervix", "Cervix Uteri", 10, "female"),
    Tissue("Colon - Sigmoid", "Colon", 373, None),
    Tissue("Colon - Transverse", "Colon", 406, None),
    Tissue("Esophagus - Gastroesophageal Junction", "Esophagus", 375, None),
    Tissue("Esophagus - Mucosa", "Esophagus", 555, None),
    Tissue("Esophagus - Muscularis", "Esophagus", 515, None),
    Tissue("Fallopian Tube", "Fallopian Tube", 9, "female"),
    Tissue("Heart - Atrial Appendage", "Heart", 429, None),
    Tissue("Heart - Left Ventricle", "Heart", 432, None),
    Tissue("Kidney - Cortex", "Kidney", 85, None),
    Tissue("Kidney - Medulla", "Kidney", 4, None),
    Tissue("Liver", "Liver", 226, None),
    Tissue("Lung", "Lung", 578, None),
    Tissue("Minor Salivary Gland", "Salivary Gland", 162, None),
    Tissue("Muscle - Skeletal", "Muscle", 803, None),
    Tissue("Nerve - Tibial", "Nerve", 619, None),
    Tissue("Ovary", "Ovary", 180, "female"),
    Tissue("Pancreas", "Pancreas", 328, None),
    Tissue("Pituitary", "Pituitary", 283, None),
    Tissue("Prostate", "Prostate", 245, "male"),
    Tissue("Skin - Not Sun Exposed (Suprapubic)", "Skin", 604, None),
    Tissue("Skin - Sun Exposed (Lower leg)", "Skin", 701, None),
    Tissue("Small Intestine - Terminal Ileum", "Small Intestine", 187, None),
    Tissue("Spleen", "Spleen", 241, None),
    Tissue("Stomach", "Stomach", 359, None),
    Tissue("Testis", "Testis", 361, "male"),
    Tissue("Thyroid", "Thyroid", 653, None),
    Tissue("Uterus", "Uterus", 142, "female"),
    Tissue("Vagina", "Vagina", 156, "female"),
    Tissue("Whole Blood", "Blood", 755, None),
)

DETAILED_TO_BROAD: dict[str, str] = {t.detailed: t.broad for t in TISSUES}
N_SAMPLES_V8 = 17_382
