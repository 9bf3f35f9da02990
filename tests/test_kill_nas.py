"""Real SIGKILLs in a NAS search on mnist5k, DOE included: after each kill at most the evaluation in flight is done
again, and the resumed search ends with the same archive as an uninterrupted one."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from nsganetv2.search import read_records
from nsganetv2.supernet import OFAMobileNetV3Supernet, save_supernet

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from nsganetv2 import api
    from nsganetv2.evaluation import evaluator

    save, supernet, log = sys.argv[1], sys.argv[2], sys.argv[3]
    call = evaluator.SubnetEvaluator.__call__

    def logged(self, config, device="cpu"):  # every evaluation that starts, durably
        with open(log, "a") as f:
            f.write(json.dumps(config, sort_keys=True) + "\\n"); f.flush(); os.fsync(f.fileno())
        return call(self, config, device)

    evaluator.SubnetEvaluator.__call__ = logged
    s = api.SearchSettings(supernet_path=supernet, dataset="mnist5k", resolutions=[32, 40], vld_size=50, n_calib=50,
                           vld_batch_size=50, n_doe=10, iterations=2, n_iter=2, pop_size=6, n_gen=2,
                           predictor="carts", predictor_kwargs={"n_trees": 50}, progress=False, amp="off")
    if os.path.exists(os.path.join(save, "search.json")):
        api.resume(save, s, write_report=False)
    else:
        api.search(s, save, write_report=False)
""")


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.slow
def test_kills_during_a_nas_search_redo_at_most_the_evaluation_in_flight(tmp_path):
    torch.manual_seed(0)
    supernet = tmp_path / "supernet.pth"
    save_supernet(OFAMobileNetV3Supernet(n_classes=10), supernet)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def launch(save, log):
        return subprocess.Popen([sys.executable, str(script), str(save), str(supernet), str(log)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    ref_save, ref_log = tmp_path / "ref", tmp_path / "ref.log"
    ref = launch(ref_save, ref_log)
    assert ref.wait(timeout=600) == 0, ref.stderr.read()[-3000:]

    save, log = tmp_path / "killed", tmp_path / "killed.log"
    rng = np.random.default_rng(0)
    kills, in_doe, finished = 0, 0, False
    while kills < 10:
        started = len(_lines(log))
        proc = launch(save, log)
        deadline = time.time() + 300
        while proc.poll() is None and len(_lines(log)) < started + 1 and time.time() < deadline:
            time.sleep(0.02)  # an evaluation started in this process
        if proc.poll() is not None:
            finished = True
            break
        time.sleep(float(rng.uniform(0.0, 0.25)))  # anywhere in it (or in the next one)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        in_doe += not (save / "iter_0.stats").exists()
    if not finished:
        final = launch(save, log)
        assert final.wait(timeout=600) == 0, final.stderr.read()[-3000:]
    records = read_records(save / "archive.jsonl")
    starts = _lines(log)
    assert kills == 10 and in_doe >= 3
    assert len(records) == len(set(starts)) == 14  # 10 DOE + 2 x 2, each evaluated
    assert len(starts) - len(set(starts)) <= kills  # at most the evaluation in flight was redone per kill

    def table(recs):
        return sorted((r["key"], round(r["objectives"]["top1"], 9), r["objectives"]["flops"]) for r in recs)

    assert table(records) == table(read_records(ref_save / "archive.jsonl"))  # as if never killed
    assert json.loads((save / "iter_2.stats").read_text())["hv"] == pytest.approx(
        json.loads((ref_save / "iter_2.stats").read_text())["hv"])
