"""Exact hypervolume: agreement with moocore and the numpy reference, properties, closed forms, bad input."""
from __future__ import annotations

import math

import moocore
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nsganetv2.moo._paths import HVPath
from nsganetv2.moo._reference_hv import hypervolume_ref
from nsganetv2.moo.hypervolume import hypervolume, hypervolume_contributions

RTOL = 1e-12


def sphere(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """Points on the positive unit sphere: one fully non-dominated front."""
    X = np.abs(rng.normal(size=(n, m))) + 1e-12
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def assert_close(ours: float, theirs: float) -> None:
    assert abs(ours - theirs) <= RTOL * max(abs(theirs), 1e-300), (ours, theirs)


def moocore_hv(F, ref) -> float:
    F = np.asarray(F, dtype=float)
    keep = (F < ref).all(axis=1)
    return float(moocore.hypervolume(F[keep], ref=ref)) if keep.any() else 0.0


# sizes per M that keep moocore and us quick on 2 cores
SIZES = {1: (1, 7, 500), 2: (1, 3, 50, 2000, 20000), 3: (2, 9, 300, 6000), 4: (2, 13, 200, 1500),
         5: (2, 17, 120, 400), 6: (2, 25, 80)}


@pytest.mark.parametrize("m", range(1, 7))
@pytest.mark.parametrize("kind", ["uniform", "grid", "sphere"])
def test_agrees_with_moocore(m: int, kind: str) -> None:
    rng = np.random.default_rng(100 * m + len(kind))
    for n in SIZES[m]:
        if kind == "uniform":
            F, ref = rng.random((n, m)), np.full(m, 1.0)  # some rows touch nothing, none equal ref
            F[rng.random(n) < 0.1, 0] = 1.0  # rows on the reference boundary contribute nothing
        elif kind == "grid":  # ties and exact duplicates everywhere
            F, ref = rng.integers(0, 6, (n, m)).astype(float), np.full(m, 5.0)
        else:
            F, ref = sphere(n, m, rng), np.full(m, 1.1)
        assert_close(hypervolume(F, ref), moocore_hv(F, ref))


@pytest.mark.parametrize("m", range(1, 7))
def test_agrees_with_reference_and_moocore_on_small_sets(m: int) -> None:
    rng = np.random.default_rng(7 + m)
    for trial in range(12):
        n = int(rng.integers(1, 9 if m >= 5 else 14))
        if trial % 2:
            F, ref = rng.integers(-2, 4, (n, m)).astype(float), rng.integers(2, 5, m).astype(float)
        else:
            F, ref = rng.normal(size=(n, m)), np.full(m, 1.5)
        ours = hypervolume(F, ref)
        assert_close(ours, hypervolume_ref(F, ref))
        assert_close(ours, moocore_hv(F, ref))


def test_larger_3d_and_4d_sets_with_ties_agree_with_moocore() -> None:
    """Several bitset levels (M = 3) and long runs of tied w / z values (M = 4)."""
    rng = np.random.default_rng(3)
    F = rng.integers(0, 40, (30000, 3)).astype(float)
    F = np.vstack([F, F[:500]])  # duplicates
    assert_close(hypervolume(F, np.full(3, 40.0)), moocore_hv(F, np.full(3, 40.0)))
    F3 = sphere(70000, 3, rng)
    assert_close(hypervolume(F3, np.full(3, 1.1)), moocore_hv(F3, np.full(3, 1.1)))
    G = rng.integers(0, 12, (3000, 4)).astype(float)
    assert_close(hypervolume(G, np.full(4, 12.0)), moocore_hv(G, np.full(4, 12.0)))
    # a 3-D front lifted to 4-D with w on a few levels: many points dominated in the w-sweep
    H = np.hstack([sphere(2000, 3, rng), rng.integers(0, 3, (2000, 1)) / 3.0])
    assert_close(hypervolume(H, np.full(4, 1.1)), moocore_hv(H, np.full(4, 1.1)))


def test_4d_sweep_fronts_around_the_counted_size_agree_with_moocore() -> None:
    """hv4_sweep counts the front points below and level with p in z by AVX2 compares while the 3-D front holds
    at most 12 points (HV4_COUNT_MAX), by binary search beyond, and shifts the front's tail by blocks of four:
    fronts of 1..20 points (a 3-D front at the first w, then points in later w with z on the same few levels, so
    that many sit level with front points)."""
    rng = np.random.default_rng(48)
    for k in range(1, 21):
        for trial in range(4):
            front = sphere(k, 3, rng)
            front[:, 2] = rng.integers(0, 4, k) / 4.0 + 0.01
            later = rng.random((3 * k + 5, 3)) * 0.9
            later[:, 2] = rng.integers(0, 4, len(later)) / 4.0 + 0.01
            F = np.vstack([np.hstack([front, np.zeros((k, 1))]),
                           np.hstack([later, rng.integers(1, 5, (len(later), 1)) / 5.0])])
            ref = np.full(4, 1.1)
            assert_close(hypervolume(F, ref), moocore_hv(F, ref))


@pytest.mark.parametrize("m", [7, 8, 10, 12])
def test_many_objectives_agree_with_moocore(m: int) -> None:
    """WFG levels above the M = 4 kernel, both limit-set filters (by worse-mask for M <= 9, by sum beyond)."""
    rng = np.random.default_rng(m)
    for n in {7: (3, 40, 80), 8: (3, 60), 10: (3, 30), 12: (3, 20)}[m]:  # moocore needs ~2 s at M=12, N=30
        for F, ref in ((sphere(n, m, rng), np.full(m, 1.1)),
                       (rng.integers(0, 3, (n, m)).astype(float), np.full(m, 3.0))):
            assert_close(hypervolume(F, ref), moocore_hv(F, ref))


def test_beyond_moocore_dimension_limit_agrees_with_reference() -> None:
    rng = np.random.default_rng(40)
    for m, n in ((40, 9), (64, 6)):
        F = sphere(n, m, rng)
        assert_close(hypervolume(F, np.full(m, 1.1)), hypervolume_ref(F, np.full(m, 1.1)))
    with pytest.raises(ValueError, match="at most 64"):
        hypervolume(np.zeros((2, 65)), np.ones(65))


def test_documented_examples() -> None:
    assert hypervolume([[5, 5], [4, 6], [2, 7], [7, 4]], (10, 10)) == pytest.approx(38.0, rel=1e-15)
    assert hypervolume([[1, 0, 1], [1, 1, 0], [-1, 2, 2]], (5, 5, 5)) == pytest.approx(114.0, rel=1e-15)


@pytest.mark.parametrize(
    "front, ref, exact",
    [
        (lambda f: 1.0 - np.sqrt(f), 11.0, 120.0 + 2.0 / 3.0),  # ZDT1
        (lambda f: 1.0 - f**2, 11.0, 120.0 + 1.0 / 3.0),  # ZDT2
        (lambda f: 1.0 - np.sqrt(f), 1.1, 0.87666666666666666),  # ZDT1, ref (1.1, 1.1)
        (lambda f: np.sqrt(1.0 - f**2), 11.0, 121.0 - math.pi / 4.0),  # DTLZ2, 2 objectives
    ],
)
def test_closed_forms_converge(front, ref: float, exact: float) -> None:
    errors = []
    for n in (101, 1001, 100001):
        f1 = np.linspace(0.0, 1.0, n)
        F = np.column_stack([f1, front(f1)])
        hv = hypervolume(F, (ref, ref))
        assert hv <= exact + 1e-12  # an inner sample of a convex/concave front never overshoots
        errors.append(exact - hv)
    assert errors[0] > errors[1] > errors[2] >= 0.0
    assert errors[2] < 2e-5


def test_dtlz1_plane_in_three_objectives_matches_simplex_volume() -> None:
    """A dense grid on the plane f1 + f2 + f3 = 0.5 approaches 1.1^3 - the simplex corner volume, from below."""
    k = 400
    i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    keep = i + j <= k
    f1, f2 = 0.5 * i[keep] / k, 0.5 * j[keep] / k
    F = np.column_stack([f1, f2, 0.5 - f1 - f2])
    exact = 1.1**3 - 0.5**3 / 6.0
    hv = hypervolume(F, (1.1, 1.1, 1.1))
    assert 0.0 <= exact - hv < 1e-3
    assert_close(hv, moocore_hv(F, np.full(3, 1.1)))


def test_rows_not_strictly_dominating_ref_contribute_nothing() -> None:
    F = np.array([[0.5, 0.5], [1.0, 0.1], [0.2, 1.0], [2.0, 2.0]])
    assert hypervolume(F, (1.0, 1.0)) == pytest.approx(0.25, rel=1e-15)
    assert hypervolume(F[1:], (1.0, 1.0)) == 0.0
    assert hypervolume(np.array([[3.0, 3.0, 3.0, 3.0, 3.0]]), np.zeros(5)) == 0.0


def test_integer_and_float32_inputs() -> None:
    rng = np.random.default_rng(5)
    F = rng.integers(0, 9, (60, 4))
    expected = moocore_hv(F.astype(float), np.full(4, 9.0))
    assert_close(hypervolume(F, np.full(4, 9, dtype=np.int64)), expected)
    assert_close(hypervolume(F.astype(np.float32), np.full(4, 9.0, dtype=np.float32)), expected)
    assert_close(hypervolume(F.tolist(), [9, 9, 9, 9]), expected)
    assert_close(hypervolume(np.asfortranarray(F.astype(float)), np.full(4, 9.0)), expected)


@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_contributions_agree_with_moocore(m: int) -> None:
    rng = np.random.default_rng(50 + m)
    for F, ref in ((rng.integers(0, 5, (40, m)).astype(float), np.full(m, 4.0)),  # ties, duplicates, outside
                   (sphere(30, m, rng), np.full(m, 1.1))):
        ours = hypervolume_contributions(F, ref)
        inside = (F < ref).all(axis=1)
        theirs = np.zeros(len(F))
        theirs[inside] = moocore.hv_contributions(F[inside], ref=ref, ignore_dominated=False)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12 * hypervolume(F, ref))
    assert hypervolume_contributions([[1.0, 2.0]], (3.0, 3.0)).tolist() == [2.0]


# -------------------------------------------------------------------------------- hypothesis properties
def point_sets(min_m: int = 1, max_m: int = 6):
    return st.integers(min_m, max_m).flatmap(
        lambda m: st.tuples(
            arrays(np.float64, st.tuples(st.integers(1, 12 if m >= 5 else 30), st.just(m)),
                   elements=st.one_of(st.integers(0, 6).map(float),
                                      st.floats(0.0, 6.0, allow_nan=False, width=32))),
            st.just(m),
        )
    )


@settings(max_examples=60, deadline=None)
@given(point_sets(), st.data())
def test_adding_a_point_never_lowers_hv(Fm, data) -> None:
    F, m = Fm
    ref = np.full(m, 6.5)
    p = data.draw(arrays(np.float64, (1, m), elements=st.integers(0, 7).map(float)))
    before, after = hypervolume(F, ref), hypervolume(np.vstack([F, p]), ref)
    assert after >= before - 1e-12 * max(before, 1.0)
    assert_close(after, moocore_hv(np.vstack([F, p]), ref))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 6).map(lambda m: (1, m)), elements=st.floats(-1e3, 1e3)),
       st.floats(0.001, 1e3))
def test_one_point_is_the_product_of_its_distances(p, margin) -> None:
    ref = p[0] + margin * (1.0 + np.arange(p.shape[1]))
    assert hypervolume(p, ref) == pytest.approx(float(np.prod(ref - p[0])), rel=1e-14)


@settings(max_examples=60, deadline=None)
@given(point_sets(), st.randoms(use_true_random=False))
def test_permutation_invariant(Fm, rnd) -> None:
    F, m = Fm
    ref = np.full(m, 6.5)
    order = list(range(F.shape[0]))
    rnd.shuffle(order)
    hv = hypervolume(F, ref)
    assert_close(hypervolume(F[order], ref), hv)
    # objective order does not matter either
    cols = list(range(m))
    rnd.shuffle(cols)
    assert_close(hypervolume(F[:, cols], ref[cols]), hv)


# -------------------------------------------------------------------------------- bad input
def test_wrong_reference_length() -> None:
    with pytest.raises(ValueError, match="ref has 3 values but the points have 2 objectives"):
        hypervolume(np.ones((4, 2)), (1.0, 2.0, 3.0))


def test_nan_names_the_row() -> None:
    F = np.zeros((5, 3))
    F[3, 1] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        hypervolume(F, np.ones(3))
    F[3, 1] = np.inf
    with pytest.raises(ValueError, match="row 3"):
        hypervolume(F, np.ones(3))


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros(3), np.zeros((2, 2, 2)), np.zeros((3, 0))])
def test_empty_or_not_2d(bad) -> None:
    with pytest.raises(ValueError, match="F"):
        hypervolume(bad, np.ones(3))


def test_non_finite_reference() -> None:
    with pytest.raises(ValueError, match="ref must be finite"):
        hypervolume(np.zeros((2, 2)), (1.0, np.nan))


# -------------------------------------------------------------------------------- forced WFG paths (M >= 5)
@pytest.mark.parametrize("path", [HVPath.WFG_MASK, HVPath.WFG_SWEEP])
@pytest.mark.parametrize("m", [5, 6, 7])
def test_each_limit_set_path_agrees_with_moocore(m: int, path: HVPath) -> None:
    """WFG_MASK: every 4-D limit set filtered by worse-objective masks, then the 4-D kernel; WFG_SWEEP: every one
    swept straight through the 3-D front (dominated and tied survivors included). The default mixes both by size."""
    from nsganetv2.moo._hypervolume import hypervolume_kernel

    rng = np.random.default_rng(900 + 10 * m + path)
    sizes = {5: (3, 14, 60, 300), 6: (3, 14, 60), 7: (3, 30)}[m]
    for n in sizes:
        cases = [(sphere(n, m, rng), np.full(m, 1.1)),
                 (rng.integers(0, 4, (n, m)).astype(float), np.full(m, 4.0)),  # ties, duplicates, on the ref
                 (rng.random((n, m)), np.full(m, 1.0))]
        for F, ref in cases:
            keep = (F < ref).all(axis=1)
            if not keep.any():
                continue
            A = np.ascontiguousarray(F[keep])
            forced = hypervolume_kernel(A, ref, _path=path)
            assert_close(forced, moocore_hv(F, ref))
            assert_close(forced, hypervolume(F, ref))


def test_limit_set_path_argument_is_checked() -> None:
    from nsganetv2.moo._hypervolume import hypervolume_kernel

    with pytest.raises(ValueError, match="_path"):
        hypervolume_kernel(np.zeros((2, 5)), np.ones(5), _path=len(HVPath))
    with pytest.raises(ValueError, match="_path"):
        hypervolume_kernel(np.zeros((2, 5)), np.ones(5), _path=-1)


# -------------------------------------------------------------------------------- the M = 5 sweep (hv5.h)
def _m5_cases(rng: np.random.Generator, n: int, m: int = 5):
    yield rng.random((n, m)), np.full(m, 1.0)
    yield sphere(n, m, rng), np.full(m, 1.1)
    yield rng.integers(0, 4, (n, m)).astype(float), np.full(m, 4.0)  # ties, duplicates, rows on the ref
    yield rng.integers(0, 3, (n, m)).astype(float), np.full(m, 3.0)  # long tied runs in every objective
    F = sphere(n, m - 1, rng)  # an (m-1)-D front lifted to m-D with few levels: many points dominated in the sweep
    yield np.hstack([F, rng.integers(0, 3, (n, 1)) / 3.0]), np.full(m, 1.1)
    G = rng.random((n, m))  # one objective constant: every limit set sits on p's value there
    G[:, int(rng.integers(0, m))] = 0.25
    yield G, np.full(m, 1.0)


def _check_forced_path(F: np.ndarray, ref: np.ndarray, path: HVPath) -> None:
    from nsganetv2.moo._hypervolume import hypervolume_kernel

    keep = (F < ref).all(axis=1)
    expected = moocore_hv(F, ref)
    if not keep.any():
        assert hypervolume(F, ref) == 0.0
        return
    A = np.ascontiguousarray(F[keep])
    assert_close(hypervolume_kernel(A, ref, _path=path), expected)
    assert_close(hypervolume(F, ref), expected)


@pytest.mark.parametrize("path", [HVPath.NO_QHV, HVPath.HV5_SCALAR])
def test_m5_sweep_agrees_with_moocore(path: HVPath) -> None:
    """The d = 5 sweep at every size (the default hands M = 5 to QHV-II, which hands the sweep its deepest boxes) with
    its AVX2 scan (NO_QHV,
    on machines that have AVX2) and its scalar scan (HV5_SCALAR)."""
    rng = np.random.default_rng(5000 + path)
    for n in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 150, 300):
        for F, ref in _m5_cases(rng, n):
            _check_forced_path(F, ref, path)


def test_m5_agrees_with_reference_on_tiny_sets() -> None:
    """The default (QHV-II from 5 points) and the d = 5 sweep against the inclusion-exclusion reference."""
    from nsganetv2.moo._hypervolume import hypervolume_kernel

    rng = np.random.default_rng(77)
    for trial in range(40):
        n = int(rng.integers(1, 9))
        F = rng.integers(0, 3, (n, 5)).astype(float) if trial % 2 else rng.random((n, 5))
        ref = np.full(5, 3.0 if trial % 2 else 1.0)
        want = hypervolume_ref(F, ref)
        assert_close(hypervolume(F, ref), want)
        assert_close(hypervolume_kernel(np.ascontiguousarray(F), ref, _path=int(HVPath.NO_QHV)), want)


def test_m5_sweep_larger_sets_with_ties_agree_with_moocore() -> None:
    """A few thousand points: several 64-point words of the active set, points leaving it, long tied runs."""
    rng = np.random.default_rng(55)
    F = rng.integers(0, 6, (2500, 5)).astype(float)
    assert_close(hypervolume(F, np.full(5, 6.0)), moocore_hv(F, np.full(5, 6.0)))
    G = rng.random((3000, 5))
    assert_close(hypervolume(G, np.full(5, 1.0)), moocore_hv(G, np.full(5, 1.0)))
    H = sphere(1000, 5, rng)
    assert_close(hypervolume(H, np.full(5, 1.1)), moocore_hv(H, np.full(5, 1.1)))


# -------------------------------------------------------------------------------- QHV-II (hv_qhv.h, 5 <= M <= 8)
@pytest.mark.parametrize("path", [HVPath.QHV, HVPath.QHV_SCALAR, HVPath.QHV_SHALLOW])
@pytest.mark.parametrize("m", [5, 6, 7, 8])
def test_qhv_agrees_with_moocore(m: int, path: HVPath) -> None:
    """QHV-II at every size: QHV (AVX2 where the machine has it), QHV_SCALAR its portable path, QHV_SHALLOW with the
    boxes past depth 2 handed to hv5d / WFG (its guard against deep recursion). Sets of 5 or more points reach its own
    recursion and inclusion-exclusion base cases; smaller ones are summed before it."""
    rng = np.random.default_rng(7000 + 10 * m + path)
    sizes = {5: (5, 6, 8, 13, 40, 150), 6: (5, 6, 13, 40, 100), 7: (6, 13, 40), 8: (6, 13, 30)}[m]
    for n in sizes:
        for F, ref in _m5_cases(rng, n, m):
            _check_forced_path(F, ref, path)


def test_qhv_larger_sets_agree_with_moocore() -> None:
    """The default takes QHV-II for M = 5..8: index lists longer than one stack
    buffer (256)."""
    rng = np.random.default_rng(66)
    F = rng.integers(0, 5, (1500, 6)).astype(float)
    assert_close(hypervolume(F, np.full(6, 5.0)), moocore_hv(F, np.full(6, 5.0)))
    H = sphere(400, 6, rng)
    assert_close(hypervolume(H, np.full(6, 1.1)), moocore_hv(H, np.full(6, 1.1)))




# -------------------------------------------------------------------------------- threads (QHV-II's boxes)
@pytest.mark.parametrize("m", [5, 6, 7])
def test_threads_give_the_same_value_to_the_bit(m: int) -> None:
    """n_threads splits QHV-II's boxes into tasks; the value is identical for any thread count, on fronts, integer
    grids (ties, copies), dominated points and points outside ref, and on the paths that ignore n_threads."""
    rng = np.random.default_rng(300 + m)
    n_big = {5: 1500, 6: 600, 7: 300}[m]
    sets = [(sphere(n_big, m, rng), np.full(m, 1.1)), (rng.integers(0, 5, (n_big, m)).astype(float), np.full(m, 4.0)),
            (rng.random((n_big, m)), np.full(m, 0.9)), (sphere(120, m, rng), np.full(m, 1.1))]
    for F, ref in sets:
        one = hypervolume(F, ref)
        for t in (2, 3, 4, np.int64(5)):
            assert hypervolume(F, ref, n_threads=t) == one
        for path in (HVPath.QHV, HVPath.QHV_SCALAR, HVPath.QHV_SHALLOW):
            from nsganetv2.moo._hypervolume import hypervolume_kernel

            base = hypervolume_kernel(F, ref, _path=path)
            assert all(hypervolume_kernel(F, ref, _path=path, n_threads=t) == base for t in (2, 3, 4))
    assert_close(hypervolume(sets[0][0], sets[0][1], n_threads=2), moocore_hv(*sets[0]))


def test_threads_on_other_paths_and_bad_counts() -> None:
    rng = np.random.default_rng(9)
    for m in (2, 3, 4, 9):
        F = sphere(300, m, rng)
        assert hypervolume(F, np.full(m, 1.1), n_threads=4) == hypervolume(F, np.full(m, 1.1))
    F = sphere(20, 5, rng)
    for bad in (0, -1, 1.5, True, "2", None):
        with pytest.raises(ValueError, match="n_threads"):
            hypervolume(F, np.full(5, 1.1), n_threads=bad)
    with pytest.raises(ValueError, match="n_threads"):  # also on the validating path (a list, not an array)
        hypervolume(F.tolist(), [1.1] * 5, n_threads=0)

@pytest.mark.parametrize("path", [HVPath.QHV, HVPath.QHV_SCALAR, HVPath.NO_QHV])
def test_volume_past_the_largest_double_is_inf_not_an_error(path: HVPath) -> None:
    """QHV-II's inclusion-exclusion meets inf - inf there; like the other kernels it answers +inf."""
    from nsganetv2.moo._hypervolume import hypervolume_kernel

    F = np.array([[-1e60] * 6, [-2e60, -1e60, -1e60, -1e60, -1e60, 0], [0, -2e60, -1e60, -1e60, -1e60, -1e60],
                  [-1e60, 0, -2e60, -1e60, -1e60, -1e60], [-1e60, -1e60, 0, -2e60, -1e60, -1e60]])
    ref = np.full(6, 1e60)
    assert hypervolume_kernel(F, ref, _path=path) == math.inf
    assert hypervolume(F, ref) == math.inf


def test_complex_points_and_references_are_refused_not_cut_to_their_real_part() -> None:
    from nsganetv2.moo.decision import asf
    from nsganetv2.moo.pymoo_plugins import HV

    F = np.array([[1.0, 2.0], [2.0, 1.0]])
    for fn in (hypervolume, hypervolume_contributions):
        with pytest.raises(ValueError, match=r"F holds complex numbers .*F\.real"):
            fn(F + 0j, [3.0, 3.0])
        for ref in (np.array([3.0 + 1j, 3.0]), [3.0 + 1j, 3.0], np.array([3.0, 3.0], dtype=np.complex64)):
            with pytest.raises(ValueError, match=r"ref holds complex numbers .*ref\.real"):
                fn(F, ref)
    with pytest.raises(ValueError, match="ref_point holds complex numbers"):
        HV(ref_point=[3.0 + 1j, 3.0])
    with pytest.raises(ValueError, match="weights holds complex numbers"):
        asf(F, [1.0 + 1j, 1.0])
    with pytest.raises(ValueError, match="utopian holds complex numbers"):
        asf(F, [1.0, 1.0], utopian=[0j, 0.0])
    assert hypervolume(F, np.array([3, 3])) == hypervolume(F, [3.0, 3.0]) == 3.0  # integer references still fine
