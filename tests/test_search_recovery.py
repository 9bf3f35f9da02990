"""A search folder survives what kills and disks do to it: torn or garbled archive lines, a lost iteration file, a
corrupt candidates file, temp files of interrupted writes; nothing finished is lost or evaluated twice."""
import json
import logging

import numpy as np
import pytest

from nsganetv2.search import MSuNAS, read_records, test_problem

SETTINGS = dict(n_doe=10, iterations=2, n_iter=3, predictor="carts", predictor_kwargs={"n_trees": 100}, seed=3,
                progress=False)


def _problem(calls):
    return test_problem("zdt1", n_var=5, on_evaluate=lambda x: calls.append(tuple(np.round(x, 12))))


@pytest.fixture
def finished(tmp_path):
    calls = []
    MSuNAS(_problem(calls), tmp_path / "s", **SETTINGS).run()
    return tmp_path / "s", calls


def _resume(save, calls, **kw):
    return MSuNAS.load(save, _problem(calls), **kw).run()


def test_a_torn_last_line_and_a_garbled_middle_line_are_recovered_not_lost(finished, caplog):
    save, _ = finished
    path = save / "archive.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    n = len(lines)
    lines[4] = b'{"key": "garbage\n'
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # torn last line, no newline
    calls = []
    with caplog.at_level(logging.WARNING):
        result = _resume(save, calls)
    assert calls == [] and len(result.records) == n  # nothing re-evaluated, nothing lost
    assert sum(bool(r.get("recovered")) for r in read_records(path)) == 2
    assert (save / "archive.jsonl.cut").read_bytes().startswith(b'{"key": "garbage')
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _resume(save, calls)
    assert "corrupt" not in caplog.text  # repaired once, not warned about at every start


def test_a_lost_iteration_file_is_rebuilt_from_that_iteration_and_before(finished):
    save, _ = finished
    before = json.loads((save / "iter_1.stats").read_text())
    (save / "iter_1.stats").unlink()
    (save / "iter_0.stats").unlink()
    calls = []
    _resume(save, calls)
    after = json.loads((save / "iter_1.stats").read_text())
    assert calls == []
    assert len(after["archive"]) == len(before["archive"]) == 13 and after["hv"] == pytest.approx(before["hv"])
    assert len(json.loads((save / "iter_0.stats").read_text())["archive"]) == 10


def test_a_corrupt_candidates_file_is_proposed_again_identically(finished):
    save, _ = finished
    calls = []
    search = MSuNAS.load(save, _problem(calls), iterations=3)
    asked = search.ask()
    search.tell(asked.X[:1], [float(asked.X[0][0])])  # one of iteration 3's candidates recorded, then a crash
    search.close()
    (save / "iter_3" / "candidates.json").write_text('{"genomes": [[0.1, 0')
    calls = []
    _resume(save, calls, iterations=3)
    assert (save / "iter_3" / "candidates.json.corrupt").exists()
    again = json.loads((save / "iter_3" / "candidates.json").read_text())["genomes"]
    np.testing.assert_allclose(again, asked.X)  # the same candidates, from the recorded seed and archive
    assert len(calls) == len(asked.X) - 1  # the recorded one is not evaluated again


def test_temp_files_of_interrupted_writes_are_removed_on_resume(finished):
    save, _ = finished
    stale = [save / ".archive.jsonl.x1y2.tmp", save / "iter_1" / ".net_0.stats.abc.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    _resume(save, [])
    assert not any(p.exists() for p in stale)
