"""Wall time and peak memory of ``import_gtex`` on real and synthetic GCT files.

Usage::

    python benchmarks/import_gtex.py [--synthetic-genes 5000] [--keep-genes 1000]

Cases, each run in a fresh child process so its peak RSS is its own:

1. the real 59-gene x 17,382-sample read-count subset (``../shared``), with the
   portal sample table;
2. a synthetic gzipped GCT with the real 17,382 sample ids and
   ``--synthetic-genes`` rows of random counts, imported whole (count pass +
   parse pass), with ``--genes`` (single top-variance pass) and with a custom
   list of 100 ids (name pass + parse of the matches).

The synthetic file is made in a temporary folder and deleted afterwards.
Needs the real subset for its sample ids and subject table; exits otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "gtex-v8-subset"
REAL_GCT = (
    SHARED / "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_reads.acmg_59.gct.gz"
)
SUBJECTS = SHARED / "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt"
PORTAL = SHARED / "GTEx_Portal_samples.csv"


def run_child(args: argparse.Namespace) -> None:
    """Import once and print wall time and peak RSS as JSON."""
    from hrc.data.gtex import import_gtex

    start = time.perf_counter()
    import_gtex(
        args.expression,
        SUBJECTS,
        samples=PORTAL,
        out_dir=args.out,
        genes=args.genes,
        custom_gene_path=args.custom,
        progress=False,
    )
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_mib}))


def write_synthetic_gct(path: Path, n_genes: int, seed: int = 0) -> int:
    """Write a gzipped GCT with the real sample ids and random counts."""
    with gzip.open(REAL_GCT, "rt") as handle:
        header = [next(handle) for _ in range(3)][2]
    n_samples = len(header.rstrip("\n").split("\t")) - 2
    rng = np.random.default_rng(seed)
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write(f"#1.2\n56200\t{n_samples}\n{header}")
        for gene in range(n_genes):
            counts = rng.poisson(rng.gamma(0.5, 200.0), size=n_samples)
            values = "\t".join(map(str, counts.tolist()))
            out.write(f"ENSG{gene:011d}.1\tSYN{gene}\t{values}\n")
    return n_samples


def measure(label: str, expression: Path, out: Path, *extra: str) -> None:
    """Run one import in a child process and print its figures."""
    command = [sys.executable, __file__, "--child", str(expression), str(out), *extra]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"{label}: failed\n{result.stderr}")
        return
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(
        f"{label:<44} {figures['seconds']:8.1f} s   "
        f"peak RSS {figures['peak_rss_mib']:8.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-genes", type=int, default=5000)
    parser.add_argument("--keep-genes", type=int, default=1000)
    parser.add_argument("--child", nargs=2, metavar=("GCT", "OUT"))
    parser.add_argument("--genes", type=int)
    parser.add_argument("--custom")
    args = parser.parse_args()
    if args.child:
        args.expression, args.out = args.child
        run_child(args)
        return
    if not REAL_GCT.is_file():
        sys.exit(f"real GTEx subset not found at {SHARED}")

    with tempfile.TemporaryDirectory(prefix="hrc-bench-") as tmp:
        tmp = Path(tmp)
        measure("real subset, 59 genes x 17,382", REAL_GCT, tmp / "real")

        # Synthetic matrix with the real sample ids, to show the chunking.
        synthetic = tmp / "synthetic.gct.gz"
        start = time.perf_counter()
        n_samples = write_synthetic_gct(synthetic, args.synthetic_genes)
        print(
            f"made synthetic {args.synthetic_genes:,} x {n_samples:,} GCT "
            f"({synthetic.stat().st_size / 2**20:.0f} MiB gzipped) in "
            f"{time.perf_counter() - start:.1f} s"
        )
        dense_mib = args.synthetic_genes * n_samples * 4 / 2**20
        print(f"float32 matrix alone: {dense_mib:.0f} MiB")
        measure(f"synthetic, all {args.synthetic_genes:,} genes", synthetic, tmp / "a")
        measure(
            f"synthetic, --genes {args.keep_genes}",
            synthetic,
            tmp / "b",
            "--genes",
            str(args.keep_genes),
        )
        custom = tmp / "custom.csv"
        ids = [f"ENSG{g:011d}" for g in range(0, args.synthetic_genes, 50)][:100]
        custom.write_text("ids\n" + "\n".join(ids) + "\n")
        measure(
            f"synthetic, --custom_gene_path ({len(ids)} ids)",
            synthetic,
            tmp / "c",
            "--custom",
            str(custom),
        )


if __name__ == "__main__":
    main()
