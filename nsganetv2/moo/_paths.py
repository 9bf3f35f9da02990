"""Names for the selectors the compiled kernels take for tests and benchmarks (the public functions always use
``AUTO``). They mirror the C enums in ``csrc/moo/moo_common.h``; ``tests/test_csrc_headers.py`` checks the values
against the ones the extensions were compiled with (``_hypervolume.C_PATHS``, ``_sorting.C_ALGOS``).
"""
from __future__ import annotations

from enum import IntEnum

__all__ = ["HVPath", "NDSAlgo"]


class HVPath(IntEnum):
    """``_path`` of ``nsganetv2.moo._hypervolume.hypervolume_kernel`` (C ``HV_PATH_*``)."""

    AUTO = 0         # the dispatcher (csrc/moo/hv.h) chooses
    WFG_MASK = 1     # M >= 5 by WFG, every 4-D limit set filtered by worse-objective masks, then the 4-D kernel
    WFG_SWEEP = 2    # M >= 5 by WFG, every 4-D limit set swept straight through the 3-D front
    HV5_SCALAR = 3   # M = 5: hv5d at every size, with its scalar scan
    QHV = 4          # 5 <= M <= 8: QHV-II at every size
    QHV_SCALAR = 5   # the same on its portable (non-AVX2) path
    NO_QHV = 6       # as AUTO without QHV-II (M = 5: hv5d at every size, AVX2 scan where the CPU has it)
    QHV_SHALLOW = 7  # QHV-II with its depth guard at 2, so that most boxes go to its fallback (hv5d / WFG)


class NDSAlgo(IntEnum):
    """``algo`` of ``nsganetv2.moo._sorting.ranks`` / ``first_front`` (C ``MOO_NDS_*``)."""

    AUTO = 0              # the best path for M
    KDTREE = 1            # the k-d tree path for every M
    TREAP = 2             # the treap staircases for M = 3 (the k-d tree for other M)
    NO_FILTER = 3         # as AUTO, without the first-front filter
    KDTREE_NO_FILTER = 4  # the k-d tree path without the first-front filter
    COPY = 5              # all fronts, M = 2, 3: rows copied in sorted order, bitset staircases for M = 3 (the sweep's
                          # fallback)
    SWEEP_TIGHT = 6       # all fronts, M = 3: the sweep on a 2 x 2 grid with tiny budgets, so that it gives up early
    SWEEP = 7             # all fronts, M = 2, 3: the sweep at every size (AUTO takes it from 65,536 rows)
    PAIRS = 8             # pairs of rows compared, up to 384 rows at every M (AUTO: with AVX2, from M = 3, up to 64
                          # to 384 rows by M, fewer from M = 11); as AUTO above
    PAIRS_SCALAR = 9      # the same without AVX2
