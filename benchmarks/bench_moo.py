"""All multi-objective kernels against moocore and pymoo in one run: sorting, first front, crowding, hypervolume.

Usage: python benchmarks/bench_moo.py [--quick]   (single thread, median of repeats; prints ratio ours / fastest peer)
"""
import argparse
import os
import sys

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_hv  # noqa: E402
import bench_sort  # noqa: E402


def main(quick: bool = False) -> None:
    print("== non-dominated sorting, first front, crowding distance ==")
    bench_sort.main(quick)
    print("\n== hypervolume ==")
    bench_hv.main(quick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    main(parser.parse_args().quick)
