# cython: language_level=3
"""Flattened regression-tree ensembles: conversion from scikit-learn trees and the prediction loop.

A node is 12 bytes ``{left, feature, thr}``; the right child is ``left + 1``. A leaf points to itself with
``thr = +inf``, so every query can take the same number of steps without a branch: ``node = left + (x > thr)``.
Thresholds are stored as float32 rounded toward -inf, which makes ``x32 > thr32`` exactly scikit-learn's
``x32 > thr64`` test for float32 inputs (scikit-learn casts inputs to float32 too).
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport INFINITY, nextafterf
from libc.stdint cimport int32_t
from libc.stdlib cimport malloc, free

cnp.import_array()

cdef packed struct Node:
    int32_t left
    int32_t feature
    float thr

NODE_DTYPE = np.dtype([("left", np.int32), ("feature", np.int32), ("thr", np.float32)])



def flatten_tree(const cnp.intp_t[::1] children_left, const cnp.intp_t[::1] children_right,
                 const cnp.intp_t[::1] feature, const double[::1] threshold, const double[::1] value,
                 const cnp.intp_t[::1] feature_map, Node[::1] nodes, double[::1] values):
    """Renumber one scikit-learn tree breadth-first into ``nodes``/``values`` (same length); return its depth."""
    cdef Py_ssize_t n = children_left.shape[0], head = 0, tail = 1, old, new, nxt = 1
    cdef cnp.intp_t[::1] order = np.empty(n, dtype=np.intp)
    cdef cnp.intp_t[::1] depth = np.empty(n, dtype=np.intp)
    cdef Py_ssize_t max_depth = 0
    cdef float t32
    if nodes.shape[0] != n or values.shape[0] != n:
        raise ValueError("flatten_tree: output arrays must have one slot per node")
    with nogil:
        order[0] = 0
        depth[0] = 0
        while head < tail:
            old = order[head]
            new = head
            head += 1
            if depth[new] > max_depth:
                max_depth = depth[new]
            if children_left[old] < 0:
                nodes[new].left = <int32_t> new
                nodes[new].feature = 0
                nodes[new].thr = INFINITY
                values[new] = value[old]
            else:
                nodes[new].left = <int32_t> nxt
                nodes[new].feature = <int32_t> feature_map[feature[old]]
                t32 = <float> threshold[old]
                if <double> t32 > threshold[old]:
                    t32 = nextafterf(t32, -INFINITY)
                nodes[new].thr = t32
                values[new] = 0.0
                order[tail] = children_left[old]
                order[tail + 1] = children_right[old]
                depth[tail] = depth[new] + 1
                depth[tail + 1] = depth[new] + 1
                tail += 2
                nxt += 2
    return max_depth


def ensemble_sum(const Node[::1] nodes, const double[::1] values, const cnp.int64_t[::1] roots,
                 const cnp.int32_t[::1] depths, const float[:, ::1] X, double[::1] out,
                 Py_ssize_t start, Py_ssize_t stop, Py_ssize_t block=4096):
    """``out[i] = sum over trees of the leaf value reached by X[i]`` for rows ``start <= i < stop``.

    Queries go through each tree in blocks, all in lock-step one level at a time, so the loads of
    independent queries overlap instead of waiting on each other.
    """
    cdef Py_ssize_t n_trees = roots.shape[0], t, b, i, k, nb, d
    cdef int32_t* cur
    cdef double* acc
    cdef int32_t root, nd
    if stop > X.shape[0] or stop > out.shape[0] or start < 0:
        raise ValueError("ensemble_sum: row range out of bounds")
    if block < 1:
        raise ValueError("ensemble_sum: block must be >= 1")
    cur = <int32_t*> malloc(block * sizeof(int32_t))
    acc = <double*> malloc(block * sizeof(double))
    if cur == NULL or acc == NULL:
        free(cur)
        free(acc)
        raise MemoryError()
    with nogil:
        b = start
        while b < stop:
            nb = stop - b
            if nb > block:
                nb = block
            for i in range(nb):
                acc[i] = 0.0
            for t in range(n_trees):
                root = <int32_t> roots[t]
                for i in range(nb):
                    cur[i] = root
                d = depths[t]
                for k in range(d):
                    for i in range(nb):
                        nd = cur[i]
                        cur[i] = nodes[nd].left + (X[b + i, nodes[nd].feature] > nodes[nd].thr)
                for i in range(nb):
                    acc[i] += values[cur[i]]
            for i in range(nb):
                out[b + i] = acc[i]
            b += nb
    free(cur)
    free(acc)
    return None
