"""The search archive: append-only JSONL with fsync, corrupt-line handling, atomic JSON writes."""
import json
import logging
import os

import numpy as np
import pytest

from nsganetv2.atomic import RawJSON, dumps, dumps_fields, write_json_atomic
from nsganetv2.search.archive import Archive, read_records


def _rec(i, status="ok", it=0):
    return {"key": f"k{i}", "genome": [i, i + 1], "config": {"i": i},
            "objectives": {"f1": float(i), "f2": float(10 - i)} if status == "ok" else None,
            "stats": {"n": np.int64(i), "v": np.float32(0.5)}, "iteration": it, "status": status,
            "error": None if status == "ok" else "boom"}


def test_append_reload_and_no_duplicate(tmp_path):
    path = tmp_path / "a" / "archive.jsonl"
    with Archive(path) as a:
        assert a.append(_rec(0)) is True
        assert a.append(_rec(1, "failed")) is True
        assert a.append(_rec(0)) is False  # same key: nothing written
        assert len(a) == 2 and "k0" in a and "k2" not in a
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    b = Archive(path)
    assert [r["key"] for r in b] == ["k0", "k1"]
    assert b.get("k1")["error"] == "boom" and b.get("k0")["stats"]["n"] == 0
    X, F = b.arrays(("f2", "f1"))
    assert X.tolist() == [[0, 1]] and F.tolist() == [[10.0, 0.0]]  # failures excluded, column order as asked


def test_record_needs_required_keys(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        Archive(tmp_path / "x.jsonl").append({"genome": [1]})


def test_corrupt_and_truncated_lines_reported_and_skipped(tmp_path, caplog):
    path = tmp_path / "archive.jsonl"
    with Archive(path) as a:
        for i in range(3):
            a.append(_rec(i))
    lines = path.read_text().splitlines()
    lines.insert(1, '{"key": "bad", "genome": [1, 2')  # corrupt line 2
    lines.insert(3, '[1, 2, 3]')  # valid JSON, not a record: line 4
    text = "\n".join(lines) + "\n" + dumps(_rec(7))[:25]  # truncated last line (line 6), no newline
    path.write_text(text)
    with caplog.at_level(logging.WARNING, logger="nsganetv2.search.archive"):
        recs = read_records(path)
    assert [r["key"] for r in recs] == ["k0", "k1", "k2"]
    msgs = " ".join(r.getMessage() for r in caplog.records)
    assert "line 2 " in msgs and "line 4 " in msgs and "line 6 " in msgs
    # appending after a truncated line starts a fresh line, so the new record is readable
    with Archive(path) as a:
        assert len(a) == 3
        a.append(_rec(8))
    caplog.clear()
    keys = [r["key"] for r in read_records(path)]
    assert keys == ["k0", "k1", "k2", "k8"]


def test_write_json_atomic_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "d" / "x.stats"
    write_json_atomic(path, {"a": np.arange(3), "b": np.float64(1.5)})
    assert json.loads(path.read_text()) == {"a": [0, 1, 2], "b": 1.5}
    write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})  # fails mid-way: the old file is intact
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.listdir(path.parent) == ["x.stats"]


def _fresh_columns(records, names):
    a = Archive()
    a.extend([dict(r) for r in records])
    return a.columns(names)


def test_columns_follow_appends_and_a_replaced_failure(tmp_path):
    """The arrays kept up to date as records come equal a conversion from scratch, after appends (one at a time and
    in batches) and after a failure is replaced by a success; select() orders by (iteration, index)."""
    names = ("f2", "f1")
    a = Archive(tmp_path / "archive.jsonl")
    recs = [dict(_rec(i, "failed" if i == 3 else "ok", it=2 - i % 3), index=5 - i) for i in range(6)]
    a.append(recs[0])
    first = a.columns(names)
    assert first.genomes.tolist() == [[0, 1]] and first.F.tolist() == [[10.0, 0.0]]
    a.extend(recs[1:4])
    a.append(recs[4])
    a.extend(recs[5:])
    for got in (a.columns(names), Archive(tmp_path / "archive.jsonl").columns(names)):
        want = _fresh_columns(recs, names)
        for field in ("genomes", "iteration", "index", "ok"):
            assert np.array_equal(getattr(got, field), getattr(want, field)), field
        assert np.array_equal(got.F, want.F, equal_nan=True)
    c = a.columns(names)
    assert c.ok.tolist() == [True, True, True, False, True, True] and np.isnan(c.F[3]).all()
    order = [(int(c.iteration[i]), int(c.index[i])) for i in c.select()]
    assert order == sorted(order) and len(order) == 5
    assert [int(c.iteration[i]) for i in c.select(upto=1)] == [0, 0, 1, 1]
    assert a.append(dict(_rec(3), iteration=1, index=2), replace_failed=True)
    c = a.columns(names)
    assert c.ok.all() and c.F[3].tolist() == [7.0, 3.0]
    X, F = a.arrays(names, iterations=(0,))
    assert X.tolist() == [[2, 3], [5, 6]] and F.tolist() == [[8.0, 2.0], [5.0, 5.0]]
    assert a.arrays(names, iterations=(7,))[1].shape == (0, 2)


def test_dumps_fields_writes_raw_parts_as_the_same_json():
    rows = [[{"ks": [3, 5]}, 1.5, np.float64(2.0)], [{"ks": [7]}, 0.25, 3]]
    obj = {"archive": rows, "hv": np.float32(0.5), "n": 2, "surrogate": None}
    raw = {**obj, "archive": RawJSON("[" + ", ".join(dumps(r) for r in rows) + "]")}
    assert dumps_fields(raw) == dumps(obj) == dumps_fields(obj)
    assert json.loads(dumps_fields(raw))["archive"] == json.loads(dumps(rows))
