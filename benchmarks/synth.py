"""Time a full-size synthetic cohort: generation, then the parquet write.

Usage::

    python benchmarks/synth.py [--samples 17382] [--genes 18000] [--gtex-files]

Prints wall seconds and CPU seconds (all threads of this process) of each step,
and the peak resident memory. On a shared machine the wall time includes
waiting for a core; the CPU time does not. The target is under a minute of
wall time for 17,382 samples x 18,000 genes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from hrc.data import synth
from hrc.data.dataset import write_prepared
from hrc.data.gtex_writers import write_gtex_files


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=synth.DEFAULT_SAMPLES)
    parser.add_argument("--genes", type=int, default=18_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gtex-files", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hrc-synth-bench-") as out_dir:
        # Generation (column-major, as write_cohort uses it).
        started, cpu = time.perf_counter(), time.process_time()
        cohort = synth._generate(args.samples, args.genes, args.seed, False)
        generated = time.perf_counter() - started
        print(
            f"generate {args.samples} x {args.genes}: {generated:.1f} s wall, "
            f"{time.process_time() - cpu:.1f} s CPU"
        )

        # The prepared pair.
        started, cpu = time.perf_counter(), time.process_time()
        write_prepared(
            out_dir,
            cohort.samples,
            cohort.expression,
            cohort.gene_ids,
            cohort.gene_symbols,
        )
        written = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(out_dir).iterdir()) / 2**20
        print(
            f"write parquet pair: {written:.1f} s wall, "
            f"{time.process_time() - cpu:.1f} s CPU ({size:.0f} MiB)"
        )
        print(f"generate + write: {generated + written:.1f} s")

        if args.gtex_files:
            started, cpu = time.perf_counter(), time.process_time()
            write_gtex_files(out_dir, cohort, seed=args.seed)
            print(
                f"write GTEx files: {time.perf_counter() - started:.1f} s wall, "
                f"{time.process_time() - cpu:.1f} s CPU"
            )
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
