"""The search archive: append-only JSONL with fsync, corrupt-line handling, atomic JSON writes."""
import json
import logging
import os

import numpy as np
import pytest

from nsganetv2.atomic import dumps, write_json_atomic
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
