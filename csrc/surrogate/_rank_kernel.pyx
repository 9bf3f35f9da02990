# cython: language_level=3
"""Discordant-pair count for Kendall's tau in O(n log n) (Fenwick tree), the inner loop of ``metrics.kendall_tau``."""
import numpy as np
cimport numpy as cnp
from libc.stdlib cimport calloc, free
from libc.stdint cimport int64_t

cnp.import_array()


def kendall_discordant(const cnp.intp_t[::1] x, const cnp.intp_t[::1] y):
    """Number of pairs i < j with x[i] < x[j] and y[i] > y[j].

    ``x`` must be sorted ascending (ties broken by ``y`` ascending); ``y`` holds dense ranks 1..m.
    """
    cdef Py_ssize_t n = x.shape[0], i, j, k, m = 0, maxr = 0
    cdef int64_t dis = 0, below
    cdef int64_t* tree
    for i in range(n):
        if y[i] > maxr:
            maxr = y[i]
    tree = <int64_t*> calloc(maxr + 1, sizeof(int64_t))
    if tree == NULL:
        raise MemoryError()
    with nogil:
        # Walk groups of equal x; before inserting a group, count earlier points with a larger y.
        i = 0
        while i < n:
            j = i
            while j < n and x[j] == x[i]:
                # earlier (strictly smaller x) points with y > y[j] = inserted - (#inserted with y <= y[j])
                below = 0
                k = y[j]
                while k > 0:
                    below += tree[k]
                    k -= k & -k
                dis += i - below
                j += 1
            for k in range(i, j):
                m = y[k]
                while m <= maxr:
                    tree[m] += 1
                    m += m & -m
            i = j
    free(tree)
    return int(dis)
