"""Crowding distance (NSGA-II) with pymoo's semantics.

Matches ``pymoo``'s NSGA-II crowding function, ``get_crowding_function("cd")``, value for value: per objective the
points are sorted stably (ties keep row order); the first and last get ``inf``; the others
``(next - previous) / (max - min)``; an objective with ``max == min`` contributes 0 (no division by zero); the sum
over objectives is divided by M. Duplicated points are neighbours at distance 0, so only the first copy (in row
order) of an extreme point is infinite. With N <= 2 every point gets ``inf``, as that function gives (a front of one
or two points is all boundary, and NSGA-II keeps its boundaries).

Where this differs from pymoo 0.6.2's bare helper ``calc_crowding_distance`` (which ``get_crowding_function("cd")``
calls only from N = 3 on): for N = 1, and for N = 2 identical points, the helper divides by a zero range and answers
0 instead of ``inf``. From N = 3 on the two agree value for value.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from nsganetv2.moo import _crowding
from nsganetv2.moo._validate import as_objectives

__all__ = ["crowding_distance"]

_F64 = np.dtype(np.float64)


def crowding_distance(F: ArrayLike) -> np.ndarray:
    """Crowding distance of every point of the (N, M) objective array ``F`` (float64; larger = less crowded).

    ``inf`` for every point when N <= 2 (see the module docstring for pymoo's two functions). ``ValueError`` for a
    non-2-D, empty, complex or non-numeric ``F`` or one with NaN/inf (naming the row).
    """
    if type(F) is np.ndarray and F.dtype == _F64 and F.ndim == 2 and F.size and F.flags.c_contiguous:
        A = F
    else:
        A = as_objectives(F)
    d = _crowding.crowding(A)
    if d is None:
        as_objectives(F)  # raises the ValueError naming the first row holding NaN or inf
        raise AssertionError("kernel reported a non-finite value that validation did not find")  # pragma: no cover
    return d
