"""Sanity check of the imported GTEx subset: is tissue predictable from 59 genes?

Usage::

    python benchmarks/gtex_sanity.py

Imports the real 59-gene read-count subset (``../shared``) with the portal
sample table, keeps the samples with a known tissue, and fits a plain
logistic regression on ``log2(x + 1)``, standardized on the training part,
with donors kept apart (``GroupShuffleSplit`` by donor, 20% of donors held
out, three seeds). Prints the accuracy for broad and detailed tissue next to
the majority-class baseline.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hrc.data import schema
from hrc.data.dataset import load_prepared
from hrc.data.gtex import import_gtex

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "gtex-v8-subset"
REAL_GCT = (
    SHARED / "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_reads.acmg_59.gct.gz"
)
SUBJECTS = SHARED / "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt"
PORTAL = SHARED / "GTEx_Portal_samples.csv"


def main() -> None:
    if not REAL_GCT.is_file():
        sys.exit(f"real GTEx subset not found at {SHARED}")
    with tempfile.TemporaryDirectory(prefix="hrc-sanity-") as tmp:
        paths = import_gtex(REAL_GCT, SUBJECTS, PORTAL, tmp, progress=False)
        data = load_prepared(*paths)

    # Samples with a known tissue; features log2(reads + 1).
    known = data.samples[schema.SUBTISSUE].notna().to_numpy()
    features = np.log2(data.expression[known].astype(np.float64) + 1.0)
    donors = data.samples.loc[known, schema.DONOR].to_numpy()
    print(f"{known.sum():,} samples, {len(set(donors))} donors, {data.n_genes} genes")

    for column in (schema.TISSUE, schema.SUBTISSUE):
        labels = data.samples.loc[known, column].to_numpy()
        splitter = GroupShuffleSplit(n_splits=3, test_size=0.2, random_state=0)
        scores, baselines = [], []
        for train, test in splitter.split(features, labels, groups=donors):
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            model.fit(features[train], labels[train])
            scores.append(model.score(features[test], labels[test]))
            _, counts = np.unique(labels[train], return_counts=True)
            majority = np.unique(labels[train])[counts.argmax()]
            baselines.append(np.mean(labels[test] == majority))
        print(
            f"{column:<10} {len(set(labels)):>2} classes: accuracy "
            f"{np.mean(scores):.3f} (splits {', '.join(f'{s:.3f}' for s in scores)}),"
            f" majority baseline {np.mean(baselines):.3f}"
        )


if __name__ == "__main__":
    main()
